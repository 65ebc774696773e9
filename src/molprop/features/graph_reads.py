"""Raw atom and bond properties of many RDKit molecules at once, as flat numpy arrays.

Each property is one RDKit getter mapped over all atoms (or bonds) of the molecules, with
no per-atom Python code: the cost is the RDKit calls themselves. Two properties need no
per-atom call: the degree (explicit neighbours) is counted from the bonds, and the chiral
tag is read only on the atoms RDKit reports as having one (most atoms have none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

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


def _each(getter, items: list, dtype: type) -> np.ndarray:
    return np.fromiter(map(getter, items), dtype=dtype, count=len(items))


def read_bonds(mols: Sequence[Chem.Mol]) -> BondReads:
    """The bond properties the graph features use, for every bond of ``mols``."""
    n_bonds = np.fromiter(map(Chem.Mol.GetNumBonds, mols), dtype=np.int32, count=len(mols))
    bonds = list(chain.from_iterable(map(m.GetBondWithIdx, range(n)) for m, n in zip(mols, n_bonds.tolist())))
    return BondReads(
        n_bonds=n_bonds,
        begin=_each(Bond.GetBeginAtomIdx, bonds, np.int64),
        end=_each(Bond.GetEndAtomIdx, bonds, np.int64),
        bond_type=_each(Bond.GetBondType, bonds, np.int64),
        stereo=_each(Bond.GetStereo, bonds, np.int64),
        conjugated=_each(Bond.GetIsConjugated, bonds, bool),
        in_ring=_each(Bond.IsInRing, bonds, bool),
    )


def read_atoms(mols: Sequence[Chem.Mol], bonds: BondReads) -> AtomReads:
    """The atom properties the graph features use, for every atom of ``mols`` (``bonds``:
    the same molecules' ``read_bonds``, from which the degrees are counted)."""
    n_atoms = np.fromiter(map(Chem.Mol.GetNumAtoms, mols), dtype=np.int32, count=len(mols))
    starts = np.concatenate([[0], np.cumsum(n_atoms, dtype=np.int64)])
    atoms = list(chain.from_iterable(map(m.GetAtomWithIdx, range(n)) for m, n in zip(mols, n_atoms.tolist())))
    bond_start = np.repeat(starts[:-1], bonds.n_bonds)
    degree = np.bincount(np.concatenate([bonds.begin + bond_start, bonds.end + bond_start]),
                         minlength=len(atoms))  # fmt: skip
    num_hs = _each(Atom.GetTotalNumHs, atoms, np.int64)
    chiral = np.zeros(len(atoms), dtype=np.int64)
    for mol, start in zip(mols, starts.tolist()):
        for atom in mol.GetAtomsMatchingQuery(_HAS_CHIRAL_TAG):
            chiral[start + atom.GetIdx()] = atom.GetChiralTag()
    return AtomReads(
        n_atoms=n_atoms,
        atomic_num=_each(Atom.GetAtomicNum, atoms, np.int64),
        total_degree=degree + num_hs,
        formal_charge=_each(Atom.GetFormalCharge, atoms, np.int64),
        chiral_tag=chiral,
        total_num_hs=num_hs,
        hybridization=_each(Atom.GetHybridization, atoms, np.int64),
        aromatic=_each(Atom.GetIsAromatic, atoms, bool),
        mass=_each(Atom.GetMass, atoms, np.float64),
    )
