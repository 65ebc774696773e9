"""k-NN on Tanimoto / min-max similarity of fingerprints."""

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from scipy import sparse

from molprop.models import tanimoto
from molprop.models.estimators import make_estimator
from molprop.models.tanimoto import TanimotoKNNClassifier, TanimotoKNNRegressor, minmax_similarity

SMILES = ["CCO", "CCCO", "c1ccccc1O", "c1ccccc1CC(=O)O", "CC(C)Cl", "ClC(Cl)Cl", "CCN(CC)CC",
          "c1ccncc1", "OCC(O)CO", "CCCCCCCC"]


def _fingerprints(counts: bool):
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=512)
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    if counts:
        return None, np.array([gen.GetCountFingerprintAsNumPy(m) for m in mols], dtype=np.uint8)
    bits = [gen.GetFingerprint(m) for m in mols]
    return bits, np.array([gen.GetFingerprintAsNumPy(m) for m in mols], dtype=np.uint8)


def test_similarity_of_bits_is_rdkit_tanimoto():
    bits, matrix = _fingerprints(counts=False)
    ours = minmax_similarity(sparse.csr_matrix(matrix), sparse.csr_matrix(matrix))
    rdkit = np.array([DataStructs.BulkTanimotoSimilarity(fp, bits) for fp in bits])
    assert np.allclose(ours, rdkit)


def test_similarity_of_counts_is_sum_of_minima_over_sum_of_maxima():
    _, counts = _fingerprints(counts=True)
    assert counts.max() > 1  # the test needs real counts
    ours = minmax_similarity(sparse.csr_matrix(counts), sparse.csr_matrix(counts[:4]))
    a, b = counts[:, None, :].astype(int), counts[None, :4, :].astype(int)
    expected = np.minimum(a, b).sum(-1) / np.maximum(a, b).sum(-1)
    assert np.allclose(ours, expected)
    assert np.allclose(np.diag(ours[:4]), 1.0)


def test_empty_fingerprints_have_similarity_zero():
    empty = sparse.csr_matrix(np.zeros((2, 5), dtype=int))
    assert minmax_similarity(empty, empty).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_ties_go_to_the_lower_index_and_k_is_capped():
    similarity = np.array([[0.5, 0.9, 0.5, 0.5], [0.1, 0.1, 0.1, 0.1]])
    assert tanimoto._nearest(similarity, 2).tolist() == [[1, 0], [0, 1]]
    assert tanimoto._nearest(similarity, 10).tolist() == [[1, 0, 2, 3], [0, 1, 2, 3]]


def test_one_neighbour_recalls_training_targets_and_weights_average_neighbours():
    _, counts = _fingerprints(counts=True)
    y = np.arange(len(counts), dtype=float)
    model = TanimotoKNNRegressor(n_neighbors=1).fit(counts, y)
    assert model.predict(counts).tolist() == y.tolist()
    uniform = TanimotoKNNRegressor(n_neighbors=3, weights="uniform").fit(counts, y)
    nearest = tanimoto._nearest(minmax_similarity(sparse.csr_matrix(counts[:1]),
                                                  sparse.csr_matrix(counts)), 3)
    assert uniform.predict(counts[:1])[0] == pytest.approx(y[nearest[0]].mean())


def test_prediction_in_blocks_equals_prediction_at_once(monkeypatch):
    _, counts = _fingerprints(counts=True)
    y = np.linspace(-3, 2, len(counts))
    model = TanimotoKNNRegressor(n_neighbors=3).fit(counts, y)
    whole = model.predict(counts)
    monkeypatch.setattr(tanimoto, "_BLOCK", len(counts) * 2)  # two query rows per block
    assert np.array_equal(model.predict(counts), whole)


def test_binarize_compares_bits_only():
    query = np.array([[2, 0, 1]])
    references, y = np.array([[1, 0, 1], [2, 1, 1]]), np.array([0.0, 5.0])
    # min-max: 2/3 to the first, 3/4 to the second; Tanimoto on bits: 1 and 2/3
    counts = TanimotoKNNRegressor(n_neighbors=1).fit(references, y)
    bits = TanimotoKNNRegressor(n_neighbors=1, binarize=True).fit(references, y)
    assert counts.predict(query).tolist() == [5.0] and bits.predict(query).tolist() == [0.0]
    assert minmax_similarity(sparse.csr_matrix(query), sparse.csr_matrix(references))[0].tolist() \
        == pytest.approx([2 / 3, 3 / 4])


def test_classifier_probabilities_are_weighted_votes():
    x = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 1, 1], [0, 1, 1, 1]])
    y = np.array([0, 0, 2, 2])
    model = TanimotoKNNClassifier(n_neighbors=3, weights="uniform").fit(x, y)
    assert model.classes_.tolist() == [0, 2]
    proba = model.predict_proba(np.array([[1, 1, 0, 0]]))
    assert proba.shape == (1, 2) and proba.sum() == pytest.approx(1.0)
    assert proba[0].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert model.predict(np.array([[0, 0, 1, 1]])).tolist() == [2]


def test_balanced_class_weight_counts_a_rare_class_s_votes_more():
    x = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 1, 0], [0, 0, 1, 1]])
    y = np.array([0, 0, 0, 1])  # weights 4 / (2 x 3) and 4 / (2 x 1)
    plain = TanimotoKNNClassifier(n_neighbors=4, weights="uniform").fit(x, y)
    balanced = TanimotoKNNClassifier(n_neighbors=4, weights="uniform", class_weight="balanced").fit(x, y)
    query = np.array([[1, 1, 1, 1]])
    assert plain.predict_proba(query)[0].tolist() == pytest.approx([3 / 4, 1 / 4])
    assert balanced.predict_proba(query)[0].tolist() == pytest.approx([1 / 2, 1 / 2])
    assert make_estimator("knn_tanimoto", "classification", {}, 0).class_weight == "balanced"
    assert make_estimator("knn_tanimoto", "classification", {}, 0, class_weight="none").class_weight is None


@pytest.mark.parametrize("bad", [np.array([[0.5, 1.0]]), np.array([[-1.0, 1.0]]),
                                 np.array([[np.nan, 1.0]])])
def test_non_fingerprint_input_is_refused(bad):
    with pytest.raises(ValueError, match="non-negative integers"):
        TanimotoKNNRegressor().fit(bad, np.array([1.0]))


def test_bad_settings_and_shapes_are_refused():
    x, y = np.array([[1, 0], [0, 1]]), np.array([1.0, 2.0])
    with pytest.raises(ValueError, match="weights"):
        TanimotoKNNRegressor(weights="distance").fit(x, y)
    with pytest.raises(ValueError, match="n_neighbors"):
        TanimotoKNNRegressor(n_neighbors=0).fit(x, y)
    with pytest.raises(ValueError, match="2 fingerprint columns"):
        TanimotoKNNRegressor().fit(x, y).predict(np.array([[1, 0, 0]]))
