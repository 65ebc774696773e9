"""SHAP values (TreeExplainer, exact for tree ensembles) of a saved random-forest baseline."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molprop.models.store import load_card, load_sklearn_member


@dataclass
class ShapExplanation:
    """Per-molecule, per-feature contributions to the explained output.

    ``base[i] + values[i].sum() == output[i]``: the output is the ensemble prediction
    (regression, target units) or the ensemble probability of the class ``explained_class[i]``
    the ensemble predicts (classification). ``features`` holds the feature values the first
    member saw (after imputation), for the direction of each feature's effect.
    """

    columns: list[str]
    values: np.ndarray  # (n, n_features)
    base: np.ndarray  # (n,)
    output: np.ndarray  # (n,)
    features: np.ndarray  # (n, n_features)
    explained_class: np.ndarray | None = None  # (n,) class index, classification only


def _member_shap(forest, x: np.ndarray, classification: bool, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(values (n, f[, K]), base ([K])) of one member, classes in the model's class order."""
    with warnings.catch_warnings():  # shap's colour maps use matplotlib calls it deprecates
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    explainer = shap.TreeExplainer(forest)
    values = np.asarray(explainer.shap_values(x, check_additivity=False), dtype=np.float64)
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    if not classification:
        return values.reshape(len(x), -1), base[:1]
    full_values = np.zeros((len(x), x.shape[1], n_classes))
    full_base = np.zeros(n_classes)
    seen = forest.classes_.astype(int)  # a member may not have seen every class
    full_values[:, :, seen], full_base[seen] = values.reshape(len(x), x.shape[1], len(seen)), base
    return full_values, full_base


def forest_shap(model_dir: str | Path, features: pd.DataFrame) -> ShapExplanation:
    """Exact TreeSHAP values of every member on ``features`` (a data/features.parquet-like
    table), averaged over members (the ensemble is the members' mean)."""
    model_dir = Path(model_dir)
    card = load_card(model_dir)
    if card.kind != "sklearn":
        raise ValueError(f"{model_dir}: SHAP for tree models needs a scikit-learn model, not {card.kind!r}")
    classification = card.task == "classification"
    values, bases, first_x, columns = [], [], None, None
    for member in card.members:
        forest, prep = load_sklearn_member(model_dir / member)
        if columns is not None and prep.columns != columns:
            raise ValueError(f"{model_dir}/{member} uses other feature columns than the first member")
        x = prep.transform(features)
        member_values, member_base = _member_shap(forest, x, classification, len(card.classes))
        values.append(member_values)
        bases.append(member_base)
        first_x, columns = (x, prep.columns) if first_x is None else (first_x, columns)
    mean_values, mean_base = np.mean(values, axis=0), np.mean(bases, axis=0)
    if not classification:
        return ShapExplanation(columns, mean_values, np.full(len(features), mean_base[0]),
                               mean_base[0] + mean_values.sum(axis=1), first_x)
    proba = mean_base[None, :] + mean_values.sum(axis=1)  # (n, K) ensemble probabilities
    chosen = proba.argmax(axis=1)
    rows = np.arange(len(features))
    return ShapExplanation(columns, mean_values[rows, :, chosen], mean_base[chosen],
                           proba[rows, chosen], first_x, chosen)


def shap_importance(explanation: ShapExplanation) -> pd.DataFrame:
    """Global importance: mean |SHAP| per feature, most important first, with ``direction``:
    the correlation of a feature's value with its SHAP value (+: a larger value raises the
    output; NaN when either is constant over the molecules)."""
    values, x = explanation.values, explanation.features
    centred_v, centred_x = values - values.mean(axis=0), x - x.mean(axis=0)
    denom = np.sqrt((centred_v**2).sum(axis=0) * (centred_x**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        direction = np.where(denom > 0, (centred_v * centred_x).sum(axis=0) / denom, np.nan)
    table = pd.DataFrame({"feature": explanation.columns, "mean_abs_shap": np.abs(values).mean(axis=0),
                          "direction": direction})
    return table.sort_values(["mean_abs_shap", "feature"], ascending=[False, True], ignore_index=True)
