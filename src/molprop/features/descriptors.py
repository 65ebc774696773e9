"""RDKit 2D descriptors (``rdkit.Chem.Descriptors``) as float32 arrays with NaN for failures.

Two sets: ``full`` is every descriptor in ``Descriptors.descList``; ``fast`` leaves out the
few that dominate the run time (measured marginal cost per molecule, in the order RDKit
computes them, FreeSolv + Huuskonen, one core, full set ~3.9 ms/molecule):
qed 0.88 ms (22%), the 8 BCUT2D 0.26 ms, SPS 0.22 ms, BertzCT 0.17 ms, AvgIpc + Ipc 0.26 ms.
Dropping these 13 of 217 roughly doubles throughput; qed is itself a function of descriptors
kept in the fast set (weight, logP, HBA/HBD, PSA, rotatable bonds, aromatic rings).

A descriptor that raises, returns NaN/inf, or does not fit in float32 is stored as NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors

from molprop.features.config import DescriptorSet

SLOW_DESCRIPTORS: frozenset[str] = frozenset(
    {"qed", "SPS", "BertzCT", "Ipc", "AvgIpc"}
    | {f"BCUT2D_{k}" for k in ("MWHI", "MWLOW", "CHGHI", "CHGLO", "LOGPHI", "LOGPLOW", "MRHI", "MRLOW")}
)
DESC_PREFIX = "desc_"


@lru_cache(maxsize=2)
def descriptor_functions(which: DescriptorSet) -> tuple[tuple[str, Callable[[Chem.Mol], float]], ...]:
    """(name, function) pairs of a descriptor set, in RDKit's own order."""
    if which not in ("full", "fast"):
        raise ValueError(f"unknown descriptor set {which!r}: use 'full' or 'fast'")
    pairs = tuple(Descriptors.descList)
    if which == "fast":
        pairs = tuple((n, f) for n, f in pairs if n not in SLOW_DESCRIPTORS)
    return pairs


def descriptor_names(which: DescriptorSet) -> list[str]:
    """Names of the descriptors in a set (without the ``desc_`` column prefix)."""
    return [name for name, _ in descriptor_functions(which)]


def descriptor_columns(which: DescriptorSet) -> list[str]:
    """Column names ``desc_<Name>`` of a descriptor set."""
    return [DESC_PREFIX + name for name in descriptor_names(which)]


def compute_descriptors(mols: Sequence[Chem.Mol], which: DescriptorSet) -> np.ndarray:
    """Descriptor matrix (n_mols, n_descriptors) float32; non-finite or failed values are NaN."""
    funcs = descriptor_functions(which)
    out = np.empty((len(mols), len(funcs)), dtype=np.float64)
    for i, mol in enumerate(mols):
        row = out[i]
        for j, (_, func) in enumerate(funcs):
            try:
                row[j] = func(mol)
            except Exception:  # RDKit raises for some inputs; recorded as NaN and reported
                row[j] = np.nan
    with np.errstate(over="ignore", invalid="ignore"):
        out32 = out.astype(np.float32)
    out32[~np.isfinite(out32)] = np.nan
    return out32
