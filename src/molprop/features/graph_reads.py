"""Raw atom and bond properties of many RDKit molecules at once, as flat numpy arrays.

Each property is one RDKit getter mapped over a molecule's atoms (or bonds), with no
per-atom Python code: the cost is the RDKit calls themselves. Two properties need no
per-atom call: the degree (explicit neighbours) is counted from the bonds, and the chiral
tag is read only on the atoms RDKit reports as having one (most atoms have none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdqueries
from rdkit.Chem.rdchem import Atom, Bond

_HAS_CHIRAL_TAG = rdqueries.HasChiralTagQueryAtom()


@dataclass(frozen=True)
class AtomReads:
    """Per-atom properties of all atoms of several molecules, concatenated in order."""

    n_atoms: np.ndarray  # (n_mols,) int32
    atomic_num: np.ndarray  # int64, all the integer arrays below too
    total_degree: np.ndarray  # explicit neighbours + implicit and explicit Hs (GetTotalDegree)
    formal_charge: np.ndarray
    chiral_tag: np.ndarray  # int(ChiralType)
    total_num_hs: np.ndarray
    hybridization: np.ndarray  # int(HybridizationType)
    aromatic: np.ndarray  # bool
    mass: np.ndarray  # float64, GetMass (isotope-aware)


@dataclass(frozen=True)
class BondReads:
    """Per-bond properties of all bonds of several molecules (RDKit bond order), in order."""

    n_bonds: np.ndarray  # (n_mols,) int32
    begin: np.ndarray  # int64, atom index local to the molecule
    end: np.ndarray
    bond_type: np.ndarray  # int(BondType)
    stereo: np.ndarray  # int(BondStereo)
    conjugated: np.ndarray  # bool
    in_ring: np.ndarray  # bool


ATOM_GETTERS = (Atom.GetAtomicNum, Atom.GetFormalCharge, Atom.GetTotalNumHs, Atom.GetHybridization,
                Atom.GetIsAromatic, Atom.GetMass)  # fmt: skip
BOND_GETTERS = (Bond.GetBeginAtomIdx, Bond.GetEndAtomIdx, Bond.GetBondType, Bond.GetStereo,
                Bond.GetIsConjugated, Bond.IsInRing)  # fmt: skip


def _read(mols: Sequence[Chem.Mol], count: str, item: str, getters: tuple) -> tuple[np.ndarray, list[list]]:
    """Number of atoms (or bonds) per molecule, and each getter's values over all of them.

    One molecule at a time: its few atom objects stay in cache and are freed right away
    (holding a whole chunk's atom objects at once is about 1.5x slower)."""
    columns: list[list] = [[] for _ in getters]
    counts = np.empty(len(mols), dtype=np.int32)
    for i, mol in enumerate(mols):
        n = counts[i] = getattr(mol, count)()
        objects = list(map(getattr(mol, item), range(n)))
        for column, getter in zip(columns, getters):
            column += map(getter, objects)
    return counts, columns


def _ints(values: list) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def read_bonds(mols: Sequence[Chem.Mol]) -> BondReads:
    """The bond properties the graph features use, for every bond of ``mols``."""
    n_bonds, columns = _read(mols, "GetNumBonds", "GetBondWithIdx", BOND_GETTERS)
    begin, end, kind, stereo, conjugated, ring = columns
    return BondReads(n_bonds, _ints(begin), _ints(end), _ints(kind), _ints(stereo),
                     np.array(conjugated, dtype=bool), np.array(ring, dtype=bool))  # fmt: skip


def read_atoms(mols: Sequence[Chem.Mol], bonds: BondReads) -> AtomReads:
    """The atom properties the graph features use, for every atom of ``mols`` (``bonds``:
    the same molecules' ``read_bonds``, from which the degrees are counted)."""
    n_atoms, columns = _read(mols, "GetNumAtoms", "GetAtomWithIdx", ATOM_GETTERS)
    element, charge, num_hs, hybrid, aromatic, mass = columns
    starts = np.concatenate([[0], np.cumsum(n_atoms, dtype=np.int64)])
    bond_start = np.repeat(starts[:-1], bonds.n_bonds)
    degree = np.bincount(np.concatenate([bonds.begin + bond_start, bonds.end + bond_start]),
                         minlength=int(starts[-1]))  # fmt: skip
    chiral = np.zeros(int(starts[-1]), dtype=np.int64)
    for mol, start in zip(mols, starts.tolist()):
        for atom in mol.GetAtomsMatchingQuery(_HAS_CHIRAL_TAG):
            chiral[start + atom.GetIdx()] = atom.GetChiralTag()
    num_hs = _ints(num_hs)
    return AtomReads(n_atoms, _ints(element), degree + num_hs, _ints(charge), chiral, num_hs, _ints(hybrid),
                     np.array(aromatic, dtype=bool), np.array(mass, dtype=np.float64))  # fmt: skip
