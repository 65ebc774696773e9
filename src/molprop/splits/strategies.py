"""Split strategies: each returns the part name ("train" | "val" | "test") of every molecule."""

from __future__ import annotations

import random as pyrandom
from collections.abc import Sequence

import numpy as np
import pandas as pd

from molprop.splits.parts import Fractions, fill_groups, groups_of, labels_from_sizes, part_sizes


def random_split(n: int, fractions: Fractions, seed: int) -> np.ndarray:
    """Uniformly random parts of sizes :func:`part_sizes` (seeded permutation)."""
    order = np.random.default_rng(seed).permutation(n)
    return labels_from_sizes(order, part_sizes(n, fractions))


def scaffold_split(scaffolds: Sequence[str], fractions: Fractions) -> np.ndarray:
    """Deterministic scaffold split (Chemprop v1 ``scaffold_split(balanced=False)``).

    Molecules are grouped by scaffold; groups are sorted largest first (ties: the scaffold
    seen first in the input comes first) and placed by :func:`fill_groups`. No seed.
    """
    groups = groups_of(scaffolds)
    ordered = sorted(groups, key=len, reverse=True)  # stable: ties keep first-occurrence order
    return fill_groups(ordered, len(scaffolds), fractions)


def _is_big(size: int, n: int, fractions: Fractions) -> bool:
    """Whether a group of ``size`` molecules is larger than half the val or the test size (a
    part of fraction 0 is not compared)."""
    return any(size > fraction * n / 2 for fraction in fractions[1:] if fraction > 0)


def scaffold_balanced_split(
    scaffolds: Sequence[str], fractions: Fractions, seed: int
) -> np.ndarray:
    """Seeded scaffold split (Chemprop v1 ``scaffold_split(balanced=True)``).

    Groups larger than half the val size or half the test size ("big") come first, then the
    others; each list is shuffled by ``random.Random(seed)`` (big first, then small) and the
    groups are placed by :func:`fill_groups`. A part of fraction 0 (val in k-fold mode) does
    not make every group big, as it would in Chemprop: that shuffled the largest groups in
    with the rest, and one arriving once train was full went to test.
    """
    n = len(scaffolds)
    groups = groups_of(scaffolds)
    big = [g for g in groups if _is_big(len(g), n, fractions)]
    small = [g for g in groups if not _is_big(len(g), n, fractions)]
    shuffler = pyrandom.Random(seed)
    shuffler.shuffle(big)
    shuffler.shuffle(small)
    return fill_groups(big + small, n, fractions)


def strata(y: np.ndarray, task: str, bins: int) -> np.ndarray:
    """Stratum of each molecule: the class (classification) or a quantile bin of y (regression)."""
    if task == "classification":
        return np.asarray(y)
    values = pd.Series(np.asarray(y, dtype=np.float64))
    if values.nunique() < 2:  # no quantile edges to cut at (qcut would give NaN): one stratum
        return np.zeros(len(values), dtype=np.int64)
    return pd.qcut(values, q=bins, labels=False, duplicates="drop").to_numpy()


def stratified_split(strata_of: np.ndarray, fractions: Fractions, seed: int) -> np.ndarray:
    """Parts keeping each stratum's share in every part (to within two molecules per part).

    Molecules are ordered stratum by stratum (strata in seeded random order, members shuffled)
    and dealt to the parts along a sequence that keeps every prefix proportional to the part
    sizes, so each stratum's block is divided in the split's proportions.
    """
    n = len(strata_of)
    rng = np.random.default_rng(seed)
    sizes = part_sizes(n, fractions)
    stratum_codes = pd.factorize(pd.Series(strata_of), sort=True)[0]
    stratum_rank = rng.permutation(int(stratum_codes.max()) + 1)[stratum_codes]
    order = np.lexsort((rng.random(n), stratum_rank))
    labels = np.empty(n, dtype="U5")
    dealt = np.zeros(3)
    names = np.array(["train", "val", "test"])
    for position, index in enumerate(order):
        part = int(np.argmax((position + 1) * sizes / n - dealt))
        dealt[part] += 1
        labels[index] = names[part]
    return labels


def cluster_split(clusters: np.ndarray, fractions: Fractions, seed: int) -> np.ndarray:
    """Parts made of whole clusters, placed by :func:`fill_groups` with the "room" rule (each
    cluster to the part furthest below its target size): first the clusters larger than half
    the val or test size, largest first (equal sizes in seeded order), then the others in
    seeded random order."""
    n = len(clusters)
    groups = groups_of(clusters.tolist())
    is_big = np.array([_is_big(len(g), n, fractions) for g in groups], dtype=bool)
    rng = np.random.default_rng(seed)
    shuffled_big = rng.permutation(np.flatnonzero(is_big))
    big = sorted((groups[i] for i in shuffled_big), key=len, reverse=True)
    small = [groups[i] for i in rng.permutation(np.flatnonzero(~is_big))]
    return fill_groups(big + small, n, fractions, rule="room")
