"""Featurize a whole table: chunks in worker processes, streamed to Parquet in order.

Workers get (mol_ids, SMILES) chunks and return compact numpy arrays; the parent writes them
in input order, one Parquet row group per ``row_group_size`` molecules, so memory holds at
most a row group plus the chunks in flight, and the files do not depend on ``n_jobs``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from molprop.features.config import FeaturizeConfig
from molprop.features.descriptors import compute_descriptors, descriptor_names
from molprop.features.fingerprints import morgan_fingerprints
from molprop.features.graph import GraphChunk, graph_chunk
from molprop.features.parallel import ordered_map, resolve_n_jobs
from molprop.features.report import FeatureReport
from molprop.features.writers import FeatureWriter, GraphWriter
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
    mols = parse_validated(smiles, mol_ids, "mol_id", "the featurize input")
    fps, n_clipped = morgan_fingerprints(mols, config.morgan) if config.morgan else (None, 0)
    desc = compute_descriptors(mols, config.descriptors.set) if config.descriptors else None
    graphs = graph_chunk(mols) if config.graph else None
    return ChunkResult(fps, n_clipped, desc, graphs)


def featurize_table(mol_ids: Sequence[str], smiles: Sequence[str], config: FeaturizeConfig,
                    features_path: str | Path, graphs_path: str | Path,
                    progress: bool = True) -> dict:  # fmt: skip
    """Write features.parquet and graphs.parquet for the molecules, and return the metrics.

    Descriptor values that are NaN/inf (or overflow float32) are stored as NaN and reported
    per descriptor; a descriptor whose non-finite fraction exceeds
    ``config.descriptors.max_nonfinite_fraction`` is dropped from features.parquet.
    """
    mol_ids, smiles = list(mol_ids), list(smiles)
    if len(mol_ids) != len(smiles):
        raise ValueError(f"{len(mol_ids)} mol_ids but {len(smiles)} SMILES")
    names = descriptor_names(config.descriptors.set) if config.descriptors else []
    report = FeatureReport(config, names, len(mol_ids))
    features = FeatureWriter(features_path, config, names)
    graphs = GraphWriter(graphs_path, config.graph, config.row_group_size)
    step = config.chunk_size
    tasks = ((mol_ids[i : i + step], smiles[i : i + step], config) for i in range(0, len(mol_ids), step))
    n_jobs = min(resolve_n_jobs(config.n_jobs), max(1, -(-len(mol_ids) // step)))
    bar = tqdm(total=len(mol_ids), unit="mol", desc="featurize", disable=not progress,
               file=sys.stderr, mininterval=1.0)  # fmt: skip
    with bar:
        for start, result in zip(range(0, len(mol_ids), step), ordered_map(featurize_chunk, tasks, n_jobs)):
            ids = list(mol_ids[start : start + step])
            report.add(ids, result)
            features.add(ids, result.fingerprints, result.descriptors)
            graphs.add(ids, result.graphs)
            bar.update(len(ids))
    graphs.close()
    features.close(drop=report.dropped_descriptors())
    return report.metrics()
