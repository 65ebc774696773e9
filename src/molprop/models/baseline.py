"""The scikit-learn baseline: one member fitted on training rows, after an optional
hyperparameter search scored by cross-validation on those same rows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from molprop.models.estimators import (check_hyperparameters, effective_hyperparameters, fit_estimator,
                                       input_columns, make_estimator, predict_member, scales_features)
from molprop.models.matrix import Preprocessor, select_feature_columns
from molprop.models.search import SearchConfig, SearchResult, cv_splits, cross_validated_score, run_search


@dataclass(frozen=True)
class BaselineConfig:
    """Model kind, its fixed hyperparameters, feature groups, search settings, seed, threads."""

    model: str
    hyperparameters: Mapping[str, Any]
    features: Sequence[str]
    search: SearchConfig = field(default_factory=SearchConfig)
    seed: int = 0
    n_jobs: int = -1
    class_weight: str = "balanced"  # classification: "balanced" or "none" (make_estimator)

    def __post_init__(self) -> None:
        check_hyperparameters(self.model, list(self.hyperparameters), f"baseline.{self.model}")
        check_hyperparameters(self.model, list(self.search.space),
                              f"baseline.search.space.{self.model}")


@dataclass
class FittedMember:
    """A fitted estimator, its preprocessing, the hyperparameters used and the search record
    (None when no search ran)."""

    estimator: Any
    prep: Preprocessor
    hyperparameters: dict[str, Any]
    search: SearchResult | None


def feature_groups(config: BaselineConfig) -> list[str]:
    """The feature groups the model reads: k-NN on Tanimoto similarity compares the Morgan
    fingerprints alone (its other groups may be switched off in featurize)."""
    groups = list(config.features)
    return ["morgan"] if config.model == "knn_tanimoto" and "morgan" in groups else groups


def fit_on_rows(frame: pd.DataFrame, y: np.ndarray, task: str, config: BaselineConfig,
                hyperparameters: Mapping[str, Any]) -> tuple[Any, Preprocessor]:
    """Preprocessing (train-only imputation, scaling where the model needs it) and estimator,
    both fitted on these rows only."""
    columns = input_columns(config.model, select_feature_columns(list(frame.columns), feature_groups(config),
                                                                 "baseline.features"))
    prep = Preprocessor.fit(frame, columns, scale=scales_features(config.model))
    if task != "classification":
        prep = prep.with_target(y)
        y = prep.scale_target(y)
    estimator = make_estimator(config.model, task, hyperparameters, config.seed, config.n_jobs,
                               config.class_weight)
    return fit_estimator(estimator, prep.transform(frame), y, config.n_jobs), prep


def fit_member(features: pd.DataFrame, y: np.ndarray, groups: Sequence[str] | None,
               train: np.ndarray, task: str, n_classes: int, config: BaselineConfig,
               on_trial: Callable[[int, dict, float], None] | None = None) -> FittedMember:
    """Search hyperparameters by cross-validation on the ``train`` rows (when configured), then
    fit on all of them. Rows outside ``train`` are never read, whatever ``features`` holds.

    ``groups`` (one per row of ``features``, or None) keeps each group inside one CV fold.
    """
    frame, y_train = features.iloc[train], np.asarray(y)[train]
    record = None
    if config.search.method != "none":
        train_groups = None if groups is None else [groups[i] for i in train]
        splits = cv_splits(len(train), config.search.cv_folds, train_groups, config.seed)

        def objective(trial_params: dict[str, Any]) -> float:
            params = {**config.hyperparameters, **trial_params}

            def fit_predict(fit_rows: np.ndarray, held_out: np.ndarray) -> np.ndarray:
                estimator, prep = fit_on_rows(frame.iloc[fit_rows], y_train[fit_rows], task, config, params)
                return predict_member(estimator, prep, frame.iloc[held_out], task, n_classes)

            return cross_validated_score(fit_predict, y_train, splits, task)

        record = run_search(objective, config.search, task, config.seed, on_trial)
    params = {**config.hyperparameters, **(record.best if record else {})}
    estimator, prep = fit_on_rows(frame, y_train, task, config, params)
    return FittedMember(estimator, prep, effective_hyperparameters(config.model, estimator, params), record)
