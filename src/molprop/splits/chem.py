"""Molecule-level inputs of the splitters: RDKit molecules, Morgan fingerprints, scaffolds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from rdkit.DataStructs import ExplicitBitVect

from molprop.molecules import parse_validated

FP_RADIUS = 2
FP_SIZE = 2048


def to_mols(smiles: Sequence[str]) -> list[Chem.Mol]:
    """RDKit molecules of the SMILES; one RDKit cannot read raises naming its row."""
    return parse_validated(smiles, range(len(smiles)), "row", "the split input")


def morgan_fingerprints(mols: Sequence[Chem.Mol]) -> list[ExplicitBitVect]:
    """Morgan bit fingerprints (radius 2, 2048 bits) of the molecules."""
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=FP_RADIUS, fpSize=FP_SIZE)
    return [generator.GetFingerprint(mol) for mol in mols]


def fingerprint_matrix(fps: Sequence[ExplicitBitVect]) -> np.ndarray:
    """Fingerprints as a (n, n_bits) uint8 matrix of 0/1."""
    matrix = np.zeros((len(fps), FP_SIZE), dtype=np.uint8)
    for index, fp in enumerate(fps):
        DataStructs.ConvertToNumpyArray(fp, matrix[index])
    return matrix


def murcko_scaffolds(mols: Sequence[Chem.Mol]) -> list[str]:
    """Bemis-Murcko scaffold SMILES without chirality; acyclic molecules get ""."""
    return [MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False) for mol in mols]


def scaffold_groups(scaffolds: Sequence[str]) -> list[str]:
    """Groups for scaffold-grouped folds: the scaffold, and for an acyclic molecule (no ring
    system to share) a group of its own; as one "empty scaffold" group they would fill a fold
    by themselves (FreeSolv: 320 of 577 molecules in one of 3 folds)."""
    return [scaffold or f"acyclic:{row}" for row, scaffold in enumerate(scaffolds)]


def max_similarity(
    queries: Sequence[ExplicitBitVect], references: Sequence[ExplicitBitVect]
) -> np.ndarray:
    """For each query fingerprint, its highest Tanimoto similarity to any reference one."""
    if not references:
        return np.full(len(queries), np.nan)
    refs = list(references)
    return np.array(
        [max(DataStructs.BulkTanimotoSimilarity(fp, refs)) for fp in queries], dtype=np.float64
    )
