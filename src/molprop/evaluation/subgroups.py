"""Errors per subgroup of the test molecules (bias evaluation), with groups much worse than
average flagged.

A group is flagged for a model when it has at least ``min_group_size`` molecules, its mean
error is at least ``worse_factor`` times the model's overall mean error, AND the lower bound
of the bootstrap interval of its mean error is above the overall mean error: much worse, and
not by chance. ``worse_factor: 1.0`` leaves only the second (significance) condition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

from molprop.evaluation import weighted
from molprop.evaluation.bootstrap import BootstrapConfig, bootstrap, interval
from molprop.splits.chem import murcko_scaffolds

ACYCLIC = "(acyclic)"
OTHER = "(other scaffolds)"


@dataclass(frozen=True)
class FlagRule:
    """Smallest group that can be flagged and how much worse than overall it must be."""

    min_group_size: int = 5
    worse_factor: float = 1.5


@dataclass(frozen=True)
class Grouping:
    """A name, each molecule's group label, and the order in which groups are reported."""

    name: str
    labels: np.ndarray
    order: list[str]


def generic_scaffolds(mols: Sequence[Chem.Mol]) -> list[str]:
    """Bemis-Murcko graph framework of each molecule: the scaffold with every atom made carbon
    and every bond single (rings of the same shape, whatever their atoms); acyclic: ""."""
    out = []
    for mol in mols:
        core = MurckoScaffold.GetScaffoldForMol(mol)
        out.append(Chem.MolToSmiles(MurckoScaffold.MakeScaffoldGeneric(core))
                   if core.GetNumAtoms() else "")
    return out


def scaffold_grouping(mols: Sequence[Chem.Mol], min_group_size: int, generic: bool) -> Grouping:
    """Bemis-Murcko scaffold (``generic``: graph framework) of each molecule; scaffolds with
    fewer than ``min_group_size`` test molecules are pooled into one group. Largest first."""
    scaffolds = generic_scaffolds(mols) if generic else murcko_scaffolds(mols)
    scaffolds = [s or ACYCLIC for s in scaffolds]
    counts = Counter(scaffolds)
    labels = np.array([s if counts[s] >= min_group_size else OTHER for s in scaffolds], dtype=object)
    sizes = Counter(labels.tolist())
    order = sorted(sizes, key=lambda g: (g == OTHER, -sizes[g], g))
    return Grouping("scaffold", labels, order)


def _bin_names(edges: np.ndarray) -> list[str]:
    """"[low, high)" of each bin (the last closed), with 4 significant digits or as many more
    as it takes to tell the bins apart (targets around 1e6 with a spread of 100)."""
    last = len(edges) - 2
    for digits in range(4, 18):
        names = [f"[{edges[i]:.{digits}g}, {edges[i + 1]:.{digits}g}{']' if i == last else ')'}"
                 for i in range(len(edges) - 1)]
        if len(set(names)) == len(names):
            break
    return names


def binned_grouping(name: str, values: np.ndarray, edges: Sequence[float]) -> Grouping:
    """Bins ``[e_i, e_i+1)`` of ``values`` (the last bin closed; values outside the edges go
    to the first or last bin); only bins holding molecules are reported."""
    edges = np.asarray(edges, dtype=float)
    if len(edges) < 2:
        raise ValueError(f"grouping {name!r}: need at least 2 bin edges, got {edges.tolist()}")
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    names = _bin_names(edges)
    labels = np.array([names[i] for i in index], dtype=object)
    return Grouping(name, labels, [names[i] for i in sorted(set(index.tolist()))])


def quantile_grouping(name: str, values: np.ndarray, n_bins: int) -> Grouping:
    """About equally populated bins of ``values`` (quantile edges; tied edges merged). The
    edges are values of the data (the quantile's higher one), so that a label such as
    "[20, 23)" holds what it says (an interpolated 23.000000000000004 put 23 in that bin)."""
    values = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1), method="higher"))
    if len(edges) < 2:  # one distinct value
        edges = np.array([edges[0], edges[0]])
    return binned_grouping(name, values, edges)


def class_grouping(y: np.ndarray, class_names: Sequence[str]) -> Grouping:
    """The measured class of each molecule (classification's "target range")."""
    names = [str(class_names[int(k)]) if int(k) < len(class_names) else str(int(k)) for k in y]
    labels = np.array(names, dtype=object)
    order = [str(class_names[k]) if k < len(class_names) else str(k) for k in sorted(set(map(int, y)))]
    return Grouping("target", labels, order)


def heavy_atoms(mols: Sequence[Chem.Mol]) -> np.ndarray:
    """Number of heavy atoms of each molecule."""
    return np.array([mol.GetNumHeavyAtoms() for mol in mols], dtype=float)


def group_table(grouping: Grouping, errors: Mapping[str, np.ndarray], rule: FlagRule,
                config: BootstrapConfig, seed: int) -> list[dict]:
    """One row per group: n and per model its mean error, ratio to the overall mean error,
    bootstrap interval (groups of >= min_group_size molecules) and flag. ``seed`` makes each
    grouping's resamples its own; each group draws from ``[config.seed, seed, group]``."""
    overall = {name: float(np.mean(e)) for name, e in errors.items()}
    rows = []
    for number, group in enumerate(grouping.order):
        members = np.flatnonzero(grouping.labels == group)
        row: dict = {"group": group, "n": int(len(members))}
        parts = {name: np.asarray(e, dtype=float)[members] for name, e in errors.items()}
        intervals: dict[str, tuple[float, float]] = {}
        if len(members) >= rule.min_group_size:
            samples = bootstrap(lambda c: {k: weighted.mean(v, c) for k, v in parts.items()},
                                len(members), config, seed=[config.seed, seed, number])
            intervals = {k: interval(v, config.confidence) for k, v in samples.items()}
        for name, part in parts.items():
            value, low_high = float(part.mean()), intervals.get(name, (None, None))
            ratio = value / overall[name] if overall[name] > 0 else float("nan")
            row |= {f"{name}_error": value, f"{name}_ratio": ratio,
                    f"{name}_ci_low": low_high[0], f"{name}_ci_high": low_high[1],
                    f"{name}_flagged": bool(
                        low_high[0] is not None and value >= rule.worse_factor * overall[name]
                        and low_high[0] > overall[name])}
        rows.append(row)
    return rows


def summarize(rows: list[dict], models: Sequence[str], rule: FlagRule) -> dict:
    """Per grouping: number of groups, and per model the number of flagged groups and the
    worst ratio among groups of at least ``min_group_size`` molecules (None: no such group)."""
    out: dict = {"n_groups": len(rows)}
    eligible = [r for r in rows if r["n"] >= rule.min_group_size]
    for name in models:
        out[f"{name}_n_flagged"] = sum(r[f"{name}_flagged"] for r in rows)
        ratios = [r[f"{name}_ratio"] for r in eligible if np.isfinite(r[f"{name}_ratio"])]
        out[f"{name}_worst_ratio"] = max(ratios) if ratios else None
    return out
