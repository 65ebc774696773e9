"""Stage metrics of featurization: sizes, descriptor NaN/inf report, graph statistics.

Nothing here depends on time or on the number of processes, so the metrics file changes
only when the input or the parameters do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from molprop.features.config import FeaturizeConfig
from molprop.features.graph import ATOM_FDIM, ATOM_REAL_NAMES, BOND_FDIM, OTHER_ELEMENT

MAX_REPORTED_IDS = 20  # mol_ids listed per descriptor with non-finite values


class FeatureReport:
    """Accumulates per-chunk statistics; ``metrics()`` gives the JSON-ready summary."""

    def __init__(self, config: FeaturizeConfig, descriptor_names: Sequence[str], n_molecules: int):
        self.config, self.names, self.n_expected = config, list(descriptor_names), n_molecules
        self.n_seen = 0
        self.n_clipped = 0
        self.nonfinite = np.zeros(len(self.names), dtype=np.int64)
        self.examples: list[list[str]] = [[] for _ in self.names]
        self.n_mols_nonfinite = 0
        self.n_atoms = self.n_bonds = self.max_atoms = self.n_other_element = 0
        self.atom_nan = np.zeros(len(ATOM_REAL_NAMES), dtype=np.int64)

    def add(self, mol_ids: list[str], result: Any) -> None:
        """Count one chunk's results (a ``chunk.ChunkResult``)."""
        self.n_seen += len(mol_ids)
        self.n_clipped += result.n_clipped
        if result.descriptors is not None:
            bad = np.isnan(result.descriptors)
            self.nonfinite += bad.sum(axis=0)
            self.n_mols_nonfinite += int(bad.any(axis=1).sum())
            for j in np.flatnonzero(bad.any(axis=0)):
                room = MAX_REPORTED_IDS - len(self.examples[j])
                if room > 0:
                    self.examples[j] += [mol_ids[i] for i in np.flatnonzero(bad[:, j])[:room]]
        if result.graphs is not None:
            g = result.graphs
            self.n_atoms += int(g.n_atoms.sum())
            self.n_bonds += int(g.n_bonds.sum())
            self.max_atoms = max(self.max_atoms, int(g.n_atoms.max(initial=0)))
            self.n_other_element += int(np.count_nonzero(g.atom_codes[:, 0] == OTHER_ELEMENT))
            self.atom_nan += np.isnan(g.atom_real).sum(axis=0)

    def fractions(self) -> np.ndarray:
        return self.nonfinite / max(self.n_seen, 1)

    def dropped_descriptors(self) -> list[str]:
        """Descriptors whose non-finite fraction exceeds the configured threshold."""
        if self.config.descriptors is None:
            return []
        limit = self.config.descriptors.max_nonfinite_fraction
        return [n for n, f in zip(self.names, self.fractions()) if f > limit]

    def metrics(self) -> dict:
        """The featurize metrics (JSON-serializable, deterministic)."""
        if self.n_seen != self.n_expected:
            raise RuntimeError(f"featurized {self.n_seen} molecules, expected {self.n_expected}")
        morgan, desc = self.config.morgan, self.config.descriptors
        dropped = self.dropped_descriptors()
        nonfinite = {
            name: {"n_molecules": int(c), "fraction": round(float(f), 6), "dropped": name in dropped,
                   "mol_ids": self.examples[j], "mol_ids_truncated": int(c) > len(self.examples[j])}
            for j, (name, c, f) in enumerate(zip(self.names, self.nonfinite, self.fractions())) if c
        }  # fmt: skip
        return {
            "n_molecules": self.n_seen,
            "n_fp_bits": morgan.n_bits if morgan else 0,
            "n_descriptors": len(self.names) - len(dropped),
            "fingerprint": None if morgan is None else {
                "type": "morgan", "radius": morgan.radius, "counts": morgan.counts,
                "n_counts_clipped_at_255": self.n_clipped},
            "descriptors": None if desc is None else {
                "set": desc.set, "n_computed": len(self.names),
                "max_nonfinite_fraction": desc.max_nonfinite_fraction, "dropped": dropped,
                "n_with_nonfinite": len(nonfinite),
                "n_molecules_with_nonfinite": self.n_mols_nonfinite,
                "nonfinite": nonfinite},
            "graph": None if not self.config.graph else {
                "atom_fdim": ATOM_FDIM, "bond_fdim": BOND_FDIM, "n_atoms_total": self.n_atoms,
                "n_bonds_total": self.n_bonds, "max_atoms": self.max_atoms,
                "n_atoms_other_element": self.n_other_element,
                # atoms whose real-valued feature RDKit could not compute (the network sees 0)
                "n_atoms_nonfinite": {n: int(c) for n, c in zip(ATOM_REAL_NAMES, self.atom_nan) if c}},
        }  # fmt: skip
