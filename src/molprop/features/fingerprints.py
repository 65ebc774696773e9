"""Morgan fingerprints from RDKit's ``rdFingerprintGenerator`` as compact uint8 arrays."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from molprop.features.config import MorganConfig

COUNT_CLIP = 255  # counts are stored as uint8: larger counts are clipped (and reported)


@lru_cache(maxsize=8)
def morgan_generator(radius: int, n_bits: int) -> rdFingerprintGenerator.FingerprintGenerator64:
    """The RDKit Morgan generator for a radius and fingerprint size (cached per process)."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


def fingerprint_columns(config: MorganConfig) -> list[str]:
    """Column names ``fp_0`` .. ``fp_<n_bits-1>``."""
    return [f"fp_{i}" for i in range(config.n_bits)]


def morgan_fingerprints(mols: Sequence[Chem.Mol], config: MorganConfig) -> tuple[np.ndarray, int]:
    """Fingerprint matrix (n_mols, n_bits) uint8 and the number of count entries clipped at 255.

    Bit vectors hold 0/1; count vectors hold the number of times an environment hashed to the
    position, clipped to 255.
    """
    gen = morgan_generator(config.radius, config.n_bits)
    out = np.zeros((len(mols), config.n_bits), dtype=np.uint8)
    n_clipped = 0
    for i, mol in enumerate(mols):
        if config.counts:
            counts = gen.GetCountFingerprintAsNumPy(mol)
            over = counts > COUNT_CLIP
            if over.any():
                n_clipped += int(over.sum())
                counts = np.minimum(counts, COUNT_CLIP)
            out[i] = counts
        else:
            out[i] = gen.GetFingerprintAsNumPy(mol)
    return out, n_clipped
