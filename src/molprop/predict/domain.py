"""Applicability domain: the highest Tanimoto similarity of a molecule to the training set.

Fingerprints are Morgan bit vectors packed 8 bits per byte (``np.packbits``). The number of
bits a query shares with each training molecule is a product of the sparse 0/1 query matrix
(a few dozen bits set of 2048) with the dense training bits (exact in float32: counts stay
far below 2**24), over blocks of training molecules so that memory stays bounded whatever the
training-set size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem

from molprop.features.fingerprints import morgan_generator

DEFAULT_THRESHOLD = 0.3  # in domain: similarity to the nearest training molecule >= this
_UNPACKED_CACHE_BYTES = 256 << 20  # training sets up to this size (as float32) stay unpacked


def bit_fingerprints(mols: Sequence[Chem.Mol], radius: int, n_bits: int) -> np.ndarray:
    """Morgan bit fingerprints of ``mols``, packed: (n, ceil(n_bits / 8)) uint8."""
    gen = morgan_generator(radius, n_bits)
    bits = np.zeros((len(mols), n_bits), dtype=np.uint8)
    for i, mol in enumerate(mols):
        bits[i] = gen.GetFingerprintAsNumPy(mol)
    return np.packbits(bits, axis=1)


class TrainingSet:
    """The training fingerprints, held once, and the nearest-neighbour similarity to them."""

    def __init__(self, packed: np.ndarray, n_bits: int, block: int = 8192) -> None:
        if len(packed) == 0:
            raise ValueError("the applicability domain needs at least one training molecule")
        self.packed, self.n_bits, self.block = packed, n_bits, block
        self.counts = np.unpackbits(packed, axis=1, count=n_bits).sum(axis=1).astype(np.float32)
        self._unpacked: np.ndarray | None = None
        if len(packed) * n_bits * 4 <= _UNPACKED_CACHE_BYTES:
            self._unpacked = self._unpack(0, len(packed))

    def _unpack(self, start: int, stop: int) -> np.ndarray:
        """Training bits ``start:stop`` as a (n_bits, stop - start) float32 C-ordered matrix."""
        if self._unpacked is not None:
            return self._unpacked[:, start:stop]
        bits = np.unpackbits(self.packed[start:stop], axis=1, count=self.n_bits)
        return np.ascontiguousarray(bits.T, dtype=np.float32)

    def max_similarity(self, query_packed: np.ndarray) -> np.ndarray:
        """(n_query,) float64: Tanimoto similarity to the most similar training molecule
        (0 for a query without any bit set), the ratio of the bit counts in double precision,
        so that 7 of 20 bits is 0.35 and meets a threshold of 0.35."""
        return np.concatenate([self._max_similarity(query_packed[i : i + 256])
                               for i in range(0, len(query_packed), 256)] or [np.zeros(0, np.float64)])

    def _max_similarity(self, query_packed: np.ndarray) -> np.ndarray:
        from scipy.sparse import csr_matrix

        query = csr_matrix(np.unpackbits(query_packed, axis=1, count=self.n_bits).astype(np.float32))
        q_counts = np.asarray(query.sum(axis=1), dtype=np.float32).ravel()
        best = np.zeros(query.shape[0], dtype=np.float64)
        for start in range(0, len(self.packed), self.block):
            stop = min(start + self.block, len(self.packed))
            common = np.asarray(query @ self._unpack(start, stop), dtype=np.float64)  # exact counts
            union = q_counts[:, None] + self.counts[None, start:stop] - common
            with np.errstate(invalid="ignore", divide="ignore"):
                sim = np.where(union > 0, common / union, 0.0)
            np.maximum(best, sim.max(axis=1), out=best)
        return best
