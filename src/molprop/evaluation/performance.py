"""Test-set performance of each model with bootstrap intervals, and a paired model comparison."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from molprop.evaluation import weighted
from molprop.evaluation.bootstrap import (BootstrapConfig, bootstrap, interval, p_value, rank_biserial,
                                          wilcoxon_p_value)
from molprop.evaluation.metrics import score


# Under this share of resamples defining a metric (the others lacking a class of the test
# part), its interval and p-value would describe the few resamples that hold the rare class.
MIN_DEFINED_SHARE = 0.5


def _defined(values: np.ndarray) -> tuple[int, bool]:
    """How many resamples define the metric, and whether that is enough for an interval."""
    n = int(np.count_nonzero(~np.isnan(values)))
    return n, n >= MIN_DEFINED_SHARE * len(values)


def _ci(values: np.ndarray, confidence: float) -> dict[str, float]:
    """Percentile interval (NaN under MIN_DEFINED_SHARE defined resamples), with their
    number where some, not all, resamples leave the metric undefined (none: no resampling)."""
    n, enough = _defined(values)
    low, high = interval(values, confidence) if enough else (float("nan"), float("nan"))
    return {"low": low, "high": high} | ({"n_resamples_defined": n} if 0 < n < len(values) else {})


def performance_report(task: str, y: np.ndarray, predictions: Mapping[str, np.ndarray],
                       errors: Mapping[str, np.ndarray], config: BootstrapConfig,
                       compare: tuple[str, str] | None = ("model", "baseline")) -> dict:
    """Per model ``<name>``: the task's metrics and ``<name>_ci`` (their bootstrap intervals).

    With ``compare = (a, b)``: ``<a>_vs_<b>``, a paired comparison on the same molecules and
    the same resamples: per metric the difference a - b with its interval and paired-bootstrap
    p-value; the mean of the per-molecule ``errors`` differences with its paired-bootstrap
    interval and p-value; and the Wilcoxon signed-rank p-value on them with its rank-biserial
    correlation (its direction: negative when ``a`` errs less).
    """
    y = np.asarray(y)

    paired = compare is not None and set(compare) <= set(predictions)
    diff = np.asarray(errors[compare[0]], dtype=float) - np.asarray(errors[compare[1]], dtype=float) \
        if paired else None

    def statistic(counts: np.ndarray) -> dict[str, np.ndarray]:
        ranks = weighted.average_ranks(y, counts) if task == "regression" else None
        out = {}
        for name, pred in predictions.items():
            metrics = weighted.score(task, y, pred, counts, ranks)
            out |= {f"{name}/{k}": v for k, v in metrics.items()}
        if diff is not None:  # counts: (resamples, n) or (n,)
            out["mean_error_difference"] = (counts @ diff) / counts.sum(axis=-1)
        return out

    samples = bootstrap(statistic, len(y), config)
    report: dict = {}
    for name, pred in predictions.items():
        report[name] = score(task, y, pred)
        report[f"{name}_ci"] = {k: _ci(samples[f"{name}/{k}"], config.confidence)
                                for k in report[name]}
    if not paired:
        return report
    a, b = compare
    differences = {}
    for key in report[a]:
        observed = report[a][key] - report[b][key]
        resampled = samples[f"{a}/{key}"] - samples[f"{b}/{key}"]
        differences[key] = {"value": observed, **_ci(resampled, config.confidence),
                            "p_value": p_value(resampled, observed) if _defined(resampled)[1] else float("nan")}
    report[f"{a}_vs_{b}"] = {
        "difference": differences,
        "wilcoxon_p_value": wilcoxon_p_value(errors[a], errors[b]),
        "mean_error_difference": float(diff.mean()),
        "mean_error_difference_ci": _ci(samples["mean_error_difference"], config.confidence),
        "mean_error_difference_p_value": p_value(samples["mean_error_difference"], float(diff.mean())),
        "rank_biserial": rank_biserial(errors[a], errors[b]),
        f"n_{a}_better": int(np.sum(diff < 0)),
        f"n_{b}_better": int(np.sum(diff > 0)),
    }
    return report
