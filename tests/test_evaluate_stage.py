"""stages/evaluate.py on the small project of the interpret stage test: the network predicted
in the helper process or in the stage's own process gives the same outputs."""

from __future__ import annotations

import hashlib
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rdkit import Chem
from test_interpretation_stage import _project

from molprop.evaluation.domain import max_train_similarity

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ["data/predictions.parquet", "metrics/evaluate.json", "metrics/uncertainty.json",
           "metrics/domain.json", "metrics/subgroups.json", "plots/pred_vs_measured.csv"]


def _digests(root: Path) -> dict[str, str]:
    return {name: hashlib.md5((root / name).read_bytes()).hexdigest() for name in OUTPUTS}


def _evaluate_project(root: Path, n_resamples: int, task: str = "regression") -> None:
    """The interpret stage test's small project, with the evaluate params (fewer resamples)."""
    _project(root, task)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["evaluate"] = yaml.safe_load((REPO / "params.yaml").read_text())["evaluate"]
    params["evaluate"]["bootstrap"]["n_resamples"] = n_resamples
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "metrics").mkdir()


def _run_evaluate(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "stages/evaluate.py"], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_network_in_the_helper_or_in_process_gives_the_same_outputs(tmp_path, monkeypatch):
    _evaluate_project(tmp_path, 50)
    done = _run_evaluate(tmp_path)
    assert "evaluate: warning: 10 test molecule(s): the metrics and their bootstrap intervals" in done.stdout
    helper = _digests(tmp_path)

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "stages"))
    monkeypatch.setattr(sys, "platform", "darwin")  # device auto on macOS: no helper process
    stage = runpy.run_path("stages/evaluate.py")
    monkeypatch.setitem(stage["main"].__globals__, "WorkerPool", None)  # would fail if it were used
    stage["main"]()
    assert _digests(tmp_path) == helper


def test_similarity_is_to_the_molecules_the_models_were_fitted_on(tmp_path):
    """train_similarity is to the train part, not to the validation part (which only chose the
    epoch): the reference `molprop predict` uses for its applicability domain."""
    _evaluate_project(tmp_path, 20)
    validated = pd.read_parquet(tmp_path / "data/validated.parquet")
    split = pd.read_parquet(tmp_path / "data/split.parquet")
    mols = [Chem.MolFromSmiles(s) for s in validated["smiles"]]
    train, test = np.flatnonzero(split["split"] == "train"), np.flatnonzero(split["split"] == "test")
    nearest = [max(train, key=lambda t: max_train_similarity([mols[i]], [mols[t]])[0]) for i in test]
    split.loc[nearest[0], "split"] = "val"  # the first test molecule's nearest training molecule
    split.to_parquet(tmp_path / "data/split.parquet")
    _run_evaluate(tmp_path)
    table = pd.read_parquet(tmp_path / "data/predictions.parquet")
    fitted = [mols[i] for i in np.flatnonzero(split["split"] == "train")]
    assert np.array_equal(table["train_similarity"], max_train_similarity([mols[i] for i in test], fitted))
    with_val = max_train_similarity([mols[test[0]]], [*fitted, mols[nearest[0]]])[0]
    assert table["train_similarity"].iloc[0] < with_val


def test_a_test_r2_below_zero_is_warned_about(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "stages"))
    from evaluate import _print_summary

    interval = {"low": 0.0, "high": 1.0}
    metrics = {"baseline": {"rmse": 1.0, "r2": 0.5}, "model": {"rmse": 3.0, "r2": -0.19}, "n_test": 65,
               "baseline_ci": {"rmse": interval, "r2": interval}, "model_ci": {"rmse": interval, "r2": interval}}
    _print_summary("regression", metrics, ("baseline", "model"), pd.DataFrame(), [])
    out = capsys.readouterr().out
    assert "warning: the model's test R² is -0.19" in out and "baseline's test R²" not in out


def test_undefined_figures_of_one_test_molecule_print_as_n_a(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "stages"))
    from evaluate import _print_summary

    none = {"low": None, "high": None}
    metrics = {name: {"rmse": 0.5, "r2": None} for name in ("baseline", "model")} | {
        f"{name}_ci": {"rmse": {"low": 0.5, "high": 0.5}, "r2": none} for name in ("baseline", "model")} | {
        "n_test": 1, "model_vs_baseline": {"n_model_better": 1, "n_baseline_better": 0,
                                           "mean_error_difference": -0.2, "wilcoxon_p_value": None}}
    _print_summary("regression", metrics, ("baseline", "model"), pd.DataFrame(), [])
    out = capsys.readouterr().out
    assert "evaluate model: rmse 0.5 [0.5, 0.5], r2 n/a [n/a, n/a]" in out and "None" not in out
    assert "note" not in out
    metrics["model_ci"]["r2"] = none | {"n_resamples_defined": 120}
    metrics["bootstrap"] = {"n_resamples": 1000}
    _print_summary("regression", metrics, ("baseline", "model"), pd.DataFrame(), [])
    note = capsys.readouterr().out
    assert "evaluate: note: the model's intervals of r2 (120) rest on that many of the 1000 resamples" in note
    # the reason for a regression metric (it named missing classes and F1)
    assert "their measured values or their predictions are one value" in note and "class" not in note
    assert "Wilcoxon p = n/a: the model errs less on average, but the paired tests are undefined" in out


def test_the_uncertainty_line_says_whether_it_ranks_the_errors(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / "stages"))
    from evaluate import _print_uncertainty

    model = {"coverage": 0.938462, "coverage_ci": {"low": 0.876923, "high": 0.984615}, "coverage_level": 0.9,
             "spread_error_spearman": 0.160096, "spread_error_spearman_ci": {"low": -0.0894, "high": 0.397},
             "uncertainty_scale": 7.48}
    uncertainty = {"baseline": {"coverage": None, "reason": "one_member"}, "model": model}
    _print_uncertainty(uncertainty, ("baseline", "model"), 65)
    out = capsys.readouterr().out
    assert out.startswith("evaluate baseline uncertainty: none, no spread between members to use as an "
                          "uncertainty; an ensemble (train.ensemble_size: the network) or k-fold")
    out = out.split("\n", 1)[1]
    assert out == ("evaluate model uncertainty: 90% intervals cover 93.8% [87.7%, 98.5%] of test molecules; "
                   "Spearman of uncertainty and |error| 0.16 [-0.09, 0.40], an interval that takes in 0: it "
                   "hardly tells which test molecules it errs on\n")
    model["spread_error_spearman_ci"]["low"] = 0.05
    _print_uncertainty(uncertainty, ("model",), 65)
    assert capsys.readouterr().out.endswith("[0.05, 0.40], it ranks the errors\n")
    model["spread_error_spearman_ci"] = {"low": -0.9, "high": -0.2}
    _print_uncertainty(uncertainty, ("model",), 65)
    assert capsys.readouterr().out.endswith("it ranks them backwards (larger uncertainty, smaller error)\n")
    # one uncertainty for all, or a single test molecule: undefined figures are null (None) here
    model |= {"spread_error_spearman": None, "spread_error_spearman_ci": {"low": None, "high": None},
              "coverage_ci": {"low": None, "high": None}, "uncertainty_scale": None}
    _print_uncertainty(uncertainty, ("model",), 65)
    assert capsys.readouterr().out == (
        "evaluate model uncertainty (the raw member spread, not calibrated): 90% intervals cover 93.8% [n/a, n/a] "
        "of test molecules; the Spearman of uncertainty and |error| is undefined (one uncertainty for every "
        "test molecule, or too few of them), so it ranks none of their errors\n")
    _print_uncertainty(uncertainty, ("model",), 2)  # a Spearman of 2 molecules is +-1
    assert capsys.readouterr().out.endswith("of test molecules; 2 test molecule(s) are too few to tell whether it "
                                            "ranks their errors\n")


def test_a_model_that_predicts_one_class_everywhere_is_warned_about(monkeypatch, capsys):
    """A scaffold split left train with few actives: both models predicted inactive for every
    test molecule (MCC 0 next to ROC-AUC 0.88) without a word."""
    monkeypatch.syspath_prepend(str(REPO / "stages"))
    from evaluate import _print_summary

    interval = {"low": 0.0, "high": 1.0}
    metrics = {name: {"roc_auc": 0.8, "mcc": 0.0} for name in ("baseline", "model")} | {
        f"{name}_ci": {"roc_auc": interval, "mcc": interval} for name in ("baseline", "model")} | {
        "n_test": 40, "model_vs_baseline": {"n_model_better": 25, "n_baseline_better": 15,
                                            "mean_error_difference": 0.02, "wilcoxon_p_value": 0.3}}
    table = pd.DataFrame({"y": [0, 1, 0, 1], "baseline": [1, 1, 1, 1], "model": [0, 1, 0, 0]})
    _print_summary("classification", metrics, ("baseline", "model"), table, ["active", "inactive"], ["active"])
    out = capsys.readouterr().out
    assert "warning: the baseline predicts class 'inactive' for every test molecule" in out
    assert "the training part holds 'active' at under half its share of the data (metrics/split.json)" in out
    assert "the model predicts" not in out
    # every class well represented in training: the split is not the cause (it had been blamed)
    _print_summary("classification", metrics, ("baseline", "model"), table, ["active", "inactive"])
    out = capsys.readouterr().out
    assert "every class is common in the data and the training part, so the model learnt too little: see the " \
           "baseline's cross-validation scores" in out and "split.json" not in out
    # a class rare in the data: class weights, not epochs (which the baseline has none of)
    _print_summary("classification", metrics, ("baseline", "model"), table, ["active", "inactive"], [],
                   {"active": 0.045})
    out = capsys.readouterr().out
    assert "'active' is 4.5% of the data: with baseline.class_weight: none, balanced (the default) weighs" in out
    table["model"] = [0, 0, 0, 0]
    _print_summary("classification", metrics, ("baseline", "model"), table, ["active", "inactive"], [],
                   {"inactive": 0.045})
    out = capsys.readouterr().out
    assert "'inactive' is 4.5% of the data: the network is trained without class weights" in out
    assert "train.max_epochs" not in out
    assert ("the model errs less on 25, the baseline on 15 test molecules; mean error difference (model - "
            "baseline) 0.02 (paired bootstrap p = 0.3), Wilcoxon p = 0.3: the baseline errs less on average, but "
            "not significantly (p >= 0.05): on this test part neither is clearly better") in out
    metrics["model_vs_baseline"] |= {"mean_error_difference": -0.02, "wilcoxon_p_value": 0.001}
    _print_summary("classification", metrics, ("baseline", "model"), table, ["active", "inactive"])
    out = capsys.readouterr().out
    assert "Wilcoxon p = 0.001: the model errs less on average\n" in out


def test_a_significant_test_against_the_mean_is_not_read_as_the_means_win(monkeypatch, capsys):
    """55 molecules favour the model by 0.2, 5 the baseline by 5: the mean favours the
    baseline, the significant signed-rank test the model (bug fixed: read as a significant
    win of the baseline)."""
    monkeypatch.syspath_prepend(str(REPO / "stages"))
    from evaluate import _print_summary

    from molprop.evaluation.bootstrap import rank_biserial, wilcoxon_p_value

    model, baseline = np.r_[np.full(55, 1.0), np.full(5, 6.0)], np.r_[np.full(55, 1.2), np.full(5, 1.0)]
    interval = {"low": 0.0, "high": 1.0}
    metrics = {name: {"rmse": 1.0, "r2": 0.5} for name in ("baseline", "model")} | {
        f"{name}_ci": {"rmse": interval, "r2": interval} for name in ("baseline", "model")} | {
        "n_test": 60, "model_vs_baseline": {"n_model_better": 55, "n_baseline_better": 5,
                                            "mean_error_difference": float(np.mean(model - baseline)),
                                            "rank_biserial": rank_biserial(model, baseline),
                                            "wilcoxon_p_value": wilcoxon_p_value(model, baseline)}}
    assert metrics["model_vs_baseline"]["rank_biserial"] < 0 < metrics["model_vs_baseline"]["mean_error_difference"]
    _print_summary("regression", metrics, ("baseline", "model"), pd.DataFrame(), [])
    out = capsys.readouterr().out
    assert ": the baseline errs less on average; the signed-rank test favours the model (rank-biserial -0.683" in out
    # no claim about which model's errors are fewer or larger: "its rival's larger errors" named
    # the wrong model here, "the <model>'s fewer but larger errors" would in other cases
    assert ("significant): the two weigh the molecules differently (the mean by the size of each "
            "difference, the signed-rank test by its rank), so which is better depends") in out
    # 55 x -0.01 and 45 x +1.0: the median favours the model, the signed-rank test (and the mean) the baseline
    model, baseline = np.r_[np.full(55, 1.0), np.full(45, 2.0)], np.r_[np.full(55, 1.01), np.full(45, 1.0)]
    metrics["model_vs_baseline"] |= {"mean_error_difference": float(np.mean(model - baseline)),
                                     "rank_biserial": rank_biserial(model, baseline),
                                     "wilcoxon_p_value": wilcoxon_p_value(model, baseline)}
    _print_summary("regression", metrics, ("baseline", "model"), pd.DataFrame(), [])
    assert f"Wilcoxon p = {_p(metrics)}: the baseline errs less on average\n" in capsys.readouterr().out
    # 20 molecules favour the model by 1.0, 30 the baseline by 0.05: the mean difference is
    # significant by its paired bootstrap, the signed-rank test is not (bug fixed: "neither is
    # clearly better", against the MAE difference's interval)
    model, baseline = np.r_[np.full(20, 0.0), np.full(30, 1.05)], np.r_[np.full(20, 1.0), np.full(30, 1.0)]
    metrics["model_vs_baseline"] |= {"mean_error_difference": float(np.mean(model - baseline)),
                                     "mean_error_difference_p_value": 0.001,
                                     "rank_biserial": rank_biserial(model, baseline),
                                     "wilcoxon_p_value": wilcoxon_p_value(model, baseline)}
    assert metrics["model_vs_baseline"]["wilcoxon_p_value"] > 0.05
    _print_summary("regression", metrics, ("baseline", "model"), pd.DataFrame(), [])
    assert f"(paired bootstrap p = 0.001), Wilcoxon p = {_p(metrics)}: the model errs less on average\n" in \
        capsys.readouterr().out
    # the mean not significant, the signed-rank test significant the other way: no "outweigh on average"
    metrics["model_vs_baseline"] |= {"mean_error_difference": 0.1, "mean_error_difference_p_value": 0.4,
                                     "rank_biserial": -0.6, "wilcoxon_p_value": 0.01}
    _print_summary("regression", metrics, ("baseline", "model"), pd.DataFrame(), [])
    assert ("Wilcoxon p = 0.01: the baseline errs less on average, but not significantly (p >= 0.05); the "
            "signed-rank test favours the model (rank-biserial -0.6, significant)\n") in capsys.readouterr().out


def _p(metrics: dict) -> str:
    from molprop.evaluation.verdict import shown

    return shown(metrics["model_vs_baseline"]["wilcoxon_p_value"])


def test_a_one_class_model_s_warning_names_the_classes_scarce_in_training(tmp_path):
    # the untrained network of the small project predicts one class for every test molecule;
    # the warning blamed the split even where training held every class at its share
    _evaluate_project(tmp_path, 20, "classification")
    validated = pd.read_parquet(tmp_path / "data/validated.parquet")
    split = pd.read_parquet(tmp_path / "data/split.parquet")
    labels = validated["label"].to_numpy()
    share = pd.Series(labels).value_counts(normalize=True)
    trained = pd.Series(labels[(split["split"] == "train").to_numpy()]).value_counts(normalize=True)
    scarce = [c for c in sorted(share.index, key=["low", "mid", "high"].index) if trained.get(c, 0) < 0.5 * share[c]]
    out = _run_evaluate(tmp_path).stdout
    assert "evaluate: warning: the model predicts class" in out
    if scarce:
        assert f"the training part holds {', '.join(repr(c) for c in scarce)} at under half" in out
    else:
        assert "every class is common in the data and the training part" in out

    split.loc[(split["split"] == "train").to_numpy() & (labels == "low"), "split"] = "val"  # no 'low' in training
    split.to_parquet(tmp_path / "data/split.parquet")
    assert "the training part holds 'low' at under half its share" in _run_evaluate(tmp_path).stdout
