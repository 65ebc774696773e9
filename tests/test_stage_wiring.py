"""The wiring of the stages and of `molprop predict`: each output goes to its own file, each
setting reaches the code that uses it, and a resumed or concurrent run keeps every row. Each
test here catches a plausible slip that the module tests let through (a mutation probe)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_each_evaluate_report_goes_to_its_own_file(tmp_path):
    from test_evaluate_stage import _evaluate_project, _run_evaluate

    _evaluate_project(tmp_path, 20)
    _run_evaluate(tmp_path)
    domain = json.loads((tmp_path / "metrics/domain.json").read_text())
    uncertainty = json.loads((tmp_path / "metrics/uncertainty.json").read_text())
    assert "similarity" in domain and "error_similarity_spearman" in domain["model"]
    assert "coverage" in uncertainty["model"] and domain != uncertainty


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


def _baseline(workdir: Path, settings: dict, mlflow_uri: str):
    import pandas as pd
    from test_models_baseline_stage import run_stage, write_inputs

    write_inputs(workdir, settings)
    done = run_stage(workdir, mlflow_uri)
    split = pd.read_parquet(workdir / "data/split.parquet")
    return done, int((split["split"] == "train").sum())


def test_baseline_domain_reference_is_the_training_part_only(tmp_path, mlflow_uri):
    from molprop.predict.context import load_predict_context

    _, n_train = _baseline(tmp_path, {"model": "ridge", "search.method": "none"}, mlflow_uri)
    assert load_predict_context(tmp_path / "models/baseline").n_train == n_train


def test_knn_with_as_many_neighbours_as_training_molecules_is_warned_about(tmp_path, mlflow_uri):
    import pandas as pd
    from test_models_baseline_stage import write_inputs

    write_inputs(tmp_path, {})
    n_train = int((pd.read_parquet(tmp_path / "data/split.parquet")["split"] == "train").sum())
    done, _ = _baseline(tmp_path, {"model": "knn_tanimoto", "search.method": "none",
                                   "knn_tanimoto.n_neighbors": n_train}, mlflow_uri)
    assert f"knn_tanimoto.n_neighbors {n_train} is not below" in done.stdout


def test_baseline_validation_scores_reach_mlflow_under_val_keys(tmp_path, mlflow_uri):
    from mlflow.tracking import MlflowClient

    _baseline(tmp_path, {"model": "ridge", "search.method": "none"}, mlflow_uri)
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              order_by=["attributes.start_time DESC"], max_results=1)
    keys = set(runs[0].data.metrics)
    assert any(k.endswith(".val_rmse") for k in keys), keys
    assert not any(".cv_" in k for k in keys), keys  # no search: no CV score


# molprop predict
@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from predict_models import build_models

    return build_models(tmp_path_factory.mktemp("models"), n=60)


def _library(models, path: Path, extra_columns: dict | None = None) -> Path:
    import pandas as pd
    from predict_models import BAD_SMILES

    table = pd.DataFrame({"smiles": [*models.raw["smiles"][:20], *BAD_SMILES[:3]]})
    for name, values in (extra_columns or {}).items():
        table[name] = values(len(table))
    table.to_csv(path, index=False)
    return path


# parts merged in numeric chunk order, also past 10 chunks
def test_more_than_ten_chunks_are_merged_in_input_order(models, tmp_path):
    import pandas as pd
    from molprop.predict import PredictOptions, predict_file

    library = _library(models, tmp_path / "lib.csv")
    predict_file(models.baseline, library, tmp_path / "out.parquet", PredictOptions(chunk_size=2),
                 n_jobs=1, progress=False)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["row"].tolist() == sorted(out["row"].tolist())
    assert out["smiles_input"].fillna("").tolist() == pd.read_csv(library)["smiles"].fillna("").tolist()


# the out-of-domain count leaves out the invalid rows (their in_domain is null)
def test_out_of_domain_count_excludes_invalid_rows(models, tmp_path):
    import pandas as pd
    from molprop.predict import PredictOptions, predict_file

    library = _library(models, tmp_path / "lib.csv")
    summary = predict_file(models.baseline, library, tmp_path / "out.parquet", PredictOptions(),
                           n_jobs=1, progress=False)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert summary["invalid"] == 3
    assert summary["out_of_domain"] == int((out["in_domain"] == False).sum())  # noqa: E712


# any lock held on <output>.lock (here a shared one) stops a second run
def test_a_run_holding_a_shared_lock_also_stops_a_second_run(models, tmp_path):
    import fcntl

    from molprop.predict import predict_file

    library = _library(models, tmp_path / "lib.csv")
    with open(tmp_path / "out.parquet.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_SH)
        with pytest.raises(ValueError, match="another molprop predict is writing"):
            predict_file(models.baseline, library, tmp_path / "out.parquet", n_jobs=1, progress=False)


# text params reach MLflow as the text, not its repr
def test_text_params_are_logged_unquoted(tmp_path, monkeypatch):
    import mlflow

    from molprop import tracking

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with tracking.mlflow_run("unit", "run", {"baseline": {"model": "ridge"}, "seed": 0}) as run:
        tracking.log_params({"kernel": "rbf"}, "chosen.")
    stored = mlflow.MlflowClient(uri).get_run(run.run_id)
    assert stored.data.params == {"baseline.model": "ridge", "seed": "0", "chosen.kernel": "rbf"}


# a log range from 0 is refused
def test_a_log_range_from_zero_is_refused():
    import yaml

    from molprop.params_check import params_problems

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["baseline"]["search"]["space"]["hist_gradient_boosting"]["l2_regularization"] = {
        "low": 0, "high": 10.0, "log": True}
    problems = params_problems({"baseline": params["baseline"]})
    assert any("log range needs low > 0" in p for p in problems), problems


# a fold missing a class with scaffold-grouped folds gets the
# group_folds_by_scaffold hint (not the split.method one)
def test_a_fold_without_a_class_names_group_folds_by_scaffold(tmp_path):
    import pandas as pd
    import yaml
    from test_splits_stage import run_stage, write_inputs

    from molprop.splits.chem import murcko_scaffolds, to_mols

    write_inputs(tmp_path, {"method": "random", "n_folds": 5, "group_folds_by_scaffold": True})
    validated = pd.read_parquet(tmp_path / "data/validated.parquet")
    scaffolds = murcko_scaffolds(to_mols(validated["smiles"].tolist()))
    rare = [i for i, s in enumerate(scaffolds) if s == ""][:3]
    validated["y"] = validated.index.isin(rare).astype("int64")
    validated.to_parquet(tmp_path / "data/validated.parquet", index=False)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["data"]["task"] = "classification"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage(tmp_path)
    assert done.returncode == 0, done.stderr
    fold_lines = [l for l in done.stdout.splitlines() if l.startswith("split: warning: the fold")]
    assert fold_lines, done.stdout
    assert all("group_folds_by_scaffold: false lets the folds spread" in l for l in fold_lines), fold_lines


# the predict context keeps every validate setting predict re-applies
def test_saved_predict_context_holds_the_validate_and_featurize_settings(tmp_path, monkeypatch):
    import shutil

    import pandas as pd
    import yaml

    monkeypatch.syspath_prepend(str(REPO / "stages"))
    from common import save_model_context

    from molprop.predict.context import load_predict_context

    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "data").mkdir()
    validated = pd.DataFrame({"mol_id": ["a", "b", "c"], "smiles": ["CCO", "c1ccccc1", "CCN"], "y": [1.0, 2.0, 3.0]})
    validated.to_parquet(tmp_path / "data/validated.parquet", index=False)
    validated[["mol_id"]].to_parquet(tmp_path / "data/features.parquet", index=False)  # no settings recorded
    monkeypatch.chdir(tmp_path)
    save_model_context(tmp_path / "model", validated, [0, 2], None)
    (tmp_path / "model" / "model.json").write_text("{}")  # load_predict_context wants a saved model
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    context = load_predict_context(tmp_path / "model")
    assert context.n_train == 2
    assert context.validate == {k: params["validate"][k] for k in ("standardize", "identity_key", "rules")}
    assert context.featurize == {k: params["featurize"][k] for k in ("morgan", "descriptors", "graph")}


# a part listed in the manifest but gone from disk is predicted again on resume
def test_a_part_file_lost_before_resuming_is_predicted_again(models, tmp_path, monkeypatch):
    import pandas as pd

    import molprop.predict.runner as runner
    from molprop.predict import PredictOptions, predict_file

    library = _library(models, tmp_path / "lib.csv")
    options = PredictOptions(chunk_size=5)
    real, calls = runner.process, []

    def stopping(task):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(runner, "process", stopping)
    out = tmp_path / "out.parquet"
    with pytest.raises(KeyboardInterrupt):
        predict_file(models.baseline, library, out, options, n_jobs=1, progress=False)
    (tmp_path / "out.parquet.parts" / "part-000000.parquet").unlink()
    monkeypatch.setattr(runner, "process", real)
    summary = predict_file(models.baseline, library, out, options, n_jobs=1, progress=False)
    assert summary["rows"] == len(pd.read_csv(library)) == len(pd.read_parquet(out))


# a setting to fix (a UserInputError, a ValueError) ends `molprop predict` with one line and exit code 1, no traceback
def test_cli_predict_reports_a_wrong_column_in_one_line(models, tmp_path, capsys):
    from molprop import cli

    library = _library(models, tmp_path / "lib.csv")
    code = cli.main(["predict", "--model", str(models.baseline), "--input", str(library),
                     "--output", str(tmp_path / "out.csv"), "--id-column", "nope", "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("molprop predict: ") and "nope" in err and "Traceback" not in err


# a stage that dies without an "end" message leaves its run KILLED, not FINISHED
def test_a_run_whose_stage_died_is_marked_killed(tmp_path):
    import os
    import subprocess

    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = {"uri": uri, "root": None, "experiment": "e", "run_name": "r", "source": "", "start_ms": 0}
    helper = subprocess.Popen([sys.executable, "-m", "molprop.tracking_helper"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                              env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    helper.stdin.write((json.dumps({"start": start}) + "\n").encode())
    helper.stdin.close()  # the stage died: no "end" message
    assert helper.wait(timeout=120) == 0
    client = mlflow.MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("e").experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"]


# `--base main` in a CI clone that has only origin/main compares with it
from test_report import repo  # noqa: E402,F401  # pyflakes: ignore (the fixture: a DVC project, main + a feature branch)


def test_report_base_by_name_falls_back_to_the_remote_tracking_branch(repo):  # noqa: F811
    import subprocess

    import yaml
    from test_report import _git

    report = yaml.safe_load((REPO / "params.yaml").read_text())["report"] | {"identity_line": []}
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"lr": 0.0003}, "report": report}))
    _git(repo, "update-ref", "refs/remotes/origin/main", "main")
    _git(repo, "branch", "-D", "main")
    run = subprocess.run([sys.executable, str(REPO / "stages/report.py"), "--base", "main"], cwd=repo,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_a_part_deleted_from_a_finished_directory_output_is_predicted_again(models, tmp_path):
    """A finished run's manifest counted rows whose part file was gone: '6 molecules', 4 rows."""
    import pandas as pd

    from molprop.predict import PredictOptions, predict_file

    library, out = _library(models, tmp_path / "lib.csv"), tmp_path / "out"
    options = PredictOptions(chunk_size=5)
    first = predict_file(models.baseline, library, out, options, n_jobs=1, progress=False)
    (out / "part-000002.parquet").unlink()
    again = predict_file(models.baseline, library, out, options, n_jobs=1, progress=False)
    rows = pd.concat(pd.read_parquet(p) for p in sorted(out.glob("part-*.parquet")))
    assert again["rows"] == first["rows"] == len(rows) == len(pd.read_csv(library))


def test_parts_without_their_manifest_are_named_as_such(models, tmp_path):
    from molprop.predict import PredictOptions, predict_file

    library, out = _library(models, tmp_path / "lib.csv"), tmp_path / "out"
    predict_file(models.baseline, library, out, PredictOptions(chunk_size=5), n_jobs=1, progress=False)
    (out / "_manifest.json").unlink()
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="holds part files but no _manifest.json.*delete the folder"):
            predict_file(models.baseline, library, out, PredictOptions(chunk_size=5), n_jobs=1, progress=False,
                         overwrite=overwrite)
