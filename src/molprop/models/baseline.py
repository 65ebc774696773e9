"""scikit-learn baseline models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor


@dataclass(frozen=True)
class ForestConfig:
    """Random-forest hyperparameters."""

    n_estimators: int = 500
    max_features: float | str = 0.33
    min_samples_leaf: int = 1
    seed: int = 0
    n_jobs: int = -1


def fit_random_forest(x: np.ndarray, y: np.ndarray, task: str, config: ForestConfig):
    """A random forest fitted on (x, y) with ``config.n_jobs`` threads; a classifier for
    ``task == "classification"``.

    The returned forest predicts in one thread: threaded prediction sums the trees in a
    varying order, so its last bits (and the metrics) would change from run to run."""
    kwargs = dict(
        n_estimators=config.n_estimators,
        max_features=config.max_features,
        min_samples_leaf=config.min_samples_leaf,
        random_state=config.seed,
        n_jobs=config.n_jobs,
    )
    if task == "classification":
        model = RandomForestClassifier(class_weight="balanced", **kwargs)
    else:
        model = RandomForestRegressor(**kwargs)
    return model.fit(x, y).set_params(n_jobs=1)
