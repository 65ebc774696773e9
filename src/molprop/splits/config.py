"""The split configuration: which strategy, part fractions, seed and strategy options."""

from __future__ import annotations

import math
from dataclasses import dataclass

from molprop.errors import UserInputError

METHODS = ("random", "scaffold", "scaffold_balanced", "stratified", "cluster")
CLUSTER_METHODS = ("butina", "kmeans")


@dataclass(frozen=True)
class SplitConfig:
    """How to split a dataset. Invalid values raise ``UserInputError`` naming the ``split.*`` key."""

    method: str = "scaffold"
    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    seed: int = 0
    n_folds: int = 0
    group_folds_by_scaffold: bool = True
    cluster_method: str = "butina"
    cluster_distance_cutoff: float = 0.6
    n_clusters: int = 10
    stratify_bins: int = 5

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UserInputError(f"split.method is {self.method!r}; use one of {', '.join(METHODS)}")
        for name in ("train", "val", "test"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise UserInputError(
                    f"split.fractions.{name} is {value!r}; give a fraction between 0 and 1"
                )
        total = self.train + self.val + self.test
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise UserInputError(
                f"split.fractions train={self.train}, val={self.val}, test={self.test} sum to "
                f"{total:g}, not 1; change them in params.yaml so that they add up to 1"
            )
        if self.train <= 0:
            raise UserInputError("split.fractions.train must be > 0: a model needs training data")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise UserInputError(f"split.seed is {self.seed!r}; use an integer")
        if not isinstance(self.group_folds_by_scaffold, bool):
            raise UserInputError("split.group_folds_by_scaffold must be true or false")
        if not isinstance(self.n_folds, int) or self.n_folds < 0 or self.n_folds == 1:
            raise UserInputError(
                f"split.n_folds is {self.n_folds!r}; use 0 for no cross-validation or k >= 2 folds"
            )
        if self.cluster_method not in CLUSTER_METHODS:
            raise UserInputError(
                f"split.cluster.method is {self.cluster_method!r}; use one of "
                f"{', '.join(CLUSTER_METHODS)}"
            )
        if not 0.0 < self.cluster_distance_cutoff < 1.0:
            raise UserInputError(
                f"split.cluster.distance_cutoff is {self.cluster_distance_cutoff!r}; give a "
                "Tanimoto distance strictly between 0 and 1"
            )
        if not isinstance(self.n_clusters, int) or self.n_clusters < 2:
            raise UserInputError(
                f"split.cluster.n_clusters is {self.n_clusters!r}; use an integer >= 2"
            )
        if not isinstance(self.stratify_bins, int) or self.stratify_bins < 2:
            raise UserInputError(f"split.stratify_bins is {self.stratify_bins!r}; use an integer >= 2")

    @classmethod
    def from_params(cls, section: dict) -> SplitConfig:
        """The config from the ``split:`` section of params.yaml (as a dict); unknown keys raise."""
        _check_keys("split", section, _TOP_KEYS)
        fractions = dict(section.get("fractions") or {})
        cluster = dict(section.get("cluster") or {})
        _check_keys("split.fractions", fractions, {"train", "val", "test"})
        _check_keys("split.cluster", cluster, {"method", "distance_cutoff", "n_clusters"})
        flat = {k: v for k, v in section.items() if k not in ("fractions", "cluster")}
        flat |= fractions
        flat |= {f"cluster_{k}": v for k, v in cluster.items() if k != "n_clusters"}
        if "n_clusters" in cluster:
            flat["n_clusters"] = cluster["n_clusters"]
        return cls(**flat)

    @property
    def fractions(self) -> tuple[float, float, float]:
        """(train, val, test) fractions."""
        return (self.train, self.val, self.test)

    @property
    def kfold(self) -> bool:
        """Whether k-fold cross-validation is asked for."""
        return self.n_folds > 1

    @property
    def uses_seed(self) -> bool:
        """Whether ``seed`` changes the split: not for method scaffold (deterministic), unless
        k-fold folds are not grouped by scaffold (seeded KFold)."""
        return self.method != "scaffold" or (self.kfold and not self.group_folds_by_scaffold)

    def seed_warnings(self) -> list[str]:
        """A warning when ``seed`` is set but changes nothing (a sweep over split seeds would
        repeat one split)."""
        if self.uses_seed or self.seed == 0:
            return []
        folds = " and its folds are grouped by scaffold" if self.kfold else ""
        return [f"split.seed {self.seed} changes nothing: method scaffold is deterministic (largest "
                f"scaffold groups first){folds}, so every seed gives the same split; for seeded "
                "scaffold splits use split.method: scaffold_balanced"]


_TOP_KEYS = {
    "method", "fractions", "seed", "n_folds", "group_folds_by_scaffold", "cluster", "stratify_bins"
}


def _check_keys(where: str, given: dict, allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise UserInputError(
            f"unknown key(s) {', '.join(unknown)} under {where} in params.yaml; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
