"""Per-molecule test predictions of the baseline and the model, as one table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from molprop.models.predictor import Predictions
from molprop.schema import MOL_ID, SMILES, TARGET

MODELS = ("baseline", "model")


def prediction_table(
    test: pd.DataFrame, predictions: dict[str, Predictions], task: str
) -> pd.DataFrame:
    """mol_id, smiles, measured y, and per model: the prediction, its member spread and error.

    Regression: ``<name>`` is the predicted value and ``<name>_error`` the absolute error.
    Classification: ``<name>`` is the predicted class, ``<name>_p<k>`` the class probabilities
    and ``<name>_error`` is 1 - probability of the measured class.
    """
    table = test[[MOL_ID, SMILES, TARGET]].reset_index(drop=True).copy()
    y = table[TARGET].to_numpy()
    for name, pred in predictions.items():
        mean, spread = pred.mean, pred.spread
        if task == "classification":
            table[name] = mean.argmax(axis=1)
            for k in range(mean.shape[1]):
                table[f"{name}_p{k}"] = mean[:, k]
            table[f"{name}_error"] = 1.0 - mean[np.arange(len(y)), y.astype(int)]
        else:
            table[name] = mean
            table[f"{name}_spread"] = spread
            table[f"{name}_error"] = np.abs(mean - y)
    return table


def plot_table(table: pd.DataFrame) -> pd.DataFrame:
    """Predicted-vs-measured points for a DVC scatter plot (columns measured, baseline, model)."""
    out = pd.DataFrame({"measured": table[TARGET]})
    for name in MODELS:
        out[name] = table[name]
    return out.round(6)
