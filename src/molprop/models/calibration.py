"""Calibration of an ensemble's spread into a predictive standard deviation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from molprop.evaluation.metrics import score

MIN_SPREAD = 1e-8  # of the residuals' RMS: a spread below it is none (a single member's)


def spread_calibration(y: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> tuple[float, float] | None:
    """``(scale, floor)`` making ``N(mean, (scale * spread)^2 + floor^2)`` most likely for the
    measured ``y`` (maximum likelihood over a log-spaced grid, refined twice around the best).

    The floor keeps a molecule on which the few members agree by chance (a spread near 0, so
    a huge error-to-spread ratio) from deciding the scale: fitted on the scale alone, one such
    validation molecule made FreeSolv's scale 17.8 (90% intervals covering 98%) and a k-fold
    run's 397. ``floor`` 0 is the scale-only fit. None when nothing can be fitted (fewer than
    2 molecules with a spread, as with a single member)."""
    y, mean, spread = (np.asarray(a, dtype=float).ravel() for a in (y, mean, spread))
    keep = np.isfinite(y) & np.isfinite(mean) & np.isfinite(spread)
    residual, spread = (y - mean)[keep], spread[keep]
    rms = float(np.sqrt(np.mean(residual**2))) if residual.size else 0.0
    spread_seen = spread > MIN_SPREAD * rms  # relative: targets around 1e-9 had no calibration at all
    if spread_seen.sum() < 2:
        return None
    rms = rms or 1.0
    typical = float(np.median(spread[spread_seen]))
    scales = rms / typical * np.exp(np.linspace(-7.0, 7.0, 57))
    floors = np.concatenate([[0.0], rms * np.exp(np.linspace(-9.0, 1.0, 41))])
    for _ in range(3):  # the grid, then finer grids around its best point
        scale, floor = _best_on_grid(residual, spread, scales, floors)
        step_s, step_f = np.log(scales[1] / scales[0]), np.log(floors[2] / floors[1])
        scales = scale * np.exp(np.linspace(-step_s, step_s, 21))
        floors = (np.concatenate([[0.0], rms * np.exp(np.linspace(-9.0, -8.0, 5))]) if floor == 0.0
                  else floor * np.exp(np.linspace(-step_f, step_f, 21)))
    return float(scale), float(floor)


def _best_on_grid(residual: np.ndarray, spread: np.ndarray, scales: np.ndarray,
                  floors: np.ndarray) -> tuple[float, float]:
    """The (scale, floor) of the grid with the lowest mean Gaussian negative log-likelihood."""
    best, found = np.inf, (float(scales[0]), float(floors[0]))
    for floor in floors:
        variance = (scales[:, None] * spread[None, :]) ** 2 + floor**2  # (n_scales, n_molecules)
        with np.errstate(divide="ignore", invalid="ignore"):
            nll = np.mean(np.log(variance) + residual[None, :] ** 2 / variance, axis=1)
        nll = np.where(np.isfinite(nll), nll, np.inf)
        k = int(np.argmin(nll))
        if nll[k] < best:
            best, found = float(nll[k]), (float(scales[k]), float(floor))
    return found


def ensemble_validation(val_rows: Mapping[str, np.ndarray], predictions: Mapping[str, Sequence[np.ndarray]],
                        y: np.ndarray, task: str) -> dict:  # fmt: skip
    """Validation scores of each partition's ensemble (the mean of its members' predictions
    for the partition's ``val_rows`` of ``y``), keys prefixed ``<partition>_`` when there are
    several, plus then the unprefixed scores of all partitions' validation rows pooled (k-fold:
    out-of-fold, comparable with a single split's), and ``uncertainty_scale`` and
    ``uncertainty_floor``: for regression, the
    :func:`spread_calibration` fitted on the validation molecules of every partition with more
    than one member (else None)."""
    out: dict = {}
    ys, means, spreads, pooled_y, pooled_mean = [], [], [], [], []
    for name, preds in predictions.items():
        stacked = np.stack(preds)
        val_y, mean = np.asarray(y)[val_rows[name]], stacked.mean(axis=0)
        prefix = "" if len(predictions) == 1 else f"{name}_"
        out |= {f"{prefix}val_{k}": v for k, v in score(task, val_y, mean).items()}
        pooled_y.append(val_y), pooled_mean.append(mean)
        if task == "regression" and len(preds) > 1:
            ys.append(val_y), means.append(mean), spreads.append(stacked.std(axis=0))
    if len(predictions) > 1 and sum(map(len, pooled_y)):
        out |= {f"val_{k}": v for k, v in score(task, np.concatenate(pooled_y), np.concatenate(pooled_mean)).items()}
    fitted = spread_calibration(np.concatenate(ys), np.concatenate(means), np.concatenate(spreads)) if ys else None
    out["uncertainty_scale"], out["uncertainty_floor"] = fitted if fitted is not None else (None, None)
    return out


def flat_uncertainty_warning(predictions: Mapping[str, Sequence[np.ndarray]], scale: float | None,
                             floor: float | None) -> str | None:
    """A warning when the calibrated uncertainty is about the same for every molecule: the
    members' scaled spread at its median is under a third of the floor, so the validation part
    gave the spread hardly any weight (small or unlike the test part, or members that agree
    everywhere). None when the spread matters, or without a calibration."""
    if not scale or not floor:
        return None
    spreads = [np.stack(preds).std(axis=0) for preds in predictions.values() if len(preds) > 1]
    if not spreads:
        return None
    typical = scale * float(np.median(np.concatenate(spreads)))
    if typical >= floor / 3:
        return None
    at_median = float(np.hypot(floor, typical))
    return (f"the calibrated uncertainty is about the same for every molecule (+-{floor:.3g} at no spread, "
            f"+-{at_median:.3g} at the members' median spread): on the validation part the spread did not "
            "tell good predictions from bad ones. A larger validation part (split.fractions.val) or more "
            "members (train.ensemble_size) may help; until then read the uncertainty as one figure for all.")
