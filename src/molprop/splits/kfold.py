"""Cross-validation folds of the non-test molecules."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from molprop.errors import UserInputError


def assign_folds(
    n: int,
    n_folds: int,
    seed: int,
    groups: Sequence[str] | None = None,
    strata_of: np.ndarray | None = None,
) -> np.ndarray:
    """Fold number (0..n_folds-1, int32) of each of ``n`` molecules.

    With ``groups`` (e.g. scaffolds): scikit-learn ``GroupKFold`` without shuffling
    (deterministic: largest groups first, each to the currently smallest fold), so no group
    spans two folds. Else with ``strata_of``: seeded ``StratifiedKFold``. Else seeded ``KFold``.
    """
    from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

    if n < n_folds:
        raise UserInputError(
            f"cannot make {n_folds} folds from {n} non-test molecules; lower split.n_folds"
        )
    dummy = np.zeros(n)
    if groups is not None:
        n_groups = len(set(groups))
        if n_groups < n_folds:
            raise UserInputError(
                f"cannot make {n_folds} scaffold-grouped folds from {n_groups} scaffold(s) among "
                f"the {n} non-test molecules; lower split.n_folds or set "
                "split.group_folds_by_scaffold to false"
            )
        splits = GroupKFold(n_splits=n_folds).split(dummy, groups=list(groups))
    elif strata_of is not None and np.unique(strata_of, return_counts=True)[1].max() >= n_folds:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        splits = splitter.split(dummy, strata_of)
    else:
        splits = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(dummy)
    folds = np.full(n, -1, dtype=np.int32)
    with warnings.catch_warnings():  # a class rarer than the folds: the split report names the folds lacking it
        warnings.filterwarnings("ignore", message="The least populated class in y", category=UserWarning)
        for number, (_, held_out) in enumerate(splits):
            folds[held_out] = number
    return folds
