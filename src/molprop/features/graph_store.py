"""Molecular graphs to and from Parquet (``data/graphs.parquet``), without torch.

One row per molecule: ``mol_id``, ``n_atoms``, ``n_bonds`` (int32) and four binary columns,
each one molecule's array as little-endian bytes, row-major:

- ``atom_codes`` uint8 (n_atoms x (6 + 1)): per atom, the slot taken in each one-hot block of
  the atom features (element, degree, formal charge, chirality, num Hs, hybridization; the
  last slot of a block is "other"), then the aromatic flag;
- ``atom_real`` float32 (n_atoms x 6): the real-valued atom features (mass / 100, then the
  physicochemical contributions; NaN where RDKit could not compute one);
- ``bond_index`` int32 (n_bonds x 2): each bond once, undirected, as (begin, end) atom
  indices local to the molecule;
- ``bond_codes`` uint8 (n_bonds x (2 + 2)): slot in the bond type and stereo blocks, then
  the conjugated and in-ring flags.

Codes rather than one-hot vectors, and one binary value per molecule rather than Parquet
lists, keep the file small and its writing and reading fast (a list column costs Parquet
levels for every element). The feature names and block sizes are stored in the schema
metadata and checked when loading; the codes are ``GraphChunk``'s own (it expands them to
one-hot features when it builds the network's graphs).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from molprop.errors import UserInputError
from molprop.features.graph import (
    ATOM_BLOCK_SIZES,
    ATOM_CODES,
    ATOM_REAL_DIM,
    BOND_BLOCK_SIZES,
    BOND_CODES,
    GraphChunk,
    MolGraph,
    atom_feature_names,
    bond_feature_names,
)
from molprop.schema import MOL_ID

METADATA_KEY = b"molprop.graph"
VERSION = 3
# binary column: (dtype, values per atom or bond, one row per atom (True) or per bond (False))
_COLUMNS = {"atom_codes": ("<u1", ATOM_CODES, True), "atom_real": ("<f4", ATOM_REAL_DIM, True),
            "bond_index": ("<i4", 2, False), "bond_codes": ("<u1", BOND_CODES, False)}  # fmt: skip


def graph_metadata() -> dict:
    """What the stored arrays mean (kept in the Parquet schema metadata)."""
    return {
        "version": VERSION,
        "atom_features": atom_feature_names(),
        "bond_features": bond_feature_names(),
        "atom_blocks": list(ATOM_BLOCK_SIZES),
        "bond_blocks": list(BOND_BLOCK_SIZES),
        "columns": {name: {"dtype": dtype, "per_atom_or_bond": width} for name, (dtype, width, _) in _COLUMNS.items()},
        "atom_codes": "per atom: the slot in each one-hot block of atom_features, then the 0/1 features after them",
        "bond_codes": "per bond: the slot in each one-hot block of bond_features, then the 0/1 features after them",
        "bond_index": "undirected: each bond once as (begin, end), atom indices per molecule",
    }


def graph_schema(enabled: bool = True) -> pa.Schema:
    """Schema of graphs.parquet; with ``enabled=False`` only ``mol_id`` (graphs turned off)."""
    columns = [pa.field(MOL_ID, pa.string())]
    meta = {"enabled": False}
    if enabled:
        columns += [pa.field("n_atoms", pa.int32()), pa.field("n_bonds", pa.int32())]
        columns += [pa.field(name, pa.large_binary()) for name in _COLUMNS]
        meta = graph_metadata()
    return pa.schema(columns, metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})


def _checked_codes(codes: np.ndarray, blocks: Sequence[int], path: object) -> np.ndarray:
    """``codes`` as read from ``path``, refused if a slot lies outside its block or a flag is not 0/1."""
    if (codes[:, : len(blocks)] >= np.asarray(blocks)).any() or (codes[:, len(blocks) :] > 1).any():
        raise UserInputError(f"{path}: graph codes out of range: the graphs file is damaged; re-run the featurize stage")
    return codes


def _blobs(values: np.ndarray, counts: np.ndarray, dtype: str, width: int) -> pa.LargeBinaryArray:
    """One binary value per molecule: its ``counts[i]`` rows (of ``width`` values) as bytes."""
    data = np.ascontiguousarray(values, dtype=dtype)
    offsets = np.concatenate([[0], np.cumsum(counts.astype(np.int64) * data.itemsize * width)])
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(counts),
                                            [None, pa.py_buffer(offsets), pa.py_buffer(data)])  # fmt: skip


def graph_table(mol_ids: Sequence[str], chunk: GraphChunk) -> pa.Table:
    """The rows of graphs.parquet for the molecules of a GraphChunk."""
    sources = {"atom_codes": chunk.atom_codes, "atom_real": chunk.atom_real,
               "bond_index": chunk.bond_index, "bond_codes": chunk.bond_codes}  # fmt: skip
    arrays = [pa.array(list(mol_ids), pa.string()), pa.array(chunk.n_atoms), pa.array(chunk.n_bonds)]
    arrays += [_blobs(sources[name], chunk.n_atoms if per_atom else chunk.n_bonds, dtype, width)
               for name, (dtype, width, per_atom) in _COLUMNS.items()]  # fmt: skip
    return pa.Table.from_arrays(arrays, schema=graph_schema())


def _unblob(table: pa.Table, name: str, counts: np.ndarray, path: object) -> np.ndarray:
    """The concatenated arrays of one binary column, (sum counts, width), checked against counts."""
    dtype, width, _ = _COLUMNS[name]
    parts, lengths = [np.empty(0, np.uint8)], [np.empty(0, np.int64)]
    for chunk in table.column(name).chunks:
        _, offsets, data = chunk.buffers()
        offsets = np.frombuffer(offsets, dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
        parts.append(np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]])
        lengths.append(np.diff(offsets))
    if not np.array_equal(np.concatenate(lengths), counts.astype(np.int64) * np.dtype(dtype).itemsize * width):
        raise UserInputError(f"{path}: column {name} does not match n_atoms / n_bonds: the file is damaged; "
                         "re-run the featurize stage (dvc repro featurize)")  # fmt: skip
    native = np.dtype(dtype).newbyteorder("=")
    return np.concatenate(parts).view(dtype).astype(native, copy=False).reshape(-1, width)


def load_graph_chunk(path: str | Path) -> tuple[list[str], GraphChunk]:
    """All graphs of a graphs.parquet as mol_ids and one GraphChunk (arrays + offsets)."""
    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(METADATA_KEY, b"{}"))
    if meta.get("enabled") is False:
        raise UserInputError(f"{path} holds no graphs: set featurize.graph: true and re-run featurize")
    features = (meta.get("atom_features"), meta.get("bond_features"))
    if meta.get("version") != VERSION or features != (atom_feature_names(), bond_feature_names()):
        raise UserInputError(
            f"{path} was written by another molprop version (graph format {meta.get('version')}, this "
            f"one reads {VERSION}) or with other atom/bond features; re-run the featurize stage "
            "(dvc repro featurize)"
        )
    n_atoms = table.column("n_atoms").to_numpy().astype(np.int32)
    n_bonds = table.column("n_bonds").to_numpy().astype(np.int32)
    chunk = GraphChunk(
        n_atoms=n_atoms,
        n_bonds=n_bonds,
        atom_codes=_checked_codes(_unblob(table, "atom_codes", n_atoms, path), ATOM_BLOCK_SIZES, path),
        atom_real=_unblob(table, "atom_real", n_atoms, path),
        bond_index=_unblob(table, "bond_index", n_bonds, path),
        bond_codes=_checked_codes(_unblob(table, "bond_codes", n_bonds, path), BOND_BLOCK_SIZES, path),
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
        raise UserInputError(f"{path} is not row-aligned with data/validated.parquet; re-run `dvc repro`")
    return chunk.graphs()


def has_graphs(path: str | Path) -> bool:
    """Whether a graphs.parquet holds graphs (featurize.graph was on), from its schema only."""
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(METADATA_KEY, b"{}")).get("enabled", True) is not False
