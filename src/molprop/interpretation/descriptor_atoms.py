"""Atom shares of RDKit descriptors that are sums over atoms.

For such a descriptor ``d = sum_a c_a``, a contribution of ``d`` to a prediction can be put
on the atoms in proportion ``c_a / d``: the polar atoms carry TPSA's effect, the N and O
atoms NOCount's. The per-atom terms come from RDKit itself (TPSA, Crippen logP and molar
refractivity, Labute ASA) or from what RDKit counts (NOCount's N and O atoms, NHOHCount's
hydrogens on them). Other descriptors (topological indices, VSA bins, charges...) are not
sums over atoms and stay unmapped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

_NO = Chem.MolFromSmarts("[#7,#8]")  # RDKit's NOCount pattern (Lipinski.NOCountSmarts)
# Mixed-sign terms (logP) are mapped only when they do not mostly cancel: |sum| >= this x sum|c|.
MIN_NET_FRACTION = 0.5


def _crippen(mol: Chem.Mol, which: int) -> np.ndarray:
    """Crippen logP (0) or MR (1) terms with the hydrogens' terms folded onto their atom."""
    with_h = Chem.AddHs(mol)
    terms = np.array([t[which] for t in rdMolDescriptors._CalcCrippenContribs(with_h)])
    folded = terms[: mol.GetNumAtoms()].copy()
    for index in range(mol.GetNumAtoms(), with_h.GetNumAtoms()):  # AddHs appends the Hs
        folded[with_h.GetAtomWithIdx(index).GetNeighbors()[0].GetIdx()] += terms[index]
    return folded


def _nhoh(mol: Chem.Mol) -> np.ndarray:
    """NHOHCount's terms: the hydrogens on each N and O (RDKit counts hydrogens, so the N of
    NCCO carries 2 of its 3, not half)."""
    return np.array([float(a.GetTotalNumHs()) if a.GetAtomicNum() in (7, 8) else 0.0 for a in mol.GetAtoms()])


def _labute(mol: Chem.Mol) -> np.ndarray:
    """Labute ASA terms: each heavy atom's, plus RDKit's one term for hydrogen (a single
    figure, whatever their number; there even without hydrogens: CF4) split over the atoms
    that carry hydrogens, per hydrogen, or without any, over the heavy atoms by their terms."""
    terms, hydrogens = rdMolDescriptors._CalcLabuteASAContribs(mol)
    terms = np.asarray(terms, dtype=np.float64)
    counts = np.array([a.GetTotalNumHs() for a in mol.GetAtoms()], dtype=np.float64)
    weights = counts if counts.sum() else terms
    return terms + float(hydrogens) * weights / weights.sum()


def _matches(pattern: Chem.Mol) -> Callable[[Chem.Mol], np.ndarray]:
    def count(mol: Chem.Mol) -> np.ndarray:
        terms = np.zeros(mol.GetNumAtoms())
        for (atom,) in mol.GetSubstructMatches(pattern):
            terms[atom] = 1.0
        return terms
    return count


ATOM_TERMS: dict[str, Callable[[Chem.Mol], np.ndarray]] = {
    "TPSA": lambda mol: np.asarray(rdMolDescriptors._CalcTPSAContribs(mol), dtype=np.float64),
    "LabuteASA": _labute,
    "MolLogP": lambda mol: _crippen(mol, 0),
    "MolMR": lambda mol: _crippen(mol, 1),
    "NOCount": _matches(_NO),
    "NHOHCount": _nhoh,
}


def descriptor_shares(mol: Chem.Mol, name: str) -> np.ndarray | None:
    """Per-atom fractions (summing to 1) of descriptor ``name`` (RDKit name, without the
    ``desc_`` prefix) in ``mol``; None when it is not a sum over atoms, is zero in ``mol``,
    or its terms mostly cancel."""
    terms_of = ATOM_TERMS.get(name)
    if terms_of is None:
        return None
    terms = terms_of(mol)
    total = float(terms.sum())
    if abs(total) < 1e-9 or abs(total) < MIN_NET_FRACTION * float(np.abs(terms).sum()):
        return None
    return terms / total
