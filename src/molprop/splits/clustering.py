"""Clusters of molecules from their Morgan fingerprints (Butina or k-means)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import DataStructs
from rdkit.DataStructs import ExplicitBitVect
from rdkit.ML.Cluster import Butina

from molprop.errors import UserInputError
from molprop.splits.chem import fingerprint_matrix


def butina_clusters(fps: Sequence[ExplicitBitVect], distance_cutoff: float) -> np.ndarray:
    """Butina cluster number of each molecule (Tanimoto distance 1 - similarity; quadratic
    time and memory in the number of molecules)."""
    fps = list(fps)
    distances: list[float] = []
    for i in range(1, len(fps)):
        distances.extend(1.0 - s for s in DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i]))
    labels = np.full(len(fps), -1, dtype=np.int64)
    found = Butina.ClusterData(distances, len(fps), distance_cutoff, isDistData=True)
    for number, members in enumerate(found):
        labels[list(members)] = number
    return labels


def kmeans_clusters(fps: Sequence[ExplicitBitVect], n_clusters: int, seed: int) -> np.ndarray:
    """k-means cluster number of each molecule on the fingerprint bits (seeded)."""
    from sklearn.cluster import KMeans

    if len(fps) < n_clusters:
        raise UserInputError(
            f"split.cluster.n_clusters is {n_clusters} but there are only {len(fps)} molecules; "
            "lower n_clusters"
        )
    matrix = fingerprint_matrix(fps).astype(np.float32)
    model = KMeans(n_clusters=n_clusters, random_state=seed, n_init=10)
    return model.fit_predict(matrix).astype(np.int64)
