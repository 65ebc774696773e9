"""Calibration of an ensemble's spread into a predictive standard deviation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from molprop.evaluation.metrics import score

MIN_SPREAD = 1e-8


def spread_scale(y: np.ndarray, mean: np.ndarray, spread: np.ndarray) -> float | None:
    """The factor ``s`` making ``N(mean, (s * spread)^2)`` most likely for the measured ``y``:
    ``s = sqrt(mean(((y - mean) / spread)^2))`` over molecules with a non-zero spread.

    None when it cannot be fitted (fewer than 2 usable molecules, or no spread at all, as with
    a single member)."""
    y, mean, spread = (np.asarray(a, dtype=float).ravel() for a in (y, mean, spread))
    usable = spread > MIN_SPREAD
    if usable.sum() < 2:
        return None
    z = (y[usable] - mean[usable]) / spread[usable]
    return float(np.sqrt(np.mean(z**2)))


def ensemble_validation(val_rows: Mapping[str, np.ndarray], predictions: Mapping[str, Sequence[np.ndarray]],
                        y: np.ndarray, task: str) -> dict:  # fmt: skip
    """Validation scores of each partition's ensemble (the mean of its members' predictions
    for the partition's ``val_rows`` of ``y``), keys prefixed ``<partition>_`` when there are
    several, and ``uncertainty_scale``: for regression, the :func:`spread_scale` fitted on the
    validation molecules of every partition with more than one member (else None)."""
    out: dict = {}
    ys, means, spreads = [], [], []
    for name, preds in predictions.items():
        stacked = np.stack(preds)
        val_y = np.asarray(y)[val_rows[name]]
        prefix = "" if len(predictions) == 1 else f"{name}_"
        out |= {f"{prefix}val_{k}": v for k, v in score(task, val_y, stacked.mean(axis=0)).items()}
        if task == "regression" and len(preds) > 1:
            ys.append(val_y), means.append(stacked.mean(axis=0)), spreads.append(stacked.std(axis=0))
    out["uncertainty_scale"] = (spread_scale(np.concatenate(ys), np.concatenate(means), np.concatenate(spreads))
                                if ys else None)
    return out
