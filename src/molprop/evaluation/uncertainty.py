"""Quality of predicted uncertainty (regression) and of predicted probabilities (classification).

Regression: a prediction with standard deviation σ is read as a Gaussian; its central
interval at level p is ±z·σ with z = Φ⁻¹((1 + p) / 2). Classification: a reliability curve of
the class-1 probability (two classes) or of the top-class confidence (more classes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from molprop.evaluation import weighted
from molprop.evaluation.bootstrap import BootstrapConfig, bootstrap, interval

LEVELS = (np.arange(100) + 0.5) / 100  # midpoints of [0, 1]: grid of the miscalibration area
CURVE_LEVELS = np.round(np.arange(1, 20) * 0.05, 2)  # 0.05 ... 0.95: the plotted calibration
REGRESSION_KEYS = ("spread_error_spearman", "coverage", "miscalibration_area")


# Why a model's spread cannot be judged (metrics/uncertainty.json's "reason": a short code that
# `dvc metrics show` and `dvc metrics diff` can show in a column), and what each code means.
UNAVAILABLE = {
    "one_member": ("no spread between members to use as an uncertainty; an ensemble "
                   "(train.ensemble_size: the network) or k-fold (split.n_folds: both models) gives one"),
    "non_finite": "the uncertainty has NaN or infinite values",
    "zero_spread": "the members predict identical values: the spread is 0 for every molecule",
}


def unavailable_reason(sigma: np.ndarray, n_members: int) -> str | None:
    """Why ``sigma`` cannot be judged as an uncertainty (a key of ``UNAVAILABLE``), or None
    when it can."""
    if n_members < 2:
        return "one_member"
    if not np.all(np.isfinite(sigma)):
        return "non_finite"
    if np.all(sigma == 0):
        return "zero_spread"
    return None


def observed_coverage(abs_error: np.ndarray, sigma: np.ndarray, levels: np.ndarray,
                      weights: np.ndarray) -> np.ndarray:
    """(B, L) share of molecules whose error lies inside the central interval of each level."""
    z = norm.ppf(0.5 + np.asarray(levels, dtype=float) / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # σ = 0: inside only if error is 0
        ratio = np.where(np.asarray(abs_error) == 0, 0.0, np.asarray(abs_error) / np.asarray(sigma))
    order = np.argsort(ratio, kind="stable")
    within = np.searchsorted(ratio[order], z, side="right")  # molecules with ratio <= z
    cumulative = np.concatenate([np.zeros((len(weights), 1)), np.cumsum(weights[:, order], axis=1)],
                                axis=1)
    return cumulative[:, within] / cumulative[:, -1:]


def regression_statistics(abs_error: np.ndarray, sigma: np.ndarray, level: float,
                          weights: np.ndarray) -> dict[str, np.ndarray]:
    """Per weighted sample: Spearman(σ, |error|), coverage of the ``level`` interval and the
    miscalibration area (mean |observed - nominal| coverage over levels in (0, 1))."""
    curve = observed_coverage(abs_error, sigma, LEVELS, weights)
    return {
        "spread_error_spearman": weighted.spearman(sigma, abs_error, weights),
        "coverage": observed_coverage(abs_error, sigma, np.array([level]), weights)[:, 0],
        "miscalibration_area": np.abs(curve - LEVELS).mean(axis=1),
    }


def regression_report(abs_error: np.ndarray, sigma: np.ndarray, n_members: int,
                      scale: float | None, level: float, config: BootstrapConfig,
                      floor: float | None = None) -> dict:
    """Uncertainty metrics with bootstrap intervals; the metrics None and a ``reason`` (a key
    of ``UNAVAILABLE``) when the model has no usable uncertainty."""
    reason = unavailable_reason(sigma, n_members)
    if reason is not None:
        return dict.fromkeys(REGRESSION_KEYS) | {"reason": reason}
    ones = np.ones((1, len(abs_error)))
    point = {k: float(v[0]) for k, v in regression_statistics(abs_error, sigma, level, ones).items()}
    samples = bootstrap(lambda c: regression_statistics(abs_error, sigma, level, c),
                        len(abs_error), config)
    out: dict = dict(point)
    for key in point:
        low, high = interval(samples[key], config.confidence)
        out[f"{key}_ci"] = {"low": low, "high": high}
    out |= {"coverage_level": level, "mean_uncertainty": float(np.mean(sigma)), "uncertainty_scale": scale,
            "uncertainty_floor": floor}
    if scale is None:  # e.g. split.fractions.val 0, or one member per fold
        out["note"] = "not_calibrated"  # the figures judge the raw member spread
    return out


def regression_curve(abs_error: np.ndarray, sigma: np.ndarray) -> pd.DataFrame:
    """Calibration curve: nominal level (expected) vs observed coverage, 0.05 ... 0.95."""
    observed = observed_coverage(abs_error, sigma, CURVE_LEVELS, np.ones((1, len(sigma))))[0]
    return pd.DataFrame({"expected": CURVE_LEVELS, "observed": observed})


def confidence_outcome(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The probability judged for calibration and whether its event happened: P(class 1) and
    y == 1 for two classes, else the top-class probability and whether that class is right."""
    y = np.asarray(y, dtype=np.int64)
    if proba.shape[1] == 2:
        return proba[:, 1], (y == 1).astype(float)
    return proba.max(axis=1), (proba.argmax(axis=1) == y).astype(float)


def _bins(prob: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width probability bin of each value (1.0 falls in the last bin)."""
    return np.minimum((prob * n_bins).astype(np.int64), n_bins - 1)


def calibration_error(y: np.ndarray, proba: np.ndarray, n_bins: int,
                      weights: np.ndarray) -> np.ndarray:
    """Expected calibration error per weighted sample: Σ over bins of the bin's share times
    |observed frequency - mean predicted probability|."""
    prob, outcome = confidence_outcome(y, proba)
    onehot = np.eye(n_bins)[_bins(prob, n_bins)]
    gap = weights @ (onehot * (outcome - prob)[:, None])
    return np.abs(gap).sum(axis=1) / weights.sum(axis=1)


def classification_report(y: np.ndarray, proba: np.ndarray, n_bins: int,
                          config: BootstrapConfig) -> dict:
    """Expected calibration error of the predicted probabilities with its bootstrap interval."""
    point = float(calibration_error(y, proba, n_bins, np.ones((1, len(y))))[0])
    samples = bootstrap(lambda c: {"ece": calibration_error(y, proba, n_bins, c)}, len(y), config)
    low, high = interval(samples["ece"], config.confidence)
    return {"expected_calibration_error": point,
            "expected_calibration_error_ci": {"low": low, "high": high}, "calibration_bins": n_bins}


def classification_curve(y: np.ndarray, proba: np.ndarray, n_bins: int) -> pd.DataFrame:
    """Reliability curve: mean predicted probability (expected) vs observed frequency per
    non-empty equal-width bin, with the number of molecules in the bin."""
    prob, outcome = confidence_outcome(y, proba)
    bins = _bins(prob, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    used = count > 0
    expected = np.bincount(bins, weights=prob, minlength=n_bins)[used] / count[used]
    observed = np.bincount(bins, weights=outcome, minlength=n_bins)[used] / count[used]
    return pd.DataFrame({"expected": expected, "observed": observed, "count": count[used]})
