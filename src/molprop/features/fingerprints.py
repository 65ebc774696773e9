"""Morgan fingerprints from RDKit's ``rdFingerprintGenerator`` as compact uint8 arrays."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from molprop.features.config import MorganConfig

FP_PREFIX = "fp_"  # column name prefix of fingerprint bits in features.parquet
COUNT_CLIP = 255  # counts are stored as uint8: larger counts are clipped (and reported)


@lru_cache(maxsize=8)
def morgan_generator(radius: int, n_bits: int) -> rdFingerprintGenerator.FingerprintGenerator64:
    """The RDKit Morgan generator for a radius and fingerprint size (cached per process)."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


def fingerprint_columns(config: MorganConfig) -> list[str]:
    """Column names ``fp_0`` .. ``fp_<n_bits-1>``."""
    return [f"{FP_PREFIX}{i}" for i in range(config.n_bits)]


def morgan_fingerprints(mols: Sequence[Chem.Mol], config: MorganConfig) -> tuple[np.ndarray, int]:
    """Fingerprint matrix (n_mols, n_bits) uint8 and the number of count entries clipped at 255.

    Bit vectors hold 0/1; count vectors hold the number of times an environment hashed to the
    position, clipped to 255. The matrix is column-major (each fingerprint column is
    contiguous, as Parquet stores it); it is built from RDKit's sparse vectors (a few dozen
    non-zero positions per molecule) rather than from dense per-molecule arrays.
    """
    gen = morgan_generator(config.radius, config.n_bits)
    positions: list[int] = []
    values: list[int] = []
    per_mol = np.empty(len(mols), dtype=np.int64)
    for i, mol in enumerate(mols):
        if config.counts:
            nonzero = gen.GetCountFingerprint(mol).GetNonzeroElements()
            positions += nonzero
            values += nonzero.values()
        else:
            nonzero = gen.GetFingerprint(mol).GetOnBits()
            positions += nonzero
        per_mol[i] = len(nonzero)
    counts = np.array(values, dtype=np.int64) if config.counts else np.ones(len(positions), dtype=np.int64)
    n_clipped = int(np.count_nonzero(counts > COUNT_CLIP))
    out = np.zeros((config.n_bits, len(mols)), dtype=np.uint8)  # transposed: one row per column
    molecule = np.repeat(np.arange(len(mols)), per_mol)
    out[np.array(positions, dtype=np.intp), molecule] = np.minimum(counts, COUNT_CLIP)
    return out.T, n_clipped
