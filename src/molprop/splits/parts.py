"""Part sizes and group-wise filling of train/val/test, shared by all strategies."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from molprop.errors import UserInputError
from molprop.schema import SPLIT_NAMES

Fractions = tuple[float, float, float]


def part_sizes(n: int, fractions: Fractions) -> np.ndarray:
    """Molecules per part (train, val, test) summing to ``n``, each part with a positive fraction
    non-empty; ``ValueError`` when ``n`` is smaller than the number of such parts."""
    wanted = np.array(fractions, dtype=np.float64)
    positive = wanted > 0
    if n < positive.sum():
        raise UserInputError(
            f"cannot split {n} molecule(s) into {int(positive.sum())} non-empty parts; "
            "use more data or set the fraction of a part to 0"
        )
    exact = wanted * n
    sizes = np.floor(exact + 1e-9).astype(np.int64)
    # Largest remainders get the molecules left over; ties go to the earlier part.
    order = sorted(range(3), key=lambda p: (-(exact[p] - sizes[p]), p))
    for p in order[: n - int(sizes.sum())]:
        sizes[p] += 1
    for p in np.flatnonzero(positive & (sizes == 0)):
        sizes[int(np.argmax(sizes))] -= 1
        sizes[p] = 1
    return sizes


def labels_from_sizes(order: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Part names: the first ``sizes[0]`` indices of ``order`` are train, then val, then test."""
    labels = np.empty(len(order), dtype="U5")
    bounds = np.cumsum(sizes)
    labels[order[: bounds[0]]] = SPLIT_NAMES[0]
    labels[order[bounds[0] : bounds[1]]] = SPLIT_NAMES[1]
    labels[order[bounds[1] :]] = SPLIT_NAMES[2]
    return labels


def fill_groups(
    groups: Sequence[np.ndarray], n: int, fractions: Fractions, rule: str = "chemprop"
) -> np.ndarray:
    """Part names from whole groups taken in the given order.

    ``rule="chemprop"`` (Chemprop's scaffold rule): a group goes to train if train stays within
    ``fractions[0] * n`` molecules, else to val if val stays within ``fractions[1] * n``, else to
    test. ``rule="room"``: a group goes to the part (with a positive fraction) that has the most
    room left (target size minus current size; ties to the earlier part), which bounds every
    part's error by the largest group. If a part with a positive fraction ends up empty (tiny
    data), the last-placed group of the part holding the most groups (at least two) moves to it;
    if no part can give one, ``ValueError``.
    """
    targets = np.array(fractions, dtype=np.float64) * n
    placed: list[list[int]] = [[], [], []]  # group numbers per part, in placing order
    counts = np.zeros(3)
    for number, group in enumerate(groups):
        if rule == "chemprop":
            part = _chemprop_part(counts, len(group), targets)
        else:
            part = _roomiest_part(counts, targets)
        placed[part].append(number)
        counts[part] += len(group)
    for part in range(3):
        if fractions[part] > 0 and not placed[part]:
            donor = max(range(3), key=lambda p: (len(placed[p]), -p))
            if len(placed[donor]) < 2:
                raise UserInputError(
                    f"cannot make a non-empty {SPLIT_NAMES[part]} part: the {n} molecules form "
                    f"only {len(groups)} group(s) that may not be divided (a scaffold split puts all "
                    "acyclic molecules in one group: the empty scaffold); use more data or "
                    "another split.method (e.g. random), or with method cluster smaller clusters "
                    "(a lower split.cluster.distance_cutoff, more split.cluster.n_clusters)"
                )
            placed[part].append(placed[donor].pop())
    labels = np.empty(n, dtype="U5")
    for part, numbers in enumerate(placed):
        for number in numbers:
            labels[groups[number]] = SPLIT_NAMES[part]
    return labels


def _chemprop_part(counts: np.ndarray, size: int, targets: np.ndarray) -> int:
    if counts[0] + size <= targets[0]:
        return 0
    if counts[1] + size <= targets[1]:
        return 1
    return 2


def _roomiest_part(counts: np.ndarray, targets: np.ndarray) -> int:
    room = np.where(targets > 0, targets - counts, -np.inf)
    return int(np.argmax(room))


def groups_of(keys: Sequence[object]) -> list[np.ndarray]:
    """Indices sharing a key, one array per distinct key, in order of first occurrence."""
    index: dict[object, list[int]] = {}
    for position, key in enumerate(keys):
        index.setdefault(key, []).append(position)
    return [np.array(members, dtype=np.int64) for members in index.values()]
