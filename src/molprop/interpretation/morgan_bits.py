"""Morgan fingerprint positions (``fp_<i>`` columns) mapped back to the atoms that set them.

A position holds every atom environment (centre atom + bond radius) that hashed to it. The
same generator as the featurize stage (``molprop.features.fingerprints``) is used, so a
position here is the column ``fp_<i>`` the models saw.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from molprop.features.fingerprints import morgan_generator

Environment = tuple[int, int]  # (centre atom index, radius)


def bit_environments(mol: Chem.Mol, radius: int, n_bits: int) -> dict[int, tuple[Environment, ...]]:
    """Fingerprint position -> the atom environments of ``mol`` that set it (one per count)."""
    info = rdFingerprintGenerator.AdditionalOutput()
    info.AllocateBitInfoMap()
    morgan_generator(radius, n_bits).GetCountFingerprintAsNumPy(mol, additionalOutput=info)
    return {int(bit): tuple((int(a), int(r)) for a, r in envs) for bit, envs in info.GetBitInfoMap().items()}


def environment_identifiers(mol: Chem.Mol, radius: int, n_bits: int) -> dict[Environment, int]:
    """Each atom environment of ``mol`` -> its unfolded Morgan identifier: one substructure in
    the fingerprint's own terms (atom invariants, no stereo), whatever the atom order; its
    position is the identifier modulo ``n_bits``, so two identifiers at one position are a
    hash collision."""
    info = rdFingerprintGenerator.AdditionalOutput()
    info.AllocateBitInfoMap()
    morgan_generator(radius, n_bits).GetSparseCountFingerprint(mol, additionalOutput=info)
    return {(int(a), int(r)): int(key) for key, envs in info.GetBitInfoMap().items() for a, r in envs}


def environment_atoms(mol: Chem.Mol, centre: int, radius: int) -> list[int]:
    """Atom indices of the environment of ``radius`` bonds around atom ``centre`` (sorted)."""
    if radius == 0:
        return [centre]
    atoms = {centre}
    for bond in Chem.FindAtomEnvironmentOfRadiusN(mol, radius, centre):
        b = mol.GetBondWithIdx(bond)
        atoms.update((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))
    return sorted(atoms)


def environment_smiles(mol: Chem.Mol, centre: int, radius: int) -> str:
    """The environment as a SMILES fragment rooted at its centre, with explicit hydrogen
    counts (a hydroxyl ``[OH]*`` is not a carbonyl ``[O]=*``) and no stereo marks (the
    fingerprint has none). At radius 0 it shows only what the fingerprint sees of one atom:
    element, hydrogens, charge, heavy neighbours and ring membership, ``[CH](~*)~* (ring)``
    for benzene's and cyclopentene's =CH- alike (neither aromaticity nor bond orders: an ether
    ``[O](~*)~*`` is still no carbonyl ``[O]~*``)."""
    if radius == 0:
        return _atom_invariants(mol.GetAtomWithIdx(centre))
    if len(Chem.GetMolFrags(mol)) > 1:  # a rooted SMILES needs one fragment: the centre's own
        atom_map: list = []
        pieces = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False, fragsMolAtomMapping=atom_map)
        piece = next(k for k, atoms in enumerate(atom_map) if centre in atoms)
        mol, centre = pieces[piece], list(atom_map[piece]).index(centre)
    plain = {"canonical": True, "allHsExplicit": True, "isomericSmiles": False}
    atoms = environment_atoms(mol, centre, radius)
    bonds = list(Chem.FindAtomEnvironmentOfRadiusN(mol, radius, centre))
    return Chem.MolFragmentToSmiles(mol, atomsToUse=atoms, bondsToUse=bonds, rootedAtAtom=centre, **plain)


def _atom_invariants(atom: Chem.Atom) -> str:
    """One atom as Morgan's radius-0 identifier sees it, in SMILES-like form: its isotope when
    the mass differs by a whole unit or more ([2H], [18O]; [13C] is carbon to it), hydrogen
    atoms written out ([2H]C) counted as hydrogens."""
    hydrogens = atom.GetTotalNumHs(includeNeighbors=True)
    charge = atom.GetFormalCharge()
    delta = int(atom.GetMass() - Chem.GetPeriodicTable().GetAtomicWeight(atom.GetAtomicNum()))
    isotope = str(atom.GetIsotope()) if atom.GetIsotope() and delta else ""
    text = isotope + atom.GetSymbol() + ("H" if hydrogens else "") + (str(hydrogens) if hydrogens > 1 else "")
    text += ("+" if charge > 0 else "-") * (charge != 0) + (str(abs(charge)) if abs(charge) > 1 else "")
    degree = sum(1 for n in atom.GetNeighbors() if n.GetAtomicNum() != 1)
    neighbours = "(~*)" * (degree - 1) + "~*" if degree else ""
    return f"[{text}]{neighbours} ({'ring' if atom.IsInRing() else 'chain'})"


def atom_weights(mol: Chem.Mol, bit_values: Mapping[int, float], radius: int,
                 n_bits: int) -> np.ndarray:
    """Per-atom share of the values of the positions ``mol`` sets: each position's value is
    split evenly over its occurrences, each occurrence's share evenly over its atoms. The
    weights sum to the total value of the positions present; absent positions get nothing."""
    weights = np.zeros(mol.GetNumAtoms())
    for bit, envs in bit_environments(mol, radius, n_bits).items():
        value = float(bit_values.get(bit, 0.0))
        for centre, r in envs:
            atoms = environment_atoms(mol, centre, r)
            weights[atoms] += value / len(envs) / len(atoms)
    return weights


@dataclass(frozen=True)
class BitExample:
    """One substructure that sets a fingerprint position: its SMILES fragment, how many
    molecules contain it, and one molecule (index into the input list) + environment."""

    smiles: str
    n_molecules: int
    example: int
    environment: Environment


def bit_substructures(mols: Sequence[Chem.Mol], bits: Sequence[int], radius: int,
                     n_bits: int) -> dict[int, list[BitExample]]:
    """Per position in ``bits``: the distinct substructures (unfolded Morgan identifiers,
    :func:`environment_identifiers`) setting it among ``mols``, most frequent first, each
    drawn from its smallest molecule (fewest atoms, then input order). More than one is a
    hash collision. A position no molecule sets gets an empty list."""
    wanted = set(bits)
    counts: dict[int, Counter[int]] = {b: Counter() for b in wanted}
    examples: dict[tuple[int, int], tuple[int, int, Environment]] = {}
    for index, mol in enumerate(mols):
        seen: dict[int, Environment] = {}  # each identifier once per molecule, at its first environment
        for env, identifier in environment_identifiers(mol, radius, n_bits).items():
            if identifier % n_bits in wanted:
                seen.setdefault(identifier, env)
        for identifier, env in seen.items():
            bit = identifier % n_bits
            counts[bit][identifier] += 1
            key = (mol.GetNumAtoms(), index, env)
            if (bit, identifier) not in examples or key[:2] < examples[bit, identifier][:2]:
                examples[bit, identifier] = key
    found = {}
    for bit in bits:
        labels = {i: environment_smiles(mols[examples[bit, i][1]], *examples[bit, i][2]) for i in counts[bit]}
        found[bit] = sorted((BitExample(label, counts[bit][i], examples[bit, i][1], examples[bit, i][2])
                             for i, label in _distinct(labels, mols, examples, bit).items()),
                            key=lambda e: (-e.n_molecules, e.smiles))
    return found


def _distinct(labels: dict[int, str], mols: Sequence[Chem.Mol], examples: Mapping, bit: int) -> dict[int, str]:
    """The labels of one position's identifiers, told apart where two coincide (SMILES do not
    show ring membership, which the fingerprint sees): '(ring)' or '(chain)' by the centre
    atom, then the identifier itself."""
    def ring(i: int) -> str:
        index, (centre, _) = examples[bit, i][1], examples[bit, i][2]
        return " (ring)" if mols[index].GetAtomWithIdx(centre).IsInRing() else " (chain)"

    for tell in (ring, lambda i: f" (Morgan identifier {i})"):
        seen = Counter(labels.values())
        labels = {i: label + tell(i) if seen[label] > 1 else label for i, label in labels.items()}
    return labels
