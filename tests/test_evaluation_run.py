"""The whole evaluation on small real molecules: reports, plot tables, configuration."""

import json

import numpy as np
import pandas as pd
import pytest

from molprop.evaluation.config import EvaluateConfig
from molprop.evaluation.run import evaluate, jsonable
from molprop.models.predictor import Predictions

SMILES = ["CCO", "CCCO", "CCCCO", "c1ccccc1", "c1ccccc1C", "c1ccccc1CC", "c1ccccc1O", "CC(=O)O",
          "CCN", "CCCN", "c1ccncc1", "C1CCCCC1", "C1CCCCC1O", "CCOCC", "CCCCCC", "c1ccc2ccccc2c1"]
TRAIN = ["CO", "CCCCCO", "c1ccccc1Cl", "CC(=O)OC", "CCCCN", "C1CCCC1", "Cc1ccncc1", "CCCCCCC"]
PARAMS = {"bootstrap": {"n_resamples": 100, "seed": 0},
          "subgroups": {"min_group_size": 3, "target_bins": 3, "size_bins": 3}}


def _frames(y):
    test = pd.DataFrame({"mol_id": SMILES, "smiles": SMILES, "y": y})
    train = pd.DataFrame({"mol_id": TRAIN, "smiles": TRAIN})
    return test, train


def test_k_fold_mean_and_std_are_over_each_folds_ensemble():
    """(issue 4/6: "mean ± std over folds"; with several networks per fold there was only the
    figure over every single network)."""
    rng = np.random.default_rng(1)
    y = rng.normal(size=len(SMILES))
    members = y + rng.normal(scale=0.5, size=(6, len(SMILES)))
    names = [f"fold_{k}_member_{i}" for k in range(3) for i in range(2)]
    test, train = _frames(y)
    metrics = evaluate("regression", test, {"model": Predictions(members, names)}, train,
                       EvaluateConfig.from_params(PARAMS)).metrics
    fold_rmse = [np.sqrt(np.mean((members[2 * k:2 * k + 2].mean(axis=0) - y) ** 2)) for k in range(3)]
    assert metrics["model_folds"]["rmse_mean"] == pytest.approx(np.mean(fold_rmse), rel=1e-5)  # 6 digits
    assert metrics["model_folds"]["rmse_std"] == pytest.approx(np.std(fold_rmse), rel=1e-5)
    assert metrics["model_members"]["rmse_mean"] > metrics["model_folds"]["rmse_mean"]  # single networks err more
    plain = evaluate("regression", test, {"model": Predictions(members, [f"member_{i}" for i in range(6)])}, train,
                     EvaluateConfig.from_params(PARAMS)).metrics
    assert "model_folds" not in plain and "model_members" in plain


def test_regression_evaluation_reports_everything_as_strict_json():
    rng = np.random.default_rng(0)
    y = rng.normal(size=len(SMILES))
    members = y + rng.normal(scale=0.5, size=(4, len(SMILES)))
    predictions = {"baseline": Predictions((y + rng.normal(size=len(SMILES)))[None], ["member_0"]),
                   "model": Predictions(members, [f"fold_{k}" for k in range(4)], 1.3)}
    test, train = _frames(y)
    result = evaluate("regression", test, predictions, train, EvaluateConfig.from_params(PARAMS))
    for report in (result.metrics, result.uncertainty, result.domain, result.subgroups):
        json.dumps(report, allow_nan=False)
    metrics = result.metrics
    assert metrics["n_test"] == len(SMILES) and metrics["bootstrap"]["n_resamples"] == 100
    assert set(metrics["model"]) == {"rmse", "mae", "r2", "spearman"}
    ci = metrics["model_ci"]["rmse"]
    assert ci["low"] <= metrics["model"]["rmse"] <= ci["high"]
    assert "model_members" in metrics and "baseline_members" not in metrics
    assert metrics["model_folds"] == metrics["model_members"]  # one member per fold
    assert metrics["model_members"]["rmse_std"] > 0
    assert 0 <= metrics["model_vs_baseline"]["wilcoxon_p_value"] <= 1
    assert result.uncertainty["baseline"]["coverage"] is None and result.uncertainty["baseline"]["reason"]
    model_quality = result.uncertainty["model"]
    assert 0 <= model_quality["coverage"] <= 1 and model_quality["uncertainty_scale"] == 1.3
    assert result.domain["similarity"]["n"] == len(SMILES)
    assert set(result.subgroups["summary"]) == {"scaffold", "target", "size", "similarity"}
    table = result.subgroup_table
    assert (table.groupby("grouping")["n"].sum() == len(SMILES)).all()
    assert {"model_error", "model_ratio", "model_ci_low", "model_flagged"} <= set(table.columns)
    plots = result.plots
    assert set(plots) == {"residuals_baseline", "residuals_model", "calibration_baseline",
                          "calibration_model", "error_vs_similarity"}
    assert plots["calibration_baseline"].empty and len(plots["calibration_model"]) == 19
    assert np.allclose(plots["residuals_model"]["residual"], members.mean(axis=0) - y)
    assert plots["error_vs_similarity"]["similarity"].is_monotonic_increasing
    again = evaluate("regression", test, predictions, train, EvaluateConfig.from_params(PARAMS))
    assert again.metrics == metrics and again.subgroup_table.equals(result.subgroup_table)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classification_evaluation(n_classes):
    rng = np.random.default_rng(1)
    y = np.arange(len(SMILES)) % n_classes
    logits = rng.normal(size=(2, len(SMILES), n_classes)) + 2 * np.eye(n_classes)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    predictions = {"baseline": Predictions(proba[:1], ["member_0"]),
                   "model": Predictions(proba, ["member_0", "member_1"])}
    test, train = _frames(y)
    names = ["low", "medium", "high"][:n_classes]
    result = evaluate("classification", test, predictions, train,
                      EvaluateConfig.from_params(PARAMS), names)
    json.dumps(result.metrics, allow_nan=False)
    assert set(result.metrics["model"]) == {"accuracy", "roc_auc", "pr_auc", "f1", "mcc", "brier"}
    assert result.metrics["model"]["roc_auc"] > 0.5
    assert "expected_calibration_error" in result.uncertainty["model"]
    table = result.subgroup_table
    assert table.loc[table.grouping == "target", "group"].tolist() == names
    assert result.plots["residuals_model"].empty
    assert result.plots["calibration_model"]["count"].sum() == len(SMILES)


def test_jsonable_turns_nan_into_null_and_rounds():
    assert jsonable({"a": np.float64("nan"), "b": [np.int64(2), 1 / 3], "c": np.bool_(True)}) == {
        "a": None, "b": [2, 0.333333], "c": True}


def test_config_defaults_and_errors_name_the_key():
    assert EvaluateConfig.from_params({"device": "cpu"}) == EvaluateConfig(device="cpu")
    with pytest.raises(ValueError, match="colour under evaluate.subgroups"):
        EvaluateConfig.from_params({"subgroups": {"colour": 1}})
    with pytest.raises(ValueError, match="evaluate.uncertainty.interval"):
        EvaluateConfig.from_params({"uncertainty": {"interval": 90}})
    for edges in ([0.5, 0.2], [0.3, 0.6], [0.0, 0.5]):  # unsorted, or not covering 0-1
        with pytest.raises(ValueError, match="similarity_bins"):
            EvaluateConfig.from_params({"domain": {"similarity_bins": edges}})
    with pytest.raises(ValueError, match="scaffold"):
        EvaluateConfig.from_params({"subgroups": {"scaffold": "exact"}})
    with pytest.raises(ValueError, match="worse_factor"):
        EvaluateConfig.from_params({"subgroups": {"worse_factor": 0.5}})
