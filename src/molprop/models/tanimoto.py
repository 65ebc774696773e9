"""k-nearest-neighbour models with Tanimoto (min-max) similarity on Morgan fingerprints.

On bit fingerprints the similarity is the Tanimoto coefficient |a AND b| / |a OR b|; on count
fingerprints it is its generalization to counts, the min-max (Ruzicka) similarity
sum(min(a, b)) / sum(max(a, b)). The estimators follow the scikit-learn API and keep the
training fingerprints as plain integer arrays (CSR parts), so skops saves them without pickle.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

WEIGHTS = ("uniform", "similarity")
_BLOCK = 4_000_000  # query x reference similarities computed at once (bounds memory)


def _as_counts(x: np.ndarray, what: str) -> sparse.csr_matrix:
    """Fingerprint matrix as a CSR matrix of non-negative integer counts."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{what}: expected a 2-D fingerprint matrix, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError(
            f"{what}: Tanimoto similarity needs fingerprint bits or counts (non-negative integers); "
            "use the morgan feature group, not descriptors"
        )
    return sparse.csr_matrix(x.astype(np.int64))


def minmax_similarity(a: sparse.csr_matrix, b: sparse.csr_matrix) -> np.ndarray:
    """(n_a, n_b) min-max similarity of count fingerprints (Tanimoto for 0/1 bits).

    sum(min(a, b)) is the sum over count levels t of the number of features with both
    counts >= t, one sparse product per level; integer arithmetic, so the result does not
    depend on summation order. Two empty fingerprints have similarity 0.
    """
    levels = int(max(a.max() if a.nnz else 0, b.max() if b.nnz else 0))
    shared = np.zeros((a.shape[0], b.shape[0]), dtype=np.int64)
    for level in range(1, levels + 1):
        at_least_a = (a >= level).astype(np.int64)
        at_least_b = (b >= level).astype(np.int64)
        shared += (at_least_a @ at_least_b.T).toarray()
    total = np.asarray(a.sum(axis=1)).reshape(-1, 1) + np.asarray(b.sum(axis=1)).reshape(1, -1)
    union = total - shared
    return np.divide(shared, union, out=np.zeros(shared.shape), where=union > 0)


def _nearest(similarity: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k most similar references per row; ties go to the lower index."""
    k = min(k, similarity.shape[1])
    kth = -np.partition(-similarity, k - 1, axis=1)[:, k - 1]
    rows = []
    for row, threshold in zip(similarity, kth):
        candidates = np.flatnonzero(row >= threshold)
        order = np.lexsort((candidates, -row[candidates]))
        rows.append(candidates[order[:k]])
    return np.array(rows, dtype=np.int64).reshape(len(similarity), k)


class _TanimotoNeighbors(BaseEstimator):
    """Shared fitting and neighbour search of the regressor and the classifier."""

    def __init__(self, n_neighbors: int = 5, weights: str = "similarity", binarize: bool = False):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.binarize = binarize

    def _fingerprints(self, x: np.ndarray, what: str) -> sparse.csr_matrix:
        counts = _as_counts(x, what)
        return (counts > 0).astype(np.int64) if self.binarize else counts

    def _store(self, x: np.ndarray, y: np.ndarray) -> None:
        if self.weights not in WEIGHTS:
            raise ValueError(f"weights is {self.weights!r}; choose from {list(WEIGHTS)}")
        if int(self.n_neighbors) < 1:
            raise ValueError(f"n_neighbors is {self.n_neighbors}; it must be at least 1")
        if len(x) == 0 or len(x) != len(y):
            raise ValueError(f"fit needs as many targets as fingerprints (got {len(x)}, {len(y)})")
        fps = self._fingerprints(x, "fit")
        self.indptr_, self.indices_, self.counts_ = fps.indptr, fps.indices, fps.data
        self.n_features_in_ = fps.shape[1]

    def _neighbors(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour indices and their weights (rows sum to 1), query block by block."""
        if np.asarray(x).shape[1:] != (self.n_features_in_,):
            raise ValueError(f"expected {self.n_features_in_} fingerprint columns, got {np.shape(x)}")
        shape = (len(self.indptr_) - 1, self.n_features_in_)
        reference = sparse.csr_matrix((self.counts_, self.indices_, self.indptr_), shape=shape)
        queries = self._fingerprints(x, "predict")
        indices, weights = [], []
        chunk = max(1, _BLOCK // shape[0])
        for start in range(0, queries.shape[0], chunk):
            similarity = minmax_similarity(queries[start:start + chunk], reference)
            nearest = _nearest(similarity, int(self.n_neighbors))
            w = np.take_along_axis(similarity, nearest, axis=1)
            if self.weights == "uniform":
                w = np.ones_like(w)
            w[w.sum(axis=1) == 0] = 1.0  # nothing similar at all: plain average
            indices.append(nearest)
            weights.append(w / w.sum(axis=1, keepdims=True))
        return np.concatenate(indices), np.concatenate(weights)


class TanimotoKNNRegressor(RegressorMixin, _TanimotoNeighbors):
    """Similarity-weighted (or plain) mean target of the k most similar training molecules."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> "TanimotoKNNRegressor":
        """Keep the training fingerprints and targets."""
        self._store(x, np.asarray(y))
        self.targets_ = np.asarray(y, dtype=np.float64)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted targets."""
        if len(x) == 0:
            return np.zeros(0)
        indices, weights = self._neighbors(x)
        return (self.targets_[indices] * weights).sum(axis=1)


class TanimotoKNNClassifier(ClassifierMixin, _TanimotoNeighbors):
    """Class probabilities: the (similarity-weighted) class shares among the k nearest. With
    ``class_weight="balanced"`` a neighbour's vote counts n / (n_classes x its class's count)
    of the training molecules, as scikit-learn's balanced weights do, so a rare class is not
    outvoted by the neighbours' sheer number."""

    class_weight: str | None = None  # models saved before the option existed

    def __init__(self, n_neighbors: int = 5, weights: str = "similarity", binarize: bool = False,
                 class_weight: str | None = None):
        super().__init__(n_neighbors, weights, binarize)
        self.class_weight = class_weight

    def fit(self, x: np.ndarray, y: np.ndarray) -> "TanimotoKNNClassifier":
        """Keep the training fingerprints, class indices and class weights."""
        if self.class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight is {self.class_weight!r}; use None or 'balanced'")
        self._store(x, np.asarray(y))
        self.classes_, self.labels_ = np.unique(np.asarray(y), return_inverse=True)
        counts = np.bincount(self.labels_, minlength=len(self.classes_))
        self.class_weights_ = (len(self.labels_) / (len(counts) * counts) if self.class_weight == "balanced"
                               else np.ones(len(counts)))
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, n_classes) probabilities, columns in ``classes_`` order."""
        if len(x) == 0:
            return np.zeros((0, len(self.classes_)))
        indices, weights = self._neighbors(x)
        votes = weights * getattr(self, "class_weights_", np.ones(len(self.classes_)))[self.labels_[indices]]
        proba = np.zeros((len(indices), len(self.classes_)))
        for column in range(indices.shape[1]):
            np.add.at(proba, (np.arange(len(indices)), self.labels_[indices[:, column]]), votes[:, column])
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Most probable class (the first one on ties)."""
        return self.classes_[self.predict_proba(x).argmax(axis=1)]
