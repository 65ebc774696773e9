"""Tables behind the evaluate stage's DVC plots (plots/*.csv)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

RESIDUAL_COLUMNS = ["predicted", "residual"]
CALIBRATION_COLUMNS = ["expected", "observed"]


def residual_table(task: str, y: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    """Regression residual (predicted - measured) against the prediction; classification:
    no rows (residuals are not defined for classes)."""
    if task == "classification":
        return pd.DataFrame(columns=RESIDUAL_COLUMNS)
    pred = np.asarray(pred, dtype=float)
    return pd.DataFrame({"predicted": pred, "residual": pred - np.asarray(y, dtype=float)})


def similarity_table(similarity: np.ndarray, errors: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Each test molecule's max similarity to the training set and each model's error,
    by increasing similarity."""
    table = pd.DataFrame({"similarity": np.asarray(similarity, dtype=float)})
    for name, error in errors.items():
        table[name] = np.asarray(error, dtype=float)
    return table.sort_values(["similarity", *errors], kind="stable", ignore_index=True)


def empty_calibration() -> pd.DataFrame:
    """Header-only calibration table (a model without a usable uncertainty)."""
    return pd.DataFrame(columns=CALIBRATION_COLUMNS)
