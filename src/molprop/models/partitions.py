"""Training partitions (members) described by data/split.parquet, including k-fold mode."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from molprop.errors import UserInputError
from molprop.schema import FOLD, SPLIT


@dataclass(frozen=True)
class Partition:
    """Row indices of one training member: fit on ``train``, early-stop on ``val``."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def partitions(split: pd.DataFrame) -> list[Partition]:
    """One partition for a plain split; one per fold when the split table has folds."""
    test = np.flatnonzero(split[SPLIT].to_numpy() == "test")
    folds = split[FOLD].to_numpy()
    fold_ids = sorted(set(folds[folds >= 0].tolist()))
    if len(fold_ids) > 1:
        parts = []
        for fold in fold_ids:
            val = np.flatnonzero(folds == fold)
            train = np.flatnonzero((folds >= 0) & (folds != fold))
            parts.append(Partition(f"fold_{fold}", train, val, test))
        return parts
    labels = split[SPLIT].to_numpy()
    train, val = np.flatnonzero(labels == "train"), np.flatnonzero(labels == "val")
    if len(train) == 0:
        raise UserInputError("data/split.parquet has no training molecules")
    return [Partition("member_0", train, val, test)]


def members_by_partition(names: list[str]) -> list[list[int]]:
    """Positions of the members of each partition, from the members' names: k-fold members
    ``fold_<k>`` or ``fold_<k>_member_<i>`` by fold; the ``member_<i>`` of a plain split
    (and any other names) as one partition."""
    groups: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        key = name.rsplit("_member_", 1)[0] if name.startswith("fold_") else ""
        groups.setdefault(key, []).append(position)
    return list(groups.values())
