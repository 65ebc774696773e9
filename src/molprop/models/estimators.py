"""The baseline model kinds: scikit-learn estimators built from a name and hyperparameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from molprop.errors import UserInputError
from molprop.models.matrix import FEATURE_GROUPS, Preprocessor

# Hyperparameters each kind accepts (the keys of its params.yaml sub-section and search space).
HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    "random_forest": ("n_estimators", "max_features", "min_samples_leaf", "max_depth"),
    "hist_gradient_boosting": ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf",
                               "l2_regularization", "max_features"),
    "ridge": ("alpha",),
    "knn_tanimoto": ("n_neighbors", "weights", "binarize"),
}
KINDS = tuple(HYPERPARAMETERS)
DEFAULT_ALPHA = 1.0  # ridge / logistic regression (C = 1 / alpha) without baseline.ridge.alpha


def check_kind(kind: str) -> None:
    """Raise a clear error for an unknown model kind."""
    if kind not in HYPERPARAMETERS:
        raise UserInputError(f"baseline.model is {kind!r}; choose from {list(KINDS)}")


def check_hyperparameters(kind: str, names: list[str], where: str) -> None:
    """Raise if ``names`` holds a hyperparameter the kind does not have."""
    check_kind(kind)
    unknown = sorted(set(names) - set(HYPERPARAMETERS[kind]))
    if unknown:
        raise UserInputError(f"{where}: {unknown} are not hyperparameters of {kind}; "
                         f"it has {list(HYPERPARAMETERS[kind])}")


def effective_hyperparameters(kind: str, estimator: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every hyperparameter of the kind as the fitted ``estimator`` used it: the ``given`` ones,
    and for those params.yaml left out the default that applied (scikit-learn's, or ridge's
    alpha 1.0), so that a model card never shows less than what was fitted."""
    used = estimator.get_params()
    return {name: given[name] if name in given else used.get(name, DEFAULT_ALPHA)
            for name in HYPERPARAMETERS[kind]}


def input_columns(kind: str, columns: list[str]) -> list[str]:
    """The feature columns the kind uses: k-NN Tanimoto only the Morgan fingerprint ones."""
    if kind != "knn_tanimoto":
        return columns
    fingerprints = [c for c in columns if c.startswith(FEATURE_GROUPS["morgan"])]
    if not fingerprints:
        raise UserInputError("baseline.model knn_tanimoto compares Morgan fingerprints: add morgan to "
                         "baseline.features (and enable featurize.morgan)")
    return fingerprints


def scales_features(kind: str) -> bool:
    """Whether the kind needs standardized descriptors (a penalized linear model does)."""
    return kind == "ridge"


CLASS_WEIGHTS = ("balanced", "none")


def make_estimator(kind: str, task: str, hyperparameters: Mapping[str, Any], seed: int,
                   n_jobs: int = 1, class_weight: str = "balanced") -> Any:
    """An unfitted estimator of ``kind`` for ``task``. ``class_weight`` "balanced": classifiers
    weight classes by inverse frequency (a rare class is not ignored; its probabilities are
    shifted toward it, which costs Brier score and accuracy);
    "none": unweighted, as the network trains. ``ridge`` is Ridge for regression and
    LogisticRegression(C = 1 / alpha) for classification."""
    check_hyperparameters(kind, list(hyperparameters), f"baseline.{kind}")
    if class_weight not in CLASS_WEIGHTS:
        raise UserInputError(f"baseline.class_weight is {class_weight!r}; choose from {list(CLASS_WEIGHTS)}")
    params = dict(hyperparameters)
    classify = task == "classification"
    weights = {"class_weight": "balanced"} if classify and class_weight == "balanced" else {}
    if kind == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestClassifier if classify else RandomForestRegressor
        return cls(random_state=seed, n_jobs=n_jobs, **weights, **params)
    if kind == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        if "max_features" in params:  # a fraction; scikit-learn refuses the integer 1 (all of them)
            params["max_features"] = float(params["max_features"])
        return cls(random_state=seed, early_stopping=False, **weights, **params)
    if kind == "ridge":
        from sklearn.linear_model import LogisticRegression, Ridge

        alpha = float(params.get("alpha", DEFAULT_ALPHA))
        if alpha <= 0:
            raise UserInputError(f"baseline.ridge.alpha is {alpha}; it must be > 0")
        if classify:
            return LogisticRegression(C=1.0 / alpha, max_iter=5000, **weights)
        return Ridge(alpha=alpha)
    from molprop.models.tanimoto import TanimotoKNNClassifier, TanimotoKNNRegressor

    return TanimotoKNNClassifier(**weights, **params) if classify else TanimotoKNNRegressor(**params)


def fit_estimator(estimator: Any, x: np.ndarray, y: np.ndarray, n_jobs: int = 1) -> Any:
    """Fit with at most ``n_jobs`` threads for the forest's trees and gradient boosting's
    OpenMP loops (-1: all cores); the result does not depend on it. BLAS stays on one thread:
    the linear solves here are small, and threaded BLAS made them 10x slower on a busy machine.

    A fitted forest is set to predict in one thread: threaded prediction sums the trees in a
    varying order, so its last bits (and the metrics) would change from run to run. Gradient
    boosting's binner keeps the thread count it ran with, which only its saved bytes would
    show: it is set to 1, so that one model saves to one file whatever the cores."""
    from sklearn.utils._param_validation import InvalidParameterError
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), \
            threadpool_limits(limits=None if n_jobs < 1 else n_jobs, user_api="openmp"):
        try:
            estimator.fit(x, y)
        except InvalidParameterError as error:  # a value params.yaml's check lets through
            raise UserInputError(f"baseline: scikit-learn refuses a hyperparameter: {error} Change it in "
                                 "params.yaml (baseline.<model> or baseline.search.space.<model>).") from error
    if "n_jobs" in estimator.get_params():
        estimator.set_params(n_jobs=1)
    if hasattr(getattr(estimator, "_bin_mapper", None), "n_threads"):
        estimator._bin_mapper.n_threads = 1
    return estimator


def predict_member(estimator: Any, prep: Preprocessor, features: pd.DataFrame, task: str,
                   n_classes: int) -> np.ndarray:
    """A member's predictions on a features table: values (n,) in target units for regression,
    class probabilities (n, n_classes) otherwise; classes the estimator never saw in training
    get probability 0."""
    x = prep.transform(features)
    if task != "classification":
        return prep.unscale_target(estimator.predict(x))
    proba = np.zeros((len(x), n_classes))
    proba[:, np.asarray(estimator.classes_).astype(int)] = estimator.predict_proba(x)
    return proba
