"""Calibration of an ensemble's spread into a predictive standard deviation."""

from __future__ import annotations

import numpy as np

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
