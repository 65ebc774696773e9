"""The real pipeline: `dvc repro` in a temporary git repo on a slice of FreeSolv.

The slice is 100 real molecules plus rows that validate must reject or merge, written as a
user's own CSV, so the test also covers "switch to your own data by editing params.yaml".
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from molprop.data.builtin import load_builtin

REPO = Path(__file__).resolve().parents[1]
COPIED = ["dvc.yaml", "params.yaml", "stages", "src", "data/builtin", ".dvcignore"]
STAGES = ["validate", "featurize", "split", "baseline", "train", "evaluate", "interpret"]
# Rows appended to the slice: (smiles, target) and what validate must make of them.
EXTRA_ROWS = [
    ("not_a_smiles", "1.0"),        # unparsable_smiles
    ("CCO", "<10"),                 # censored_target
    ("", "-2.0"),                   # empty cell: missing_smiles
]  # plus a replicate of the first molecule, 0.1 apart: merged


def _env(cwd: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1",
            "MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/mlflow.db"}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=_env(cwd), capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _git_commit(cwd: Path, message: str) -> None:
    _run(["git", "add", "-A"], cwd)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], cwd)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("e2e")
    for name in COPIED:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    freesolv = load_builtin(REPO / "data/builtin/freesolv.yaml")
    slice_ = freesolv[["smiles", "expt"]].head(100).astype(str)
    replicate = (slice_.smiles[0], str(float(slice_.expt[0]) + 0.1))
    extra = pd.DataFrame([*EXTRA_ROWS, replicate], columns=["smiles", "expt"])
    pd.concat([slice_, extra]).rename(columns={"smiles": "SMILES", "expt": "dG"}).to_csv(
        root / "my_molecules.csv", index=False)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"] |= {"source": "my_molecules.csv", "smiles_column": "SMILES", "target_column": "dG"}
    params["validate"]["target_range"] = {"dG": [-30.0, 10.0]}
    params["featurize"]["descriptors"]["set"] = "fast"
    params["baseline"]["random_forest"]["n_estimators"] = 30
    params["train"] |= {"max_epochs": 8, "patience": 3, "warmup_epochs": 1, "hidden_size": 64,
                        "ensemble_size": 2}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "init", "-q"], root)
    _run(["dvc", "init", "-q"], root)
    _git_commit(root, "project")
    _run(["dvc", "repro"], root)
    return root


def test_every_stage_ran_and_wrote_its_outputs(project):
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert list(lock["stages"]) == STAGES
    for path in ["data/validated.parquet", "data/features.parquet", "data/split.parquet",
                 "models/baseline/model.json", "models/model/model.json",
                 "data/predictions.parquet", "reports/interpret/feature_importance.csv",
                 "reports/interpret/worst_model.csv", "plots/pred_vs_measured.csv",
                 "reports/validation/gx_result.json"]:
        assert (project / path).is_file(), path


def test_the_model_runs_in_mlflow_record_the_split_they_were_trained_on(project):
    """data/split.parquet carries the split's settings (as metrics/split.json has them), and the
    baseline's and train's MLflow runs log them: runs on other splits are told apart."""
    from mlflow.tracking import MlflowClient

    from molprop.data.tables import split_settings

    settings = split_settings(project / "data/split.parquet")
    assert settings == json.loads((project / "metrics/split.json").read_text())["config"]
    # validate and featurize record theirs too, which the models are saved with
    from molprop.data.tables import recorded_settings
    from molprop.schema import FEATURIZE_SETTINGS_KEY, VALIDATE_SETTINGS_KEY

    params = yaml.safe_load((project / "params.yaml").read_text())
    made = {"validate": recorded_settings(project / "data/validated.parquet", VALIDATE_SETTINGS_KEY),
            "featurize": recorded_settings(project / "data/features.parquet", FEATURIZE_SETTINGS_KEY)}
    assert made["validate"] == {k: params["validate"][k] for k in ("standardize", "identity_key", "rules")}
    assert made["featurize"] == {k: params["featurize"][k] for k in ("morgan", "descriptors", "graph")}
    for model in ("baseline", "model"):
        context = json.loads((project / "models" / model / "predict_context.json").read_text())
        assert {k: context[k] for k in made} == made
    client = MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("molprop").experiment_id])
    assert {"baseline", "train"} <= {r.info.run_name for r in runs}
    for run in runs:
        assert run.data.params["split.method"] == settings["method"] == "scaffold"
        assert run.data.params["featurize.descriptors.set"] == "fast"


def test_both_models_take_the_training_part_as_predict_s_domain_reference(project):
    """molprop predict's applicability domain is similarity to the molecules a model was fitted
    on: the train part, not val (which only chose epochs and hyperparameters) or test."""
    from molprop.predict.context import load_predict_context

    n_train = int((pd.read_parquet(project / "data/split.parquet")["split"] == "train").sum())
    for model in ("baseline", "model"):
        assert load_predict_context(project / "models" / model).n_train == n_train, model


def test_rows_in_equal_kept_plus_rejected_plus_merged(project):
    metrics = json.loads((project / "metrics/validation.json").read_text())
    rejected = pd.read_csv(project / "data/rejected.csv")
    validated = pd.read_parquet(project / "data/validated.parquet")
    assert metrics["n_in"] == 100 + len(EXTRA_ROWS) + 1
    assert metrics["n_in"] == metrics["n_kept"] + metrics["n_rejected"] + metrics["n_merged_away"]
    assert metrics["n_kept"] == len(validated) and metrics["n_rejected"] == len(rejected)
    assert sorted(rejected["reason"]) == ["censored_target", "missing_smiles", "unparsable_smiles"]
    assert metrics["n_merged_away"] == 1 and validated["n_replicates"].max() == 2


def test_metrics_are_finite_and_cover_both_models(project):
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    split = json.loads((project / "metrics/split.json").read_text())
    assert metrics["n_test"] == split["parts"]["test"]["n"] > 0
    for model in ("baseline", "model"):
        assert set(metrics[model]) == {"rmse", "mae", "r2", "spearman"}
        ci = metrics[f"{model}_ci"]["rmse"]
        assert ci["low"] <= metrics[model]["rmse"] <= ci["high"]
        assert 0 < metrics[model]["mae"] <= metrics[model]["rmse"] < 20
    assert split["shared_scaffolds"]["train_test"] == 0


def test_ensemble_members_and_calibrated_spread(project):
    card = json.loads((project / "models/model/model.json").read_text())
    assert card["members"] == ["member_0", "member_1"]
    assert card["extra"]["uncertainty_scale"] > 0
    # the card says what was trained (molprop info shows it), not how the run went
    params = yaml.safe_load((project / "params.yaml").read_text())["train"]
    assert card["extra"]["model"] == "dmpnn" and card["extra"]["settings"]["max_epochs"] == params["max_epochs"]
    assert "n_jobs" not in card["extra"]["settings"] and set(card["extra"]["best_epoch"]) == set(card["members"])
    assert card["extra"]["settings"]["depth"] == params["depth"]  # the D-MPNN's own (an MLP's card lacks it)
    # dvclive: each member's curves under the names docs/metrics.md gives
    curves = project / "dvclive/plots/metrics"
    assert all((curves / member / f"{name}.tsv").is_file() for member in card["members"]
               for name in ("train/loss", "val/loss", "lr"))
    predictions = pd.read_parquet(project / "data/predictions.parquet")
    assert (predictions["model_spread"] > 0).all()
    quality = json.loads((project / "metrics/uncertainty.json").read_text())
    assert quality["model"]["uncertainty_scale"] == pytest.approx(card["extra"]["uncertainty_scale"],
                                                                  rel=1e-5)
    assert card["extra"]["uncertainty_floor"] >= 0
    expected = np.sqrt((card["extra"]["uncertainty_scale"] * predictions["model_spread"]) ** 2
                       + card["extra"]["uncertainty_floor"] ** 2)
    assert np.allclose(predictions["model_uncertainty"], expected)
    assert 0 <= quality["model"]["coverage"] <= 1 and "reason" in quality["baseline"]


def test_second_repro_is_a_noop_and_status_clean(project):
    out = _run(["dvc", "repro"], project).stdout
    assert "Running stage" not in out
    assert "up to date" in _run(["dvc", "status"], project).stdout


def test_experiment_with_changed_lr_reruns_only_training_and_diffs(project):
    _git_commit(project, "baseline run")
    out = _run(["dvc", "exp", "run", "--set-param", "train.lr=0.0003"], project).stdout
    ran = [s for s in STAGES if f"Running stage '{s}'" in out]
    assert ran == ["train", "evaluate", "interpret"]
    params_diff = json.loads(_run(["dvc", "params", "diff", "--json"], project).stdout)
    lr = params_diff["params.yaml"]["train.lr"]
    assert (lr["old"], lr["new"]) == (0.001, 0.0003)
    metrics_diff = json.loads(_run(["dvc", "metrics", "diff", "--json"], project).stdout)
    assert "metrics/evaluate.json" in metrics_diff
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], project).stdout)
    experiments = [exp for rev in shown for exp in rev.get("experiments") or []]
    assert len(experiments) == 1 and experiments[0]["name"]
    plots = json.loads(_run(["dvc", "plots", "show", "--json"], project).stdout)
    assert not plots.get("errors")
    assert {"pred_vs_measured", "learning_curves", "split_similarity", "residuals", "calibration",
            "error_vs_similarity"} <= set(plots["data"])


def test_kfold_experiment_trains_one_member_per_fold_and_reports_spread(project):
    _run(["dvc", "exp", "run", "--set-param", "split.n_folds=3", "--set-param", "split.method=random"],
         project)
    split = pd.read_parquet(project / "data/split.parquet")
    assert sorted(split.loc[split["split"] != "test", "fold"].unique()) == [0, 1, 2]
    card = json.loads((project / "models/baseline/model.json").read_text())
    assert card["members"] == ["fold_0", "fold_1", "fold_2"]
    card = json.loads((project / "models/model/model.json").read_text())
    assert card["members"] == [f"fold_{k}_member_{i}" for k in range(3) for i in range(2)]
    metrics = json.loads((project / "metrics/evaluate.json").read_text())
    for model in ("baseline", "model"):
        members = metrics[f"{model}_members"]
        assert members["rmse_std"] > 0 and members["rmse_mean"] > 0
        assert metrics[f"{model}_folds"]["rmse_std"] > 0  # each fold's ensemble
    assert metrics["baseline_folds"] == metrics["baseline_members"]  # one model per fold
    quality = json.loads((project / "metrics/uncertainty.json").read_text())
    for model in ("baseline", "model"):  # a spread to judge: over the folds, or within each fold
        assert 0 <= quality[model]["coverage"] <= 1 and "reason" not in quality[model]
    assert "note" in quality["baseline"]  # one member per fold: the raw spread over the folds
    assert quality["model"]["uncertainty_scale"] > 0 and "note" not in quality["model"]  # 2 per fold: calibrated
    plots = json.loads(_run(["dvc", "plots", "show", "--json"], project).stdout)
    assert not plots.get("errors") and "learning_curves" in plots["data"]  # whatever the members' names


def test_without_a_validation_part_no_validation_curve_is_logged(project, tmp_path):
    # early stopping then watches the training loss; it was logged as val/loss, a copy of the
    # training curve that `dvc metrics diff` showed as a far better validation loss
    _run(["dvc", "exp", "run", "-S", "split.n_folds=0", "-S", "split.fractions.val=0",
          "-S", "split.fractions.train=0.9"], project)
    curves = project / "dvclive/plots/metrics"
    assert (curves / "member_0/train/loss.tsv").is_file() and (curves / "ensemble/train/loss.tsv").is_file()
    # the curve dvc.yaml's learning_curves names is there, empty (it was missing: an error in dvc plots show)
    assert [p.relative_to(curves).as_posix() for p in curves.rglob("val/loss.tsv")] == ["ensemble/val/loss.tsv"]
    assert (curves / "ensemble/val/loss.tsv").read_text() == "step\tloss\n"
    summary = json.loads((project / "dvclive/metrics.json").read_text())
    assert "member_0/val_rmse" not in summary and "member_0/best_epoch" in summary
    # the curves' last values are no summary figures (member_0 -> val -> loss of the last epoch run)
    assert not [k for k, v in summary.items() if isinstance(v, dict)]
    plots = json.loads(_run(["dvc", "plots", "show", "--json"], project).stdout)  # the training curve alone
    assert not plots.get("errors") and "learning_curves" in plots["data"]
    _run([sys.executable, "stages/report.py", "--out", str(tmp_path / "report.md")], project)  # draws what is there
    assert "Training and validation loss" in (tmp_path / "report.md").read_text()


def _model_hash(project: Path) -> str:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return next(o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "models/model")


def test_killed_training_resumes_to_the_same_model(project, tmp_path):
    """SIGKILL `dvc repro` in the middle of training; the next repro continues from the
    checkpoints and saves the model an uninterrupted run saved."""
    _run(["git", "checkout", "--", "."], project)  # back from the k-fold experiment
    _run(["dvc", "checkout", "-f"], project)
    _run(["dvc", "repro", "train"], project)
    reference = _model_hash(project)
    shutil.rmtree(project / "checkpoints", ignore_errors=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{project}/mlflow.db",
           "TMPDIR": str(tmp_path)}  # what the killed processes leave (worker files) goes with it
    process = subprocess.Popen(["dvc", "repro", "-f", "train"], cwd=project, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    first = project / "checkpoints/train/member_0.pt"
    try:
        deadline = time.monotonic() + 300
        while not first.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert first.exists(), "training never wrote a checkpoint"
    out = _run(["dvc", "repro", "train"], project).stdout
    assert "resum" in out
    assert _model_hash(project) == reference


def test_queued_sweep_runs_every_combination(project, tmp_path):
    """The README's sweep: queue a 2 x 2 grid, run the queue, compare with `dvc exp show`."""
    _run(["git", "checkout", "--", "."], project)
    _run(["dvc", "exp", "run", "--queue", "-S", "train.lr=0.001,0.0003", "-S", "train.hidden_size=32,64"],
         project)
    # The workers `dvc queue start` leaves behind inherit its stdout/stderr: give it a file,
    # not pipes, or reading them to the end would wait for the workers to exit.
    log = tmp_path / "queue_start.log"
    with log.open("w") as out:
        started = subprocess.run(["dvc", "queue", "start", "-j", "2"], cwd=project, env=_env(project),
                                 stdout=out, stderr=subprocess.STDOUT, check=False)  # fmt: skip
    assert started.returncode == 0, log.read_text()
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            status = _run(["dvc", "queue", "status"], project).stdout
            if not any(word in status for word in ("Queued", "Running")):
                break
            time.sleep(2)
    finally:
        _run(["dvc", "queue", "stop"], project)
    assert "Failed" not in status, status
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], project).stdout)
    grid = set()
    for rev in shown:
        for exp in rev.get("experiments") or []:
            for run in exp.get("revs") or []:
                data = run["data"]
                train = data["params"]["params.yaml"]["data"]["train"]
                if data["metrics"].get("metrics/evaluate.json"):
                    grid.add((train["lr"], train["hidden_size"]))
    assert {(0.001, 32), (0.001, 64), (0.0003, 32), (0.0003, 64)} <= grid
