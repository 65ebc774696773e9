"""Molecular graphs for a directed message-passing network (D-MPNN, as in Chemprop).

Atoms are nodes (implicit hydrogens are an atom feature, not nodes); each chemical bond is
stored once, undirected, as ``(begin_atom, end_atom)`` in RDKit bond order. ``batch_graphs``
turns bonds into directed edges for message passing: edge ``2k`` is bond ``k`` begin -> end,
edge ``2k + 1`` is end -> begin, so the reverse of edge ``e`` is ``e ^ 1``.

Atom features (``ATOM_FDIM``): one-hot element (common elements + other), degree, formal
charge, chirality tag, total number of Hs, hybridization (each with an "other" slot), an
aromatic flag (all 0/1), then the real-valued ``ATOM_REAL_NAMES``: mass / 100 and the per-atom
physicochemical contributions of :mod:`molprop.features.atom_physchem` (Crippen logP and MR,
TPSA, Labute ASA, Gasteiger charge). Bond features (``BOND_FDIM``, all 0/1): one-hot bond
type (+ other), conjugated, in ring, one-hot stereo (+ other).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
from rdkit import Chem
from rdkit.Chem.rdchem import BondStereo, BondType, ChiralType, HybridizationType

from molprop.features.atom_physchem import N_PHYSCHEM, PHYSCHEM_NAMES, atom_physchem
from molprop.features.graph_reads import read_atoms, read_bonds

ELEMENTS = ("H", "B", "C", "N", "O", "F", "Na", "Mg", "Si", "P", "S", "Cl", "K", "Ca",
            "Fe", "Cu", "Zn", "Se", "Br", "Sn", "I")  # fmt: skip
DEGREES = (0, 1, 2, 3, 4, 5)
FORMAL_CHARGES = (-2, -1, 0, 1, 2)
CHIRAL_TAGS = (ChiralType.CHI_UNSPECIFIED, ChiralType.CHI_TETRAHEDRAL_CW,
               ChiralType.CHI_TETRAHEDRAL_CCW)  # fmt: skip
NUM_HS = (0, 1, 2, 3, 4)
HYBRIDIZATIONS = (HybridizationType.S, HybridizationType.SP, HybridizationType.SP2,
                  HybridizationType.SP3, HybridizationType.SP3D, HybridizationType.SP3D2)  # fmt: skip
BOND_TYPES = (BondType.SINGLE, BondType.DOUBLE, BondType.TRIPLE, BondType.AROMATIC)
BOND_STEREOS = (BondStereo.STEREONONE, BondStereo.STEREOANY, BondStereo.STEREOZ,
                BondStereo.STEREOE, BondStereo.STEREOCIS, BondStereo.STEREOTRANS)  # fmt: skip

_PT = Chem.GetPeriodicTable()
_ATOM_CHOICES = (
    ("element", tuple(_PT.GetAtomicNumber(s) for s in ELEMENTS), ELEMENTS),
    ("degree", DEGREES, DEGREES),
    ("formal_charge", FORMAL_CHARGES, FORMAL_CHARGES),
    ("chirality", CHIRAL_TAGS, tuple(str(t) for t in CHIRAL_TAGS)),
    ("num_hs", NUM_HS, NUM_HS),
    ("hybridization", HYBRIDIZATIONS, tuple(str(h) for h in HYBRIDIZATIONS)),
)
_BOND_CHOICES = (
    ("bond_type", BOND_TYPES, tuple(str(t) for t in BOND_TYPES)),
    ("stereo", BOND_STEREOS, tuple(str(s) for s in BOND_STEREOS)),
)


def _slot_tables(choices: tuple) -> list[tuple[int, np.ndarray]]:
    """Per one-hot block: (smallest listed value, table of value - smallest -> slot), where
    slot ``len(values)`` is the block's "other"."""
    tables = []
    for _, values, _ in choices:
        ints = np.array([int(v) for v in values], dtype=np.int64)
        table = np.full(int(ints.max() - ints.min()) + 2, len(values), dtype=np.intp)
        table[ints - ints.min()] = np.arange(len(values))
        tables.append((int(ints.min()), table))  # last entry: "other", for out-of-range values
    return tables


def _slots(raw: np.ndarray, lowest: int, table: np.ndarray) -> np.ndarray:
    """One-hot slot of each raw value (a value the block does not list goes to "other")."""
    return table[np.clip(raw - lowest, -1, len(table) - 1)]


_ATOM_TABLES, _BOND_TABLES = _slot_tables(_ATOM_CHOICES), _slot_tables(_BOND_CHOICES)
ATOM_BLOCK_SIZES = tuple(len(v) + 1 for _, v, _ in _ATOM_CHOICES)  # one-hot blocks (+ "other"), in order
BOND_BLOCK_SIZES = tuple(len(v) + 1 for _, v, _ in _BOND_CHOICES)
ATOM_ONEHOT_DIM = sum(len(v) + 1 for _, v, _ in _ATOM_CHOICES)
ATOM_BINARY_DIM = ATOM_ONEHOT_DIM + 1  # + aromatic flag
ATOM_REAL_NAMES = ("mass/100", *PHYSCHEM_NAMES)  # the real-valued columns after the 0/1 ones
ATOM_REAL_DIM = 1 + N_PHYSCHEM
ATOM_FDIM = ATOM_BINARY_DIM + ATOM_REAL_DIM
BOND_ONEHOT_DIM = sum(len(v) + 1 for _, v, _ in _BOND_CHOICES)
BOND_FDIM = BOND_ONEHOT_DIM + 2  # + conjugated, in ring
OTHER_ELEMENT = len(ELEMENTS)  # the element block's "other" slot (its code, and its atom feature column)
ATOM_CODES = len(_ATOM_CHOICES) + 1  # a slot per one-hot block + the aromatic flag
BOND_CODES = len(_BOND_CHOICES) + 2  # + conjugated, in ring


def _names(choices: tuple) -> list[str]:
    return [f"{key}={label}" for key, _, labels in choices for label in (*labels, "other")]


def atom_feature_names() -> list[str]:
    """Names of the ``ATOM_FDIM`` atom feature columns, in order."""
    return _names(_ATOM_CHOICES) + ["aromatic", *ATOM_REAL_NAMES]


def bond_feature_names() -> list[str]:
    """Names of the ``BOND_FDIM`` bond feature columns, in order."""
    return _names(_BOND_CHOICES) + ["conjugated", "in_ring"]


@dataclass(frozen=True)
class MolGraph:
    """One molecule: atom features (n_atoms, ATOM_FDIM) float32, undirected bonds
    (n_bonds, 2) int32 and bond features (n_bonds, BOND_FDIM) float32."""

    atom_features: np.ndarray
    bond_index: np.ndarray
    bond_features: np.ndarray

    @property
    def n_atoms(self) -> int:
        return int(self.atom_features.shape[0])

    @property
    def n_bonds(self) -> int:
        return int(self.bond_index.shape[0])


@dataclass(frozen=True)
class GraphChunk:
    """Compact graphs of several molecules, concatenated: per-molecule atom / bond counts,
    atom codes (sum n_atoms, ATOM_CODES) uint8 (the slot of each one-hot block, then the
    aromatic flag), real-valued atom features (sum n_atoms, ATOM_REAL_DIM) float32, bonds
    (sum n_bonds, 2) int32 with atom indices local to each molecule, bond codes (sum n_bonds,
    BOND_CODES) uint8 (bond type and stereo slots, then the conjugated and in-ring flags), as
    graphs.parquet stores them. A physicochemical value RDKit could not compute stays NaN here
    (and in graphs.parquet, where the featurize metrics count it); the MolGraph the network
    sees has 0 in its place."""

    n_atoms: np.ndarray  # (n_mols,) int32
    n_bonds: np.ndarray  # (n_mols,) int32
    atom_codes: np.ndarray
    atom_real: np.ndarray
    bond_index: np.ndarray
    bond_codes: np.ndarray

    def __len__(self) -> int:
        return int(self.n_atoms.shape[0])

    @cached_property
    def atom_offsets(self) -> np.ndarray:
        """(n_mols + 1,) start of each molecule's atoms in the concatenated atom arrays."""
        return np.concatenate([[0], np.cumsum(self.n_atoms, dtype=np.int64)])

    @cached_property
    def bond_offsets(self) -> np.ndarray:
        """(n_mols + 1,) start of each molecule's bonds in the concatenated bond arrays."""
        return np.concatenate([[0], np.cumsum(self.n_bonds, dtype=np.int64)])

    @cached_property
    def atom_bits(self) -> np.ndarray:
        """(sum n_atoms, ATOM_BINARY_DIM) uint8: the 0/1 atom features the codes stand for."""
        return codes_to_bits(self.atom_codes, ATOM_BLOCK_SIZES, ATOM_BINARY_DIM)

    @cached_property
    def bond_bits(self) -> np.ndarray:
        """(sum n_bonds, BOND_FDIM) uint8: the 0/1 bond features the codes stand for."""
        return codes_to_bits(self.bond_codes, BOND_BLOCK_SIZES, BOND_FDIM)

    def graph(self, i: int) -> MolGraph:
        """The i-th molecule as a MolGraph (float32 features)."""
        a0, a1 = self.atom_offsets[i], self.atom_offsets[i + 1]
        b0, b1 = self.bond_offsets[i], self.bond_offsets[i + 1]
        return assemble_graph(self.atom_bits[a0:a1], self.atom_real[a0:a1],
                              self.bond_index[b0:b1], self.bond_bits[b0:b1])  # fmt: skip

    def graphs(self) -> list[MolGraph]:
        """Every molecule as a MolGraph, in order."""
        return [self.graph(i) for i in range(len(self))]


def concat_chunks(chunks: Sequence[GraphChunk]) -> GraphChunk:
    """One GraphChunk holding the molecules of several, in order."""
    return GraphChunk(*(np.concatenate([getattr(c, f) for c in chunks]) for f in _CHUNK_FIELDS))


_CHUNK_FIELDS = tuple(f.name for f in fields(GraphChunk))


def graph_chunk(mols: Sequence[Chem.Mol]) -> GraphChunk:
    """Featurize several molecules at once into one GraphChunk (RDKit reads per property,
    one-hot slots looked up in numpy over the whole chunk)."""
    bonds = read_bonds(mols)
    atoms = read_atoms(mols, bonds)
    raw = (atoms.atomic_num, atoms.total_degree, atoms.formal_charge, atoms.chiral_tag,
           atoms.total_num_hs, atoms.hybridization)  # fmt: skip
    atom_codes = _codes(raw, _ATOM_TABLES, (atoms.aromatic,))
    bond_codes = _codes((bonds.bond_type, bonds.stereo), _BOND_TABLES, (bonds.conjugated, bonds.in_ring))
    bond_index = np.stack([bonds.begin, bonds.end], axis=1).astype(np.int32)
    atom_real = np.empty((len(atoms.mass), ATOM_REAL_DIM), dtype=np.float32)
    atom_real[:, 0] = atoms.mass * 0.01
    atom_real[:, 1:] = atom_physchem(mols)
    atom_real[np.isinf(atom_real)] = np.nan
    return GraphChunk(atoms.n_atoms, bonds.n_bonds, atom_codes, atom_real, bond_index, bond_codes)


def _codes(raw: tuple[np.ndarray, ...], tables: list, flags: tuple[np.ndarray, ...]) -> np.ndarray:
    """(n, blocks + flags) uint8: each block's slot of each row's raw value, then the flags."""
    codes = np.empty((len(raw[0]), len(raw) + len(flags)), dtype=np.uint8)
    for k, (values, table) in enumerate(zip(raw, tables)):
        codes[:, k] = _slots(values, *table)
    for k, flag in enumerate(flags, len(raw)):
        codes[:, k] = flag
    return codes


def codes_to_bits(codes: np.ndarray, blocks: Sequence[int], width: int) -> np.ndarray:
    """The (n, width) uint8 0/1 matrix that ``codes`` stand for: per row, a 1 in the coded
    slot of each one-hot block (sizes ``blocks``, from column 0), then the 0/1 flags."""
    n_blocks = len(blocks)
    bits = np.zeros((codes.shape[0], width), dtype=np.uint8)
    starts = np.cumsum([0, *blocks[:-1]])
    bits[np.arange(codes.shape[0])[:, None], codes[:, :n_blocks] + starts] = 1
    bits[:, sum(blocks):] = codes[:, n_blocks:]
    return bits


def assemble_graph(atom_bits: np.ndarray, atom_real: np.ndarray, bond_index: np.ndarray,
                   bond_bits: np.ndarray) -> MolGraph:  # fmt: skip
    """A MolGraph from compact arrays (0/1 uint8 parts and the real-valued atom columns,
    whose NaNs become 0)."""
    atom_features = np.empty((atom_bits.shape[0], ATOM_FDIM), dtype=np.float32)
    atom_features[:, :ATOM_BINARY_DIM] = atom_bits
    atom_features[:, ATOM_BINARY_DIM:] = np.nan_to_num(np.asarray(atom_real).reshape(-1, ATOM_REAL_DIM), nan=0.0)
    bond_index = np.asarray(bond_index, dtype=np.int32).reshape(-1, 2)
    bond_features = np.asarray(bond_bits, dtype=np.float32).reshape(-1, BOND_FDIM)
    return MolGraph(atom_features, bond_index, bond_features)


def featurize_graph(mol: Chem.Mol) -> MolGraph:
    """The D-MPNN graph of an RDKit molecule (hydrogens implicit)."""
    return graph_chunk([mol]).graph(0)


@dataclass(frozen=True)
class GraphBatch:
    """Several molecules as one disconnected graph with directed edges (numpy, no torch).

    ``edge_index[:, e]`` = (source atom, target atom); ``rev_edge_index[e]`` is the edge in the
    opposite direction; ``atom_to_mol[a]`` is the molecule (0..n_mols-1) atom ``a`` belongs to.
    """

    atom_features: np.ndarray  # (n_atoms_total, ATOM_FDIM) float32
    edge_index: np.ndarray  # (2, n_edges) int64
    edge_features: np.ndarray  # (n_edges, BOND_FDIM) float32
    rev_edge_index: np.ndarray  # (n_edges,) int64
    atom_to_mol: np.ndarray  # (n_atoms_total,) int64
    n_atoms: np.ndarray  # (n_mols,) int64


def batch_graphs(graphs: Sequence[MolGraph]) -> GraphBatch:
    """Concatenate graphs into one batch, each bond becoming two directed edges."""
    n_atoms = np.array([g.n_atoms for g in graphs], dtype=np.int64)
    atom_offsets = np.concatenate([[0], np.cumsum(n_atoms)[:-1]]).astype(np.int64)
    bonds = [g.bond_index.astype(np.int64) + off for g, off in zip(graphs, atom_offsets)]
    bond_index = np.concatenate(bonds) if bonds else np.empty((0, 2), dtype=np.int64)
    bond_index = bond_index.reshape(-1, 2)
    edge_index = np.stack([bond_index, bond_index[:, ::-1]], axis=1).reshape(-1, 2).T
    feats = [g.bond_features for g in graphs]
    bond_feats = np.concatenate(feats) if feats else np.empty((0, BOND_FDIM), np.float32)
    atom_feats = [g.atom_features for g in graphs]
    return GraphBatch(
        atom_features=np.concatenate(atom_feats) if atom_feats else np.empty((0, ATOM_FDIM), np.float32),
        edge_index=np.ascontiguousarray(edge_index),
        edge_features=np.repeat(bond_feats.reshape(-1, BOND_FDIM), 2, axis=0),
        rev_edge_index=np.arange(2 * bond_index.shape[0], dtype=np.int64) ^ 1,
        atom_to_mol=np.repeat(np.arange(len(graphs), dtype=np.int64), n_atoms),
        n_atoms=n_atoms,
    )
