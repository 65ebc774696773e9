"""Every enabled featurizer on one chunk of molecules: what a featurize worker process runs.

On Linux the worker processes are forked from the featurizing process; elsewhere they fork
from a server that imports this module once, so it imports only what featurizing needs
(RDKit, numpy; the descriptor functions when they are on), not the Parquet writing or the
progress bar of ``molprop.features.runner``. Either way a worker uses nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from molprop.features.config import FeaturizeConfig
from molprop.features.fingerprints import morgan_fingerprints
from molprop.features.graph import GraphChunk, concat_chunks, graph_chunk
from molprop.molecules import parse_validated


@dataclass(frozen=True)
class ChunkResult:
    """Features of one chunk of molecules (None for a featurizer that is off)."""

    fingerprints: np.ndarray | None  # (n, n_bits) uint8
    n_clipped: int
    descriptors: np.ndarray | None  # (n, n_descriptors) float32, NaN = non-finite
    graphs: GraphChunk | None


def featurize_chunk(task: tuple[Sequence[str], Sequence[str], FeaturizeConfig]) -> ChunkResult:
    """Every enabled featurizer on one chunk of (mol_ids, SMILES)."""
    mol_ids, smiles, config = task
    fingerprints_only = not (config.descriptors or config.graph)
    mols = parse_validated(smiles, mol_ids, "mol_id", "the featurize input", for_fingerprints=fingerprints_only)
    fps, n_clipped = morgan_fingerprints(mols, config.morgan) if config.morgan else (None, 0)
    desc = None
    if config.descriptors:  # imported here: RDKit's Descriptors module takes ~0.2 s to import
        from molprop.features.descriptors import compute_descriptors

        desc = compute_descriptors(mols, config.descriptors.set)
    graphs = graph_chunk(mols) if config.graph else None
    return ChunkResult(fps, n_clipped, desc, graphs)


def merge_results(parts: Sequence[ChunkResult]) -> ChunkResult:
    """One ChunkResult for the molecules of ``parts``, in order."""
    if len(parts) == 1:
        return parts[0]

    def cat(arrays: list[np.ndarray | None]) -> np.ndarray | None:
        return None if arrays[0] is None else np.concatenate(arrays)

    graphs = None if parts[0].graphs is None else concat_chunks([p.graphs for p in parts])
    return ChunkResult(cat([p.fingerprints for p in parts]), sum(p.n_clipped for p in parts),
                       cat([p.descriptors for p in parts]), graphs)  # fmt: skip
