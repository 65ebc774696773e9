"""Every baseline kind fits, predicts, saves and reloads, for regression and classification."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from molprop.models.baseline import BaselineConfig, fit_on_rows
from molprop.models.estimators import (KINDS, check_hyperparameters, fit_estimator, input_columns,
                                       make_estimator, predict_member)
from molprop.models.store import ModelCard, load_sklearn_member, save_card, save_sklearn_member
from molprop.models.predictor import predict_saved

SMALL = {"random_forest": {"n_estimators": 30}, "hist_gradient_boosting": {"max_iter": 40},
         "ridge": {"alpha": 1.0}, "knn_tanimoto": {"n_neighbors": 5}}


def toy_table(task: str, n: int = 160, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Fingerprint counts fp_0..fp_23 and two descriptors (one with NaNs); the target is a sum
    of substructure contributions, as for additive properties."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(0.6, size=(n, 24)).astype(np.uint8)
    frame = pd.DataFrame(counts, columns=[f"fp_{i}" for i in range(24)])
    signal = counts[:, :6] @ np.array([1.5, -1.0, 2.0, 0.5, -1.5, 1.0])
    frame["desc_size"] = (counts.sum(axis=1) + rng.normal(0, 0.1, n)).astype(np.float32)
    frame["desc_noisy"] = rng.normal(size=n).astype(np.float32)
    frame.loc[::7, "desc_noisy"] = np.nan
    y = signal + rng.normal(0, 0.3, n)
    if task == "classification":
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    return frame, y


def _config(kind: str) -> BaselineConfig:
    return BaselineConfig(kind, SMALL[kind], ["morgan", "descriptors"], seed=0, n_jobs=1)


@pytest.mark.parametrize("kind", KINDS)
def test_regression_beats_the_mean_on_held_out_rows(kind):
    frame, y = toy_table("regression")
    estimator, prep = fit_on_rows(frame.iloc[:120], y[:120], "regression", _config(kind), SMALL[kind])
    pred = predict_member(estimator, prep, frame.iloc[120:], "regression", 0)
    rmse = np.sqrt(np.mean((pred - y[120:]) ** 2))
    baseline = np.sqrt(np.mean((y[:120].mean() - y[120:]) ** 2))
    assert pred.shape == (40,) and rmse < 0.8 * baseline


@pytest.mark.parametrize("units", [1e-9, 1e9])
@pytest.mark.parametrize("kind", KINDS)
def test_regression_does_not_depend_on_the_target_units(kind, units):
    """Molar IC50s (~1e-9) or values in the billions: as good a model, in those units (the same
    up to rounding, which can tip a tie between two equally good splits). A forest fitted on
    raw 1e-9 targets took every node as pure and predicted one value for every molecule."""
    frame, y = toy_table("regression")
    config, held_out = _config(kind), y[120:]
    estimator, prep = fit_on_rows(frame.iloc[:120], y[:120], "regression", config, SMALL[kind])
    reference = predict_member(estimator, prep, frame.iloc[120:], "regression", 0)
    estimator, prep = fit_on_rows(frame.iloc[:120], y[:120] * units, "regression", config, SMALL[kind])
    pred = predict_member(estimator, prep, frame.iloc[120:], "regression", 0) / units
    rmse = np.sqrt(np.mean((pred - held_out) ** 2))
    assert rmse < 1.15 * np.sqrt(np.mean((reference - held_out) ** 2))
    assert np.corrcoef(pred, reference)[0, 1] > 0.95


@pytest.mark.parametrize("kind", KINDS)
def test_classification_probabilities_separate_the_classes(kind):
    frame, y = toy_table("classification")
    estimator, prep = fit_on_rows(frame.iloc[:120], y[:120], "classification", _config(kind), SMALL[kind])
    proba = predict_member(estimator, prep, frame.iloc[120:], "classification", 3)
    assert proba.shape == (40, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == y[120:]).mean() >= 0.5  # chance: 1/3


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("kind", KINDS)
def test_saved_member_reloads_and_predicts_the_same(kind, task, tmp_path):
    frame, y = toy_table(task)
    estimator, prep = fit_on_rows(frame, y, task, _config(kind), SMALL[kind])
    save_sklearn_member(tmp_path / "member_0", estimator, prep)
    classes = ["a", "b", "c"] if task == "classification" else []
    save_card(tmp_path, ModelCard("sklearn", task, ["morgan", "descriptors"], ["member_0"], classes))
    loaded, loaded_prep = load_sklearn_member(tmp_path / "member_0")
    assert type(loaded) is type(estimator) and loaded_prep == prep
    expected = predict_member(estimator, prep, frame, task, len(classes))
    assert np.array_equal(predict_saved(tmp_path, frame).mean, expected)


SAVE_EVERY_KIND = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from test_models_estimators import SMALL, _config, toy_table
from molprop.models.baseline import fit_on_rows
from molprop.models.estimators import KINDS
from molprop.models.store import save_sklearn_member
for task in ("regression", "classification"):
    frame, y = toy_table(task)
    for kind in KINDS:
        estimator, prep = fit_on_rows(frame, y, task, _config(kind), SMALL[kind])
        save_sklearn_member(Path(sys.argv[1]) / task / kind, estimator, prep)
"""


def test_every_kind_saves_identical_bytes_in_two_processes(tmp_path):
    """DVC hashes models/baseline: the same params must give the same files."""
    tests_dir = str(__import__("pathlib").Path(__file__).parent)
    for run in ("a", "b"):
        subprocess.run([sys.executable, "-c", SAVE_EVERY_KIND, str(tmp_path / run), tests_dir], check=True)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 2 * len(KINDS) * 2
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_thread_count_does_not_change_gradient_boosting():
    frame, y = toy_table("regression")
    x = frame.to_numpy(dtype=np.float32)
    x[np.isnan(x)] = 0
    one = fit_estimator(make_estimator("hist_gradient_boosting", "regression", {"max_iter": 30}, 0), x, y, 1)
    two = fit_estimator(make_estimator("hist_gradient_boosting", "regression", {"max_iter": 30}, 0), x, y, 2)
    assert np.array_equal(one.predict(x), two.predict(x))


def test_knn_needs_only_the_fingerprints_it_compares():
    frame, y = toy_table("regression")
    fingerprints = frame.drop(columns=["desc_size", "desc_noisy"])  # featurize.descriptors switched off
    estimator, prep = fit_on_rows(fingerprints, y, "regression", _config("knn_tanimoto"), SMALL["knn_tanimoto"])
    assert prep.columns == [f"fp_{i}" for i in range(24)]
    with pytest.raises(ValueError, match=r"\['descriptors'\] are listed in baseline.features"):
        fit_on_rows(fingerprints, y, "regression", _config("random_forest"), SMALL["random_forest"])
    # both groups switched off: both named, each with its switch
    with pytest.raises(ValueError, match="set featurize.morgan.enabled and featurize.descriptors.enabled to true"):
        fit_on_rows(frame[[]], y, "regression", _config("random_forest"), SMALL["random_forest"])


def test_a_hyperparameter_scikit_learn_refuses_is_a_setting_to_change():
    frame, y = toy_table("regression")
    x = np.nan_to_num(frame.to_numpy(dtype=np.float32))
    with pytest.raises(ValueError, match=r"scikit-learn refuses a hyperparameter: The 'min_samples_leaf' .* "
                                         r"Change it in params.yaml"):
        fit_estimator(make_estimator("random_forest", "regression", {"min_samples_leaf": 1.5}, 0), x, y)


def test_unknown_kind_and_hyperparameter_are_named():
    with pytest.raises(ValueError, match="choose from"):
        check_hyperparameters("svm", [], "baseline.svm")
    with pytest.raises(ValueError, match=r"\['n_trees'\] are not hyperparameters of random_forest"):
        BaselineConfig("random_forest", {"n_trees": 5}, ["morgan"])
    with pytest.raises(ValueError, match="alpha"):
        make_estimator("ridge", "regression", {"alpha": 0.0}, 0)


def test_knn_uses_only_fingerprint_columns_and_needs_them():
    assert input_columns("knn_tanimoto", ["fp_0", "desc_a", "fp_1"]) == ["fp_0", "fp_1"]
    assert input_columns("ridge", ["fp_0", "desc_a"]) == ["fp_0", "desc_a"]
    with pytest.raises(ValueError, match="add morgan"):
        input_columns("knn_tanimoto", ["desc_a"])


def test_ridge_standardizes_descriptors_on_the_training_rows():
    frame, y = toy_table("regression")
    _, prep = fit_on_rows(frame.iloc[:100], y[:100], "regression", _config("ridge"), {"alpha": 1.0})
    x = prep.transform(frame.iloc[:100])
    column = prep.columns.index("desc_size")
    assert abs(x[:, column].mean()) < 1e-5 and abs(x[:, column].std() - 1) < 1e-4


def test_class_weights_are_a_choice():
    frame, y = toy_table("classification")
    x = np.nan_to_num(frame.to_numpy(dtype=np.float32))
    for kind in ("random_forest", "hist_gradient_boosting", "ridge"):
        balanced = make_estimator(kind, "classification", SMALL[kind], 0, 1, "balanced")
        plain = make_estimator(kind, "classification", SMALL[kind], 0, 1, "none")
        assert balanced.get_params()["class_weight"] == "balanced" and plain.get_params()["class_weight"] is None
    assert "class_weight" not in make_estimator("random_forest", "regression", {}, 0, 1, "balanced").get_params()
    with pytest.raises(ValueError, match="baseline.class_weight is 'auto'"):
        make_estimator("random_forest", "classification", {}, 0, 1, "auto")
    assert fit_estimator(make_estimator("ridge", "classification", {"alpha": 1.0}, 0, 1, "none"), x, y).predict(x).size
