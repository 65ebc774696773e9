"""Molecular graphs to and from Parquet (``data/graphs.parquet``), without torch.

One row per molecule: ``mol_id``, ``n_atoms``, ``n_bonds`` (int32) and flattened list columns
``atom_bits`` (uint8, n_atoms x ATOM_BINARY_DIM, row-major), ``atom_mass`` (float32, mass /
100 per atom), ``bond_index`` (int32, n_bonds x 2: each bond once, undirected, as (begin, end)
atom indices local to the molecule) and ``bond_bits`` (uint8, n_bonds x BOND_FDIM). The
feature names are stored in the schema metadata and checked when loading.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from molprop.features.graph import (
    ATOM_BINARY_DIM,
    BOND_FDIM,
    GraphChunk,
    MolGraph,
    atom_feature_names,
    bond_feature_names,
)
from molprop.schema import MOL_ID

METADATA_KEY = b"molprop.graph"
_LISTS = (("atom_bits", pa.uint8()), ("atom_mass", pa.float32()), ("bond_index", pa.int32()),
          ("bond_bits", pa.uint8()))  # fmt: skip


def graph_metadata() -> dict:
    """What the stored arrays mean (kept in the Parquet schema metadata)."""
    return {
        "version": 1,
        "atom_features": atom_feature_names(),
        "bond_features": bond_feature_names(),
        "atom_bits": "row-major n_atoms x (atom_features minus the last, mass/100)",
        "bond_index": "undirected: each bond once as (begin, end), atom indices per molecule",
    }


def graph_schema(enabled: bool = True) -> pa.Schema:
    """Schema of graphs.parquet; with ``enabled=False`` only ``mol_id`` (graphs turned off)."""
    columns = [pa.field(MOL_ID, pa.string())]
    meta = {"enabled": False}
    if enabled:
        columns += [pa.field("n_atoms", pa.int32()), pa.field("n_bonds", pa.int32())]
        columns += [pa.field(name, pa.list_(kind)) for name, kind in _LISTS]
        meta = graph_metadata()
    return pa.schema(columns, metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})


def _list_array(values: np.ndarray, counts: np.ndarray, kind: pa.DataType) -> pa.ListArray:
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.reshape(-1), type=kind))


def graph_table(mol_ids: Sequence[str], chunk: GraphChunk) -> pa.Table:
    """The rows of graphs.parquet for the molecules of a GraphChunk."""
    per_atom, per_bond = chunk.n_atoms.astype(np.int64), chunk.n_bonds.astype(np.int64)
    counts = (per_atom * ATOM_BINARY_DIM, per_atom, per_bond * 2, per_bond * BOND_FDIM)
    arrays = [pa.array(list(mol_ids), pa.string()), pa.array(chunk.n_atoms), pa.array(chunk.n_bonds)]
    sources = (chunk.atom_bits, chunk.atom_mass, chunk.bond_index, chunk.bond_bits)
    arrays += [_list_array(v, c, k) for v, c, (_, k) in zip(sources, counts, _LISTS)]
    return pa.Table.from_arrays(arrays, schema=graph_schema())


def _flat(column: pa.ChunkedArray, dtype: type) -> np.ndarray:
    parts = [c.flatten().to_numpy(zero_copy_only=False) for c in column.chunks]
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)


def load_graph_chunk(path: str | Path) -> tuple[list[str], GraphChunk]:
    """All graphs of a graphs.parquet as mol_ids and one GraphChunk (arrays + offsets)."""
    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(METADATA_KEY, b"{}"))
    if meta.get("enabled") is False:
        raise ValueError(f"{path} holds no graphs: set featurize.graph: true and re-run featurize")
    if meta.get("atom_features") != atom_feature_names() or meta.get("bond_features") != bond_feature_names():
        raise ValueError(
            f"{path} was written with other atom/bond features than this molprop version "
            "defines; re-run the featurize stage (dvc repro featurize)"
        )
    n_atoms = table.column("n_atoms").to_numpy().astype(np.int32)
    n_bonds = table.column("n_bonds").to_numpy().astype(np.int32)
    chunk = GraphChunk(
        n_atoms=n_atoms,
        n_bonds=n_bonds,
        atom_bits=_flat(table.column("atom_bits"), np.uint8).reshape(-1, ATOM_BINARY_DIM),
        atom_mass=_flat(table.column("atom_mass"), np.float32),
        bond_index=_flat(table.column("bond_index"), np.int32).reshape(-1, 2),
        bond_bits=_flat(table.column("bond_bits"), np.uint8).reshape(-1, BOND_FDIM),
    )
    return table.column(MOL_ID).to_pylist(), chunk


def load_graphs(path: str | Path) -> list[MolGraph]:
    """Every molecule of a graphs.parquet as a MolGraph, in file (= validated.parquet) order."""
    return load_graph_chunk(path)[1].graphs()


def load_aligned_graphs(path: str | Path, mol_ids: Sequence[str]) -> list[MolGraph]:
    """The graphs of ``mol_ids``, which must be the file's molecules in the file's order
    (the row order of data/validated.parquet)."""
    ids, chunk = load_graph_chunk(path)
    if list(ids) != list(mol_ids):
        raise ValueError(f"{path} is not row-aligned with data/validated.parquet; re-run `dvc repro`")
    return chunk.graphs()


def has_graphs(path: str | Path) -> bool:
    """Whether a graphs.parquet holds graphs (featurize.graph was on), from its schema only."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(METADATA_KEY, b"{}")).get("enabled", True) is not False
