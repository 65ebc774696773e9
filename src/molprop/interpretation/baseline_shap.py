"""SHAP values of a saved scikit-learn baseline of any kind, per original feature column:
exact TreeSHAP (forests, gradient boosting), exact linear SHAP (ridge, logistic regression),
or permutation estimates (any other model, e.g. k-NN on Tanimoto similarity)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from molprop.errors import UserInputError
from molprop.interpretation.baseline_model import SklearnModel, load_sklearn_model, predicted_classes
from molprop.interpretation.member_shap import class_contributions, linear_member_shap, tree_member_shap
from molprop.interpretation.permutation import PermutationConfig, permutation_shap


@dataclass
class ShapExplanation:
    """Per-molecule, per-feature contributions to the explained output.

    ``base[i] + values[i].sum() == output[i]``. The output is the ensemble prediction
    (regression, target units) or, for the class ``explained_class[i]`` the ensemble
    predicts, its probability (forests, permutations) or log-odds (members' mean; gradient
    boosting and logistic regression), as ``output_name`` says. ``features`` holds the values
    the first member saw (after imputation and scaling), for the direction of each feature's
    effect. ``method``: "TreeSHAP", "linear SHAP" or "permutation SHAP".
    """

    columns: list[str]
    values: np.ndarray  # (n, n_features)
    base: np.ndarray  # (n,)
    output: np.ndarray  # (n,)
    features: np.ndarray  # (n, n_features)
    explained_class: np.ndarray | None = None  # (n,) class index, classification only
    method: str = "TreeSHAP"
    output_name: str = "prediction"

    def take(self, positions: np.ndarray) -> "ShapExplanation":
        """The explanation of the molecules at ``positions`` (each row's values depend on
        that molecule alone, so a subset equals a fresh computation on those molecules)."""
        pick = np.asarray(positions, dtype=np.int64)
        return replace(self, values=self.values[pick], base=self.base[pick], output=self.output[pick],
                       features=self.features[pick],
                       explained_class=None if self.explained_class is None else self.explained_class[pick])


def baseline_shap(model: SklearnModel | str | Path, features: pd.DataFrame,
                  reference: pd.DataFrame | None = None, permutation: PermutationConfig | None = None,
                  seed: int = 0) -> ShapExplanation:
    """SHAP values of every member on ``features`` (a data/features.parquet-like table),
    averaged over members (the ensemble is the members' mean). ``reference``: the non-test
    molecules, training and validation (the base of linear SHAP, the background of permutation
    SHAP; not needed for trees); ``permutation`` and ``seed``: settings of permutation SHAP."""
    model = model if isinstance(model, SklearnModel) else load_sklearn_model(model)
    chosen = predicted_classes(model, features)
    first_x = model.members[0][1].transform(features).astype(np.float64)
    if model.kind == "permutation":
        if reference is None:
            raise ValueError(f"permutation SHAP of the {model.name} needs reference molecules")
        values, base, output = permutation_shap(model, features, reference, chosen,
                                                permutation or PermutationConfig(), seed)
        return ShapExplanation(model.columns, values, base, output, first_x, chosen, "permutation SHAP",
                               model.output_name())
    values, bases, counts = 0.0, 0.0, np.zeros(len(features))
    for estimator, prep in model.members:
        x = prep.transform(features)
        if model.kind == "tree":
            member = tree_member_shap(estimator, x, model.classification)
        else:
            if reference is None:
                raise ValueError(f"linear SHAP of the {model.name} needs reference molecules")
            member = linear_member_shap(estimator, x, prep.transform(reference), model.classification)
        member_values, member_base, defined = class_contributions(member, chosen, model.log_odds)
        if not model.classification:  # the estimator's outputs are standardized targets
            member_values, member_base = member_values * prep.target_scale, prep.unscale_target(member_base)
        values = values + np.where(defined[:, None], member_values, 0.0)
        bases = bases + np.where(defined, member_base, 0.0)
        counts += defined
    if (counts == 0).any():  # every member of a k-fold linear model lacked the class it is to explain
        missing = sorted({int(c) for c in np.asarray(chosen)[counts == 0]})
        raise UserInputError(f"no baseline member saw class(es) {missing} in training, so their log-odds are "
                             "undefined; use a split with every class in the training part")
    # a member that never saw a molecule's class (a fold without it) has no log-odds for it:
    # that molecule's explanation is the mean over the members that did. Each member's
    # log-odds are against the other classes it knows, so where a fold lacks a class, the mean
    # mixes references (log p0 - log p1 from it, log p0 - mean(log p1, log p2) from the others)
    mean_values, mean_base = values / counts[:, None], bases / counts
    return ShapExplanation(model.columns, mean_values, mean_base, mean_base + mean_values.sum(axis=1), first_x,
                           chosen, model.method, model.output_name())


def shap_importance(explanation: ShapExplanation, signs: np.ndarray | None = None) -> pd.DataFrame:
    """Global importance: ``importance`` = mean |SHAP| per feature, most important first, with
    ``direction``: the correlation of a feature's value with its SHAP value times ``signs``
    (per molecule; ``direction_signs``: toward class 1 where each molecule explains its own
    predicted class of two), +: a larger value raises the output; NaN when either is
    constant over the molecules, and everywhere when ``signs`` is None (three or more
    classes). Without ``signs``: the values as they are (regression)."""
    values, x = explanation.values, explanation.features
    importance = np.abs(values).mean(axis=0)
    if signs is None and explanation.explained_class is not None:
        direction = np.full(len(explanation.columns), np.nan)
    else:
        toward = values if signs is None else values * np.asarray(signs, dtype=np.float64)[:, None]
        centred_v, centred_x = toward - toward.mean(axis=0), x - x.mean(axis=0)
        denom = np.sqrt((centred_v**2).sum(axis=0) * (centred_x**2).sum(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            direction = np.where(denom > 0, (centred_v * centred_x).sum(axis=0) / denom, np.nan)
    table = pd.DataFrame({"feature": explanation.columns, "importance": importance, "direction": direction})
    return table.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)
