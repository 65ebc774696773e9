"""Explanations of every baseline kind (forest, gradient boosting, ridge / logistic regression,
k-NN on Tanimoto similarity) fitted by the baseline's own code on real FreeSolv molecules:
SHAP values that add up to the explained output, exact linear SHAP, and seeded, bounded
permutation importance."""

from __future__ import annotations

from pathlib import Path

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import Descriptors

from molprop.data.builtin import load_builtin
from molprop.features.config import MorganConfig
from molprop.features.fingerprints import morgan_fingerprints
from molprop.interpretation.baseline_model import (direction_of, direction_signs, load_sklearn_model,
                                                    predicted_classes)
from molprop.interpretation.baseline_shap import baseline_shap, shap_importance
from molprop.interpretation.member_shap import linear_member_shap, treeshap_seconds
from molprop.interpretation.permutation import (PermutationConfig, affordable_molecules, budgeted_shap_config,
                                                permutation_importance, permutation_shap, row_seconds)
from molprop.interpretation.run import InterpretConfig, Molecules, baseline_importance
from molprop.models.baseline import BaselineConfig, fit_on_rows
from molprop.models.matrix import FEATURE_GROUPS
from molprop.models.predictor import predict_saved
from molprop.models.store import ModelCard, save_card, save_sklearn_member
from molprop.schema import MOL_ID, ROW, SMILES, SPLIT, TARGET

REPO = Path(__file__).resolve().parents[1]
N_BITS = 256
KINDS = {"random_forest": {"n_estimators": 20}, "hist_gradient_boosting": {"max_iter": 20, "min_samples_leaf": 5},
         "ridge": {"alpha": 1.0}, "knn_tanimoto": {"n_neighbors": 3}}
METHOD = {"random_forest": "TreeSHAP", "hist_gradient_boosting": "TreeSHAP", "ridge": "linear SHAP",
          "knn_tanimoto": "permutation SHAP"}
SMALL = PermutationConfig(n_repeats=3, max_features=64, max_molecules=40, n_background=6, n_permutations=2)


@pytest.fixture(scope="module")
def freesolv() -> tuple[pd.DataFrame, np.ndarray]:
    """Features (256-bit Morgan counts, three descriptors with a missing value, a constant
    column) and hydration free energies of the first 90 FreeSolv molecules."""
    table = load_builtin(REPO / "data/builtin/freesolv.yaml").head(90)
    mols = [Chem.MolFromSmiles(s) for s in table["smiles"]]
    fp, _ = morgan_fingerprints(mols, MorganConfig(2, N_BITS, counts=True))
    frame = pd.DataFrame(fp, columns=[f"fp_{i}" for i in range(N_BITS)])
    for name in ("TPSA", "MolLogP", "MolWt"):
        frame[f"desc_{name}"] = np.array([getattr(Descriptors, name)(m) for m in mols], dtype=np.float32)
    frame.loc[[3, 70], "desc_MolWt"] = np.nan  # imputed from the training rows
    frame["desc_constant"] = np.float32(1.0)
    return frame, table["expt"].to_numpy(dtype=float)


def _labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))


def _save(directory: Path, kind: str, frame: pd.DataFrame, y: np.ndarray, task: str = "regression",
          n_classes: int = 0, members: int = 1) -> None:
    """Members fitted like the baseline stage fits them (k-fold style: each on its own rows)."""
    groups = [g for g, prefix in FEATURE_GROUPS.items() if any(c.startswith(prefix) for c in frame.columns)]
    config = BaselineConfig(model=kind, hyperparameters=KINDS[kind], features=groups, n_jobs=1)
    names = ["member_0"] if members == 1 else [f"fold_{k}" for k in range(members)]
    for k, name in enumerate(names):
        rows = np.arange(len(frame)) if members == 1 else np.flatnonzero(np.arange(len(frame)) % members != k)
        estimator, prep = fit_on_rows(frame.iloc[rows], y[rows], task, config, KINDS[kind])
        save_sklearn_member(directory / name, estimator, prep)
    classes = [f"c{k}" for k in range(n_classes)]
    save_card(directory, ModelCard("sklearn", task, groups, names, classes))


def _log_odds(proba: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """log p_c - mean of log p_k over the other classes (the log-odds for two classes)."""
    logs = np.log(proba)
    rows = np.arange(len(chosen))
    return logs[rows, chosen] - (logs.sum(axis=1) - logs[rows, chosen]) / (proba.shape[1] - 1)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_adds_up_to_the_ensemble_prediction(tmp_path, freesolv, kind):
    frame, y = freesolv
    train, test = frame.iloc[:70], frame.iloc[70:76]
    _save(tmp_path, kind, train, y[:70], members=2)
    found = baseline_shap(tmp_path, test, train, SMALL, seed=0)
    predicted = predict_saved(tmp_path, test).mean
    assert found.method == METHOD[kind]
    assert found.values.shape == (len(test), len(found.columns))
    assert np.allclose(found.output, predicted, atol=1e-5)
    assert np.allclose(found.base + found.values.sum(axis=1), predicted, atol=1e-5)
    assert found.explained_class is None and np.abs(found.values).sum() > 0
    if kind == "knn_tanimoto":
        assert all(c.startswith("fp_") for c in found.columns)
    else:
        assert np.all(found.values[:, found.columns.index("desc_constant")] == 0)


def test_linear_shap_is_coefficient_times_distance_to_the_reference_mean(tmp_path, freesolv):
    import shap

    frame, y = freesolv
    train, test = frame.iloc[:70], frame.iloc[70:]
    _save(tmp_path, "ridge", train, y[:70])
    model = load_sklearn_model(tmp_path)
    estimator, prep = model.members[0]
    found = baseline_shap(model, test, train)
    independent = shap.LinearExplainer(estimator, shap.maskers.Independent(prep.transform(train), max_samples=100))
    expected = independent(prep.transform(test))  # in the standardized targets ridge was fitted on
    assert found.method == "linear SHAP" and found.columns == prep.columns
    assert np.allclose(found.values, expected.values * prep.target_scale, atol=1e-6)
    assert np.allclose(found.base, predict_saved(tmp_path, train).mean.mean(), atol=1e-6)  # mean over reference
    assert np.allclose(found.base + found.values.sum(axis=1),
                       prep.unscale_target(estimator.predict(prep.transform(test))), atol=1e-5)
    # the molecule whose MolWt was imputed gets the contribution of the training median
    column = found.columns.index("desc_MolWt")
    median_z = (prep.medians[column] - prep.means[column]) / prep.stds[column]
    train_mean_z = prep.transform(train)[:, column].astype(float).mean()
    expected = estimator.coef_[column] * prep.target_scale * (median_z - train_mean_z)
    assert found.values[0, column] == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("kind,n_classes", [("ridge", 2), ("ridge", 3), ("hist_gradient_boosting", 3),
                                            ("random_forest", 3), ("knn_tanimoto", 3)])
def test_classifiers_explain_the_predicted_class(tmp_path, freesolv, kind, n_classes):
    frame, y = freesolv
    labels = _labels(y, n_classes)
    train, test = frame.iloc[:70], frame.iloc[70:76]
    _save(tmp_path, kind, train, labels[:70], "classification", n_classes)
    found = baseline_shap(tmp_path, test, train, SMALL, seed=0)
    proba = predict_saved(tmp_path, test).mean
    chosen = proba.argmax(axis=1)
    assert np.array_equal(found.explained_class, chosen)
    if kind in ("ridge", "hist_gradient_boosting"):
        # with 3 classes not log(p / (1 - p)): the page named it plain log-odds
        against = " against the others (log p minus the mean log p of the other classes)" if n_classes > 2 else ""
        assert found.output_name == "log-odds of the predicted class" + against
        expected = _log_odds(proba, chosen)
    else:
        assert found.output_name == "probability of the predicted class"
        expected = proba.max(axis=1)
    assert np.allclose(found.output, expected, atol=1e-5)
    assert np.allclose(found.base + found.values.sum(axis=1), expected, atol=1e-5)


def test_two_class_directions_point_toward_class_one_for_every_molecule(tmp_path, freesolv):
    """Each molecule's SHAP values explain its own predicted class; with two classes they were
    correlated as they were, so a feature that raises class 1 showed + on molecules predicted
    1 and - on the others (TPSA -0.33 where +0.81 was true). Logistic regression: exactly the
    sign of each coefficient toward class 1. Three classes: no direction."""
    frame, y = freesolv
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("fp_")])  # the descriptors
    labels = _labels(y, 2)
    train, test = frame.iloc[:70], frame.iloc[70:]
    _save(tmp_path / "two", "ridge", train, labels[:70], "classification", 2)
    model = load_sklearn_model(tmp_path / "two")
    found = baseline_shap(model, test, train)
    assert set(found.explained_class) == {0, 1}  # both classes explained: the case that went wrong
    table = shap_importance(found, direction_signs(model, found.explained_class, len(test))).set_index("feature")
    estimator, prep = model.members[0]
    for column, coef in zip(prep.columns, estimator.coef_[0]):
        if column != "desc_constant":
            assert table.loc[column, "direction"] == pytest.approx(np.sign(coef))
    assert direction_of(model) == "log-odds of class 'c1'"
    permuted = permutation_importance(model, test, found.explained_class, SMALL, seed=0).set_index("feature")
    assert (np.sign(permuted.loc["desc_TPSA", "direction"]) == np.sign(table.loc["desc_TPSA", "direction"]))
    _save(tmp_path / "three", "ridge", train, _labels(y, 3)[:70], "classification", 3)
    three = load_sklearn_model(tmp_path / "three")
    found = baseline_shap(three, test, train)
    assert direction_signs(three, found.explained_class, len(test)) is None and direction_of(three) is None
    assert shap_importance(found, None)["direction"].isna().all()
    assert permutation_importance(three, test, found.explained_class, SMALL, seed=0)["direction"].isna().all()


def test_a_fold_member_that_never_saw_a_class_is_left_out_of_that_class_s_log_odds(tmp_path, freesolv):
    # k-fold logistic regression where fold_0's training rows lack class 2:
    # interpret had stopped, after the whole pipeline had run
    frame, y = freesolv
    labels = _labels(y, 2)
    labels[(np.arange(len(y)) % 3 == 0) & (y < np.quantile(y, 0.4))] = 2
    train = frame.iloc[:70]
    test = pd.concat([train[labels[:70] == 2], frame.iloc[70:]])  # molecules predicted class 2 among them
    _save(tmp_path, "ridge", train, labels[:70], "classification", 3, members=3)
    model = load_sklearn_model(tmp_path)
    assert [list(est.classes_) for est, _ in model.members] == [[0, 1], [0, 1, 2], [0, 1, 2]]
    found = baseline_shap(model, test, train)
    chosen = found.explained_class
    assert (chosen == 2).any() and (chosen != 2).any()
    per_member = []  # each member's log-odds of the chosen class, NaN where it never saw it
    for estimator, prep in model.members:
        logs, known = np.log(estimator.predict_proba(prep.transform(test))), list(estimator.classes_)
        odds = np.full(len(test), np.nan)
        for i, c in enumerate(chosen):
            if c in known:
                k = known.index(c)
                odds[i] = logs[i, k] - np.delete(logs[i], k).mean()
        per_member.append(odds)
    expected = np.nanmean(per_member, axis=0)  # class 2: folds 1 and 2; the others: all three
    assert np.allclose(found.output, expected, atol=1e-5)
    assert np.allclose(found.base + found.values.sum(axis=1), found.output, atol=1e-8)
    assert found.output_name == ("log-odds of the predicted class against the others (log p minus the mean "
                                 "log p of the other classes) (mean over members)")


def test_permutation_importance_ranks_a_used_feature_above_unused_and_constant_ones(tmp_path, freesolv):
    frame, y = freesolv
    signal = frame[["desc_TPSA", "desc_MolWt", "desc_constant"]].copy()
    signal["desc_MolWt"] = signal["desc_MolWt"].fillna(100.0)
    target = 0.2 * signal["desc_TPSA"].to_numpy()  # the model learns TPSA, MolWt barely matters
    _save(tmp_path, "ridge", signal, target)
    model = load_sklearn_model(tmp_path)
    table = permutation_importance(model, signal.iloc[60:], None, SMALL, seed=0).set_index("feature")
    # direction: corr(value, change); the change holds the mean of 3 shuffled values: ~0.87 expected
    assert table.index[0] == "desc_TPSA" and table.loc["desc_TPSA", "direction"] > 0.6
    assert table.loc["desc_TPSA", "importance"] > 10 * table.loc["desc_MolWt", "importance"]
    assert table.loc["desc_constant", "importance"] == 0


def test_permutation_importance_of_knn_is_seeded_and_bounded(tmp_path, freesolv):
    frame, y = freesolv
    _save(tmp_path, "knn_tanimoto", frame.iloc[:70], y[:70])
    model = load_sklearn_model(tmp_path)
    test = frame.iloc[70:]
    first = permutation_importance(model, test, None, SMALL, seed=3)
    assert first.equals(permutation_importance(model, test, None, SMALL, seed=3))
    varying = test[model.columns].nunique() > 1
    assert varying.sum() > SMALL.max_features
    scored = first.set_index("feature")["importance"]
    assert scored[varying.index[~varying]].eq(0).all()  # constant over the molecules: no effect
    assert scored.notna().sum() == (~varying).sum() + SMALL.max_features  # only the bounded set permuted
    assert scored.iloc[0] > 0 and (scored.dropna() >= 0).all()
    assert set(scored.index[scored.isna()]) <= set(varying.index[varying])


def test_permutation_shap_is_deterministic_and_independent_of_the_other_molecules(tmp_path, freesolv):
    frame, y = freesolv
    _save(tmp_path, "knn_tanimoto", frame.iloc[:70], y[:70])
    model = load_sklearn_model(tmp_path)
    all_rows = baseline_shap(model, frame.iloc[70:74], frame.iloc[:70], SMALL, seed=0)
    again = baseline_shap(model, frame.iloc[72:74], frame.iloc[:70], SMALL, seed=0)
    assert np.array_equal(all_rows.values[2:], again.values)
    importance = shap_importance(all_rows)
    assert importance["importance"].iloc[0] > 0 and list(importance.columns) == ["feature", "importance", "direction"]


def test_permutation_shap_of_an_additive_model_is_its_exact_linear_shap(tmp_path, freesolv):
    frame, y = freesolv
    _save(tmp_path, "ridge", frame.iloc[:70], y[:70])
    model = load_sklearn_model(tmp_path)
    estimator, prep = model.members[0]
    background, test = frame.iloc[:8], frame.iloc[70:74]
    config = PermutationConfig(n_background=8, n_permutations=1)  # the whole background, one ordering
    values, base, output = permutation_shap(model, test, background, None, config, seed=0)
    exact = linear_member_shap(estimator, prep.transform(test), prep.transform(background), False)
    # no interactions: every ordering is exact (ridge's own outputs are standardized targets)
    assert np.allclose(values, exact.values[:, :, 0] * prep.target_scale, atol=1e-6)
    assert np.allclose(base, prep.unscale_target(exact.base[0]))
    assert np.allclose(output, prep.unscale_target(estimator.predict(prep.transform(test))))


def test_predicted_classes_match_the_saved_predictions(tmp_path, freesolv):
    frame, y = freesolv
    _save(tmp_path, "hist_gradient_boosting", frame.iloc[:70], _labels(y[:70], 3), "classification", 3)
    model = load_sklearn_model(tmp_path)
    assert np.array_equal(predicted_classes(model, frame.iloc[70:]), predict_saved(tmp_path, frame.iloc[70:]).mean
                          .argmax(axis=1))
    assert model.method == "TreeSHAP" and model.log_odds and model.name == "histogram gradient boosting"


@pytest.mark.parametrize("kind,n_classes", [("random_forest", 0), ("ridge", 3)])
def test_a_subset_of_shap_values_equals_a_fresh_computation_on_those_molecules(tmp_path, freesolv, kind,
                                                                                n_classes):
    """The interpret stage reuses the importance's SHAP values for the mapped molecules."""
    frame, y = freesolv
    task = "classification" if n_classes else "regression"
    target = _labels(y, n_classes) if n_classes else y
    train, test = frame.iloc[:70], frame.iloc[70:80]
    _save(tmp_path, kind, train, target[:70], task, n_classes, members=2)
    every = baseline_shap(tmp_path, test, train)
    positions = np.array([7, 2, 5])
    alone = baseline_shap(tmp_path, test.iloc[positions], train)
    subset = every.take(positions)
    for name in ("values", "base", "output", "features"):
        assert np.allclose(getattr(subset, name), getattr(alone, name), atol=1e-10), name
    if n_classes:
        assert np.array_equal(subset.explained_class, alone.explained_class)
    assert subset.columns == alone.columns and subset.method == alone.method


def test_treeshap_estimate_grows_with_the_trees(tmp_path, freesolv):
    frame, y = freesolv
    config = BaselineConfig(model="random_forest", hyperparameters={}, features=["morgan", "descriptors"], n_jobs=1)
    seconds = []
    for params in ({"n_estimators": 10, "max_depth": 3}, {"n_estimators": 10}, {"n_estimators": 20}):
        estimator, _ = fit_on_rows(frame, y, "regression", config, params)
        seconds.append(treeshap_seconds(estimator))
    assert 0 < seconds[0] < seconds[1] < seconds[2]  # deeper, then more trees
    assert seconds[2] == pytest.approx(2 * seconds[1], rel=0.3)
    boosting = BaselineConfig(model="hist_gradient_boosting", hyperparameters={}, features=["morgan"], n_jobs=1)
    estimator, _ = fit_on_rows(frame, y, "regression", boosting, KINDS["hist_gradient_boosting"])
    assert treeshap_seconds(estimator) > 0


def _molecules(frame: pd.DataFrame, y: np.ndarray, n_test: int) -> Molecules:
    table = load_builtin(REPO / "data/builtin/freesolv.yaml").head(len(frame))
    split = np.where(np.arange(len(frame)) < len(frame) - n_test, "train", "test")
    rows = pd.DataFrame({MOL_ID: [f"m{i}" for i in range(len(frame))], ROW: np.arange(len(frame)),
                         SMILES: table["smiles"], TARGET: y, SPLIT: split})
    return Molecules([Chem.MolFromSmiles(s) for s in rows[SMILES]], rows, frame, None)


def test_treeshap_budget_cuts_the_explained_sample_the_same_way_every_time(tmp_path, freesolv):
    frame, y = freesolv
    data = _molecules(frame, y, n_test=30)
    _save(tmp_path, "random_forest", frame.iloc[:60], y[:60])
    model = load_sklearn_model(tmp_path)
    test_ids = data.table[MOL_ID].iloc[60:].tolist()
    per_molecule = treeshap_seconds(model.members[0][0])
    roomy = baseline_importance(model, data, test_ids, InterpretConfig(radius=2, n_bits=N_BITS))
    assert roomy.n_explained == roomy.n_test == 30 and roomy.explained == "30 test molecules"
    tight = InterpretConfig(radius=2, n_bits=N_BITS, max_treeshap_seconds=7.5 * per_molecule)
    first, again = (baseline_importance(model, data, test_ids, tight) for _ in range(2))
    assert first.n_explained == 7 and first.n_test == 30
    assert np.array_equal(first.rows, again.rows) and set(first.rows) <= set(range(60, 90))
    assert "7 of 30 test molecules" in first.explained and "max_treeshap_seconds" in first.explained
    assert first.shap is not None and len(first.shap.values) == 7
    capped = baseline_importance(model, data, test_ids, InterpretConfig(radius=2, n_bits=N_BITS, max_explained=5))
    assert capped.n_explained == 5 and "interpret.max_explained 5" in capped.explained


def test_permutation_budget_grows_with_the_training_set_and_cuts_the_same_way_every_time(tmp_path, freesolv):
    frame, y = freesolv
    small, large = tmp_path / "small", tmp_path / "large"
    _save(small, "knn_tanimoto", frame.iloc[:30], y[:30])
    _save(large, "knn_tanimoto", frame.iloc[:60], y[:60])
    small_model, model = load_sklearn_model(small), load_sklearn_model(large)
    assert row_seconds(model) == pytest.approx(2 * row_seconds(small_model)) and row_seconds(model) > 0
    per_molecule = min(SMALL.max_features, len(model.columns)) * SMALL.n_repeats * row_seconds(model)
    tight = replace(SMALL, max_seconds=7.5 * per_molecule)
    assert affordable_molecules(model, tight) == 7
    assert affordable_molecules(small_model, tight) == 15  # half the references: twice the molecules
    # a budget for less than one molecule still shuffles among two (among one, nothing changes)
    assert affordable_molecules(model, replace(SMALL, max_seconds=0.1 * per_molecule)) == 2
    data = _molecules(frame, y, n_test=30)
    test_ids = data.table[MOL_ID].iloc[60:].tolist()
    config = InterpretConfig(radius=2, n_bits=N_BITS, permutation=tight)
    first, again = (baseline_importance(model, data, test_ids, config) for _ in range(2))
    assert first.n_explained == 7 and np.array_equal(first.rows, again.rows)
    assert "interpret.permutation.max_seconds" in first.explained
    reference, maps = frame.iloc[:60], frame.iloc[60:63]
    assert budgeted_shap_config(model, maps, reference, SMALL, seed=0) == SMALL  # roomy: unchanged
    one = budgeted_shap_config(model, maps, reference, replace(SMALL, max_seconds=1e-9), seed=0)
    assert (one.n_permutations, one.n_background) == (1, 1)  # the least there is
    sweep = [budgeted_shap_config(model, maps, reference, replace(SMALL, max_seconds=row_seconds(model) * k),
                                  seed=0) for k in (1e6, 3e3, 1e3, 3e2, 1e2)]
    settings = [(c.n_permutations, c.n_background) for c in sweep]
    assert settings == sorted(settings, reverse=True)  # a smaller budget never buys more
    assert any(n == 1 and 1 < b < SMALL.n_background for n, b in settings), settings
