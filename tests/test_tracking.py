import subprocess
import sys

import mlflow
import pytest

from molprop.errors import UserInputError
from molprop import tracking


def test_run_logs_flattened_params_and_finite_metrics(tmp_path):
    with tracking.mlflow_run("unit", "run", {"train": {"lr": 0.1, "layers": 2}, "seed": 0}) as run:
        tracking.log_metrics({"rmse": 1.5, "bad": float("nan"), "name": "x"})
        (tmp_path / "model").mkdir()
        (tmp_path / "model" / "model.json").write_text("{}")
        tracking.log_model_dir(tmp_path / "model")
    stored = mlflow.get_run(run.run_id)
    assert stored.data.params == {"train.lr": "0.1", "train.layers": "2", "seed": "0"}
    assert stored.data.metrics == {"rmse": 1.5}
    assert [a.path for a in mlflow.MlflowClient().list_artifacts(run.run_id, "model")] == ["model/model.json"]


def test_history_steps_status_and_the_stage_never_importing_mlflow(tmp_path):
    script = (
        "import sys\n"
        "from molprop import tracking\n"
        "with tracking.mlflow_run('unit', 'stage', {'a': 1}) as run:\n"
        "    tracking.log_history([{'epoch': 0, 'loss': 2.0}, {'epoch': 1, 'loss': 1.0}], 'm/')\n"
        "print(run.run_id, 'mlflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    run_id, imported = done.stdout.split()
    assert imported == "False"
    client = mlflow.MlflowClient()
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "m/loss")] == [(0, 2.0), (1, 1.0)]
    stored = client.get_run(run_id)
    assert stored.info.status == "FINISHED" and stored.info.run_name == "stage"
    assert stored.data.params == {"a": "1"}


def test_a_run_of_a_dvc_experiment_is_tagged_with_it(monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "gyral-poof")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "1335097" + "0" * 33)
    with tracking.mlflow_run("unit", "exp", {"a": 1}) as run:
        pass
    tags = mlflow.get_run(run.run_id).data.tags
    assert tags["dvc.experiment"] == "gyral-poof" and tags["dvc.baseline_rev"].startswith("1335097")
    monkeypatch.delenv("DVC_EXP_NAME")
    monkeypatch.delenv("DVC_EXP_BASELINE_REV")
    assert tracking.dvc_experiment_tags() == {}


def test_an_error_in_the_block_ends_the_run_failed_and_propagates():
    with pytest.raises(ZeroDivisionError):
        with tracking.mlflow_run("unit", "broken", {}):
            tracking.log_metrics({"seen": 1.0})
            1 / 0
    runs = mlflow.search_runs(experiment_names=["unit"], output_format="list")
    assert [(r.info.run_name, r.info.status, r.data.metrics) for r in runs] == [("broken", "FAILED", {"seen": 1.0})]


def test_ctrl_c_ends_the_run_killed_and_does_not_reach_the_helper():
    """The terminal's Ctrl-C goes to its foreground process group; the helper has left it."""
    import os

    with pytest.raises(KeyboardInterrupt):
        with tracking.mlflow_run("unit", "interrupted", {}):
            tracking.log_metrics({"seen": 1.0})
            assert os.getpgid(tracking._ACTIVE.process.pid) != os.getpgid(0)
            raise KeyboardInterrupt
    runs = mlflow.search_runs(experiment_names=["unit"], output_format="list")
    assert [(r.info.run_name, r.info.status, r.data.metrics) for r in runs] == [("interrupted", "KILLED",
                                                                                 {"seen": 1.0})]


@pytest.mark.parametrize("store", ["default", "relative", "absolute"])
def test_a_queued_experiment_s_store_and_artifacts_are_in_the_repository_root(tmp_path, monkeypatch, store):
    """A queued experiment's stages run in a temporary copy (the current directory here); DVC
    names the repository in DVC_ROOT, where the default store and its artifacts must go.
    Bug fixed: with MLFLOW_TRACKING_URI=sqlite:///alt.db the store was created in the copy
    (deleted with it: the run was lost), and with an absolute sqlite URI the experiment's
    artifact location was the copy's mlruns/, for every later run too."""
    root, copy = tmp_path / "repo", tmp_path / "repo_copy"
    root.mkdir()
    (copy / "model").mkdir(parents=True)
    (copy / "model" / "model.json").write_text("{}")
    db = root / ("mlflow.db" if store == "default" else "alt.db")
    if store == "default":
        monkeypatch.delenv("MLFLOW_TRACKING_URI")
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///alt.db" if store == "relative" else f"sqlite:///{db}")
    monkeypatch.setenv("DVC_ROOT", str(root))
    monkeypatch.chdir(copy)
    with tracking.mlflow_run("unit", "queued", {"a": 1}) as run:
        tracking.log_model_dir("model")
    client = mlflow.MlflowClient(f"sqlite:///{db}")
    assert client.get_run(run.run_id).info.status == "FINISHED"
    location = client.get_experiment_by_name("unit").artifact_location
    assert location.startswith((str(root / "mlruns"), (root / "mlruns").as_uri())), location
    assert "model.json" in {p.name for p in (root / "mlruns").rglob("*")}
    assert sorted(p.name for p in copy.iterdir()) == ["model"]


def test_a_store_that_cannot_be_opened_fails_the_run(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")  # the store's directory would have to be inside a file
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/a_file/mlflow.db")
    with pytest.raises(UserInputError, match="MLflow tracking failed"):  # one line in a stage
        with tracking.mlflow_run("unit", "run", {}):
            tracking.log_metrics({"x": 1.0})
    with pytest.raises(RuntimeError, match="no MLflow run is open"):
        tracking.log_metrics({"x": 1.0})


def test_a_killed_stage_leaves_its_helper_without_a_traceback(tmp_path):
    """The stage dies (stdin ends, no one reads stdout): the helper marks the run KILLED and
    ends quietly (it printed a BrokenPipeError traceback)."""
    import json
    import os
    import subprocess
    import sys

    start = {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "root": None, "experiment": "e", "run_name": "r",
             "source": "", "start_ms": 0}
    helper = subprocess.Popen([sys.executable, "-m", "molprop.tracking_helper"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                              env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    helper.stdout.close()  # the stage's end of the pipe is gone
    helper.stdin.write((json.dumps({"start": start}) + "\n").encode())
    helper.stdin.close()
    assert helper.wait(timeout=120) == 0
    assert b"Traceback" not in helper.stderr.read()


def test_dvclive_in_a_repository_without_a_commit_is_a_setting_to_fix(tmp_path, monkeypatch):
    import os

    from molprop.errors import UserInputError

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp_path, check=True,
                   env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserInputError, match="no commit yet"):
        tracking.open_dvclive("dvclive")
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start"], cwd=tmp_path,
                   check=True)
    with tracking.open_dvclive("dvclive") as live:
        live.log_metric("x", 1.0)


def test_a_new_default_store_is_created_under_a_lock(tmp_path):
    """Queued experiments run at once (`dvc queue start -j 2`) both created and migrated a new
    mlflow.db, and one failed: the helper creates the default store holding a lock."""
    import json
    import os
    import time

    from molprop.tracking_helper import LOCK_FILE

    fcntl = pytest.importorskip("fcntl")  # not on Windows, where the store is not locked

    start = {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "root": str(tmp_path), "experiment": "e",
             "run_name": "r", "source": "", "start_ms": 0}
    (tmp_path / LOCK_FILE).parent.mkdir()
    with open(tmp_path / LOCK_FILE, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another stage is creating the store
        helper = subprocess.Popen([sys.executable, "-m", "molprop.tracking_helper"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                                  env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
        helper.stdin.write(json.dumps({"start": start}) + "\n")
        helper.stdin.flush()
        time.sleep(8)  # time enough to import MLflow and open the store, were it not waiting
        assert helper.poll() is None and not (tmp_path / "mlflow.db").exists()
    helper.stdin.write(json.dumps({"end": {"status": "FINISHED", "end_ms": 1}}) + "\n")
    out, err = helper.communicate(timeout=120)
    assert helper.returncode == 0, err
    assert mlflow.MlflowClient(start["uri"]).get_run(out.strip()).info.status == "FINISHED"
