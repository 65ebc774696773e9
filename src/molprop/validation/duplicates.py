"""Replicates of one molecule (same identity key): merge agreeing ones, reject conflicts."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from molprop.validation.config import DuplicatePolicy

_REL_EPS = 1e-9  # float noise allowance when comparing a spread with the tolerance


class DuplicateOutcome(NamedTuple):
    """``merged``: one row per key, first-row order; ``conflicts``: rows rejected as groups."""

    merged: pd.DataFrame
    conflicts: pd.DataFrame
    n_groups_merged: int
    n_merged_away: int


def _format(values: pd.Series) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def resolve_duplicates(table: pd.DataFrame, policy: DuplicatePolicy, task: str) -> DuplicateOutcome:
    """Group ``table`` (columns key, row, value, ...) by ``key``.

    Regression groups whose values span at most ``policy.tolerance`` are merged to their
    median or mean; classification groups merge only when every label is the same. Other
    groups are conflicts. ``merged`` keeps the first row's other columns plus ``n_replicates``.
    """
    groups = table.groupby("key", sort=False)["value"]
    if task == "regression":
        values = table["value"].astype("float64")
        spread = (values.groupby(table["key"]).transform("max")
                  - values.groupby(table["key"]).transform("min")).to_numpy()
        conflict = spread > policy.tolerance * (1 + _REL_EPS) + 1e-12
    else:
        conflict = groups.transform("nunique").to_numpy() > 1
    conflicts = table.loc[conflict].copy()
    messages = {}
    for key, group in conflicts.groupby("key", sort=False):
        rows = ", ".join(str(r) for r in group["row"])
        detail = (f"spread {group['value'].max() - group['value'].min():g} > tolerance "
                  f"{policy.tolerance:g}" if task == "regression" else "different classes")
        messages[key] = (f"{len(group)} rows (rows {rows}) are the same molecule "
                         f"{group['smiles'].iloc[0]} but their targets disagree: "
                         f"{_format(group['value'])} ({detail}).")
    conflicts["message"] = conflicts["key"].map(messages)

    kept = table.loc[~conflict]
    first = kept.groupby("key", sort=False).head(1).set_index("key")
    by_key = kept.groupby("key", sort=False)["value"]
    if task == "regression":
        agg = (by_key.median() if policy.aggregate == "median" else by_key.mean()).astype("float64")
        # a mean that is rounding residue of zero (1.1, 2.2 and -3.3 give 1.5e-16) is zero: the
        # replicates' size, which tells the two apart, is lost once they are merged
        largest = kept["value"].abs().groupby(kept["key"], sort=False).max()
        residue = 4 * np.finfo(np.float64).eps * by_key.size() * largest
        first["value"] = agg.mask(agg.abs() <= residue, 0.0)
    first["n_replicates"] = by_key.size().astype("int64")
    merged = first.reset_index().sort_values("row", kind="stable").reset_index(drop=True)
    n_groups = int(np.sum(merged["n_replicates"] > 1))
    n_away = int(merged["n_replicates"].sum() - len(merged))
    return DuplicateOutcome(merged, conflicts, n_groups, n_away)


_IN_TARGET_UNITS = "Set the tolerance in your target's units (e.g. a tenth of its standard deviation)"


def _shown(value: float, other: float) -> str:
    """``value`` with 3 significant digits, or more where those would print it as ``other``."""
    for digits in range(3, 9):
        text = f"{value:.{digits}g}"
        if float(text) != other:
            return text
    return f"{value:.9g}"


def loose_tolerance(tolerance: float, values: list[float], n_groups_merged: int) -> str | None:
    """A warning when replicates were merged under a tolerance (target units) above half the
    standard deviation of the kept targets, i.e. one set for other units, else None."""
    if n_groups_merged == 0 or len(values) < 2:
        return None
    spread = float(np.std(values))
    if tolerance <= 0.5 * spread:
        return None
    return (f"{n_groups_merged} group(s) of replicates were merged under validate.duplicates.tolerance "
            f"{tolerance:g}, more than half the target's standard deviation (0.5 x {spread:.3g} = "
            f"{_shown(0.5 * spread, tolerance)}): replicates that "
            "far apart are averaged rather than rejected as conflicting. " + _IN_TARGET_UNITS)


def tight_tolerance(tolerance: float, values: list[float], n_conflicting: int) -> str | None:
    """A warning when rows were rejected as conflicting replicates under a tolerance (target
    units) below a hundredth of the standard deviation of the kept targets, i.e. one set for
    other units (0.5 on a target in the 1e5 range), else None."""
    if n_conflicting == 0 or len(values) < 2:
        return None
    spread = float(np.std(values))
    if tolerance >= 0.01 * spread:
        return None
    return (f"{n_conflicting} row(s) were rejected as conflicting replicates under validate.duplicates.tolerance "
            f"{tolerance:g}, less than a hundredth of the target's standard deviation (0.01 x {spread:.3g} = "
            f"{_shown(0.01 * spread, tolerance)}): "
            "replicates that close are usually measurement noise. " + _IN_TARGET_UNITS)
