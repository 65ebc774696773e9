"""A saved scikit-learn baseline loaded once for explaining: its members, how each kind is
explained (TreeSHAP, linear SHAP or permutations) and its ensemble output on raw features."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molprop.errors import UserInputError
from molprop.models.estimators import predict_member
from molprop.models.matrix import Preprocessor
from molprop.models.predictor import load_member
from molprop.models.store import ModelCard, load_card

TREE_TYPES = ("RandomForestRegressor", "RandomForestClassifier", "ExtraTreesRegressor", "ExtraTreesClassifier",
              "HistGradientBoostingRegressor", "HistGradientBoostingClassifier")
LINEAR_TYPES = ("Ridge", "LinearRegression", "LogisticRegression")
# Classifiers whose exact SHAP values are in raw-score (log-odds) space, not probabilities.
RAW_SCORE_TYPES = ("HistGradientBoostingClassifier", "LogisticRegression")
NAMES = {"RandomForest": "random forest", "ExtraTrees": "extra trees",
         "HistGradientBoosting": "histogram gradient boosting", "Ridge": "ridge regression",
         "LinearRegression": "linear regression", "LogisticRegression": "logistic regression",
         "TanimotoKNN": "k-NN on Tanimoto similarity"}
METHODS = {"tree": "TreeSHAP", "linear": "linear SHAP", "permutation": "permutation importance"}
_CHUNK_ROWS = 20_000  # rows predicted at once (bounds memory)


def explainer_kind(estimator: Any) -> str:
    """``tree`` (exact TreeSHAP), ``linear`` (exact linear SHAP) or ``permutation`` (any
    other model: explained through its predictions alone)."""
    name = type(estimator).__name__
    if name in TREE_TYPES:
        return "tree"
    if name in LINEAR_TYPES:
        return "linear"
    return "permutation"


def model_name(estimator: Any) -> str:
    """A reader's name of the estimator kind ("random forest", "ridge regression"...)."""
    name = type(estimator).__name__
    return next((v for k, v in NAMES.items() if name.startswith(k)), name)


@dataclass
class SklearnModel:
    """A saved baseline: its card and (estimator, preprocessing) per member, all members of one
    kind on the same feature columns. Loading a large forest takes a while: load once, reuse."""

    card: ModelCard
    members: list[tuple[Any, Preprocessor]]

    @property
    def columns(self) -> list[str]:
        return self.members[0][1].columns

    @property
    def kind(self) -> str:
        return explainer_kind(self.members[0][0])

    @property
    def method(self) -> str:
        return METHODS[self.kind]

    @property
    def name(self) -> str:
        return model_name(self.members[0][0])

    @property
    def classification(self) -> bool:
        return self.card.task == "classification"

    @property
    def log_odds(self) -> bool:
        """Whether SHAP explains the log-odds of the predicted class (gradient boosting and
        logistic regression: the exact methods work on their raw scores), not its probability."""
        return type(self.members[0][0]).__name__ in RAW_SCORE_TYPES

    def output_name(self) -> str:
        """What the explanations add up to, for axis labels and notes."""
        if not self.classification:
            return "prediction"
        if not self.log_odds:
            return "probability of the predicted class"
        # the members' log-odds are averaged, not those of the averaged probabilities; with three
        # or more classes they are taken against the mean of the others (no log-odds of p / (1 - p))
        against = " against the others (log p minus the mean log p of the other classes)" \
            if len(self.card.classes) > 2 else ""
        return f"log-odds of the predicted class{against}" + (" (mean over members)" if len(self.members) > 1 else "")

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Ensemble output: mean member prediction (n,), or mean class probabilities (n, K)."""
        n_classes = len(self.card.classes)
        return np.mean([predict_member(est, prep, features, self.card.task, n_classes)
                        for est, prep in self.members], axis=0)

    def predict_array(self, x: np.ndarray) -> np.ndarray:
        """:meth:`predict` on a raw feature matrix whose columns are :attr:`columns`."""
        parts = [self.predict(pd.DataFrame(x[start:start + _CHUNK_ROWS], columns=self.columns, copy=False))
                 for start in range(0, len(x), _CHUNK_ROWS)]
        return np.concatenate(parts) if parts else np.zeros((0,))


def load_sklearn_model(model_dir: str | Path) -> SklearnModel:
    """Load every member of a saved scikit-learn baseline; error if they differ in kind or columns."""
    model_dir = Path(model_dir)
    card = load_card(model_dir)
    if card.kind != "sklearn":
        raise ValueError(f"{model_dir}: expected a scikit-learn baseline, found a {card.kind!r} model")
    members = [load_member(model_dir, card, member) for member in card.members]
    for member, (estimator, prep) in zip(card.members[1:], members[1:]):
        if prep.columns != members[0][1].columns or type(estimator) is not type(members[0][0]):
            raise UserInputError(f"{model_dir}/{member} differs from {card.members[0]} in estimator type or "
                             "feature columns; re-run the baseline stage")
    return SklearnModel(card, members)


def predicted_classes(model: SklearnModel, features: pd.DataFrame) -> np.ndarray | None:
    """Class index the ensemble predicts per row (classification), or None (regression)."""
    return model.predict(features).argmax(axis=1) if model.classification else None


def direction_signs(model: SklearnModel, chosen: np.ndarray | None, n: int) -> np.ndarray | None:
    """Per explained molecule, the sign that turns a contribution to its explained output into
    one toward class 1: all +1 for regression; with two classes -1 where class 0 is explained
    (its probability is 1 minus class 1's, its log-odds the negative), so that one direction
    holds for every molecule; None for three or more classes (no one class to point to)."""
    if chosen is None:
        return np.ones(n)
    if len(model.card.classes) != 2:
        return None
    return np.where(np.asarray(chosen) == 1, 1.0, -1.0)


def direction_of(model: SklearnModel) -> str | None:
    """What a positive direction raises: the prediction, class 1's probability or log-odds
    (two classes), or None (three or more classes: no direction)."""
    name = model.output_name()
    if not model.classification:
        return name
    if len(model.card.classes) != 2:
        return None
    return name.replace("the predicted class", f"class '{model.card.classes[1]}'")
