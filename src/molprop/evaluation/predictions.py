"""Per-molecule test predictions of the baseline and the model, as one table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from molprop.models.predictor import Predictions
from molprop.schema import MOL_ID, SMILES, TARGET

MODELS = ("baseline", "model")


def per_molecule_error(task: str, y: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Regression: absolute error. Classification: 1 - predicted probability of the measured
    class (``mean`` holds the (n, K) class probabilities)."""
    if task == "classification":
        return 1.0 - mean[np.arange(len(y)), np.asarray(y, dtype=int)]
    return np.abs(mean - np.asarray(y, dtype=float))


def prediction_table(
    test: pd.DataFrame, predictions: dict[str, Predictions], task: str
) -> pd.DataFrame:
    """mol_id, smiles, measured y, and per model: the prediction, its member spread and error.

    Regression: ``<name>`` is the predicted value, ``<name>_spread`` the standard deviation
    over members, ``<name>_uncertainty`` the calibrated one (spread x the model's uncertainty
    scale) and ``<name>_error`` the absolute error.
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
        else:
            table[name] = mean
            table[f"{name}_spread"] = spread
            table[f"{name}_uncertainty"] = pred.uncertainty
        table[f"{name}_error"] = per_molecule_error(task, y, mean)
    return table


def plot_table(table: pd.DataFrame) -> pd.DataFrame:
    """Predicted-vs-measured points for a DVC scatter plot (columns measured, baseline, model)."""
    out = pd.DataFrame({"measured": table[TARGET]})
    for name in MODELS:
        out[name] = table[name]
    return out
