"""stages/baseline.py on a FreeSolv slice in a temporary directory: every model kind is
switchable in params, the search is recorded, and the saved model repeats byte for byte."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from rdkit import Chem
from rdkit.Chem import Descriptors

from molprop.data.builtin import load_builtin
from molprop.features.config import MorganConfig
from molprop.features.fingerprints import morgan_fingerprints
from molprop.models.predictor import predict_saved
from molprop.splits.chem import murcko_scaffolds
from molprop.splits.strategies import scaffold_split

REPO = Path(__file__).resolve().parents[1]
STAGE = REPO / "stages" / "baseline.py"
N = 120


def write_inputs(workdir: Path, baseline: dict, task: str = "regression", n_folds: int = 0) -> None:
    table = load_builtin(REPO / "data/builtin/freesolv.yaml").head(N)
    mols = [Chem.MolFromSmiles(s) for s in table["smiles"]]
    ids = [f"m{i:03d}" for i in range(N)]
    y = table["expt"].to_numpy(dtype=np.float64)
    validated = pd.DataFrame({"mol_id": ids, "smiles": [Chem.MolToSmiles(m) for m in mols], "y": y})
    if task == "classification":
        validated["y"] = (y < np.median(y)).astype(np.int64)
        validated["label"] = np.where(validated["y"] == 1, "soluble", "insoluble")
    fps, _ = morgan_fingerprints(mols, MorganConfig(radius=2, n_bits=256, counts=True))
    features = pd.DataFrame(fps, columns=[f"fp_{i}" for i in range(256)])
    features.insert(0, "mol_id", ids)
    features["desc_MolLogP"] = np.array([Descriptors.MolLogP(m) for m in mols], dtype=np.float32)
    features["desc_TPSA"] = np.array([Descriptors.TPSA(m) for m in mols], dtype=np.float32)
    parts = scaffold_split(murcko_scaffolds(mols), (0.7, 0.15, 0.15))
    folds = np.full(N, -1, dtype=np.int32)
    if n_folds:
        rest = np.flatnonzero(parts != "test")
        parts[rest], folds[rest] = "train", np.arange(len(rest)) % n_folds
    (workdir / "data").mkdir(exist_ok=True)
    validated.to_parquet(workdir / "data/validated.parquet", index=False)
    features.to_parquet(workdir / "data/features.parquet", index=False)
    pd.DataFrame({"mol_id": ids, "split": parts, "fold": folds}).to_parquet(
        workdir / "data/split.parquet", index=False)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["task"] = task
    params["baseline"]["n_jobs"] = 1  # OpenMP threads of gradient boosting crawl on a busy machine
    for key, value in baseline.items():
        section, _, name = key.rpartition(".")
        target = params["baseline"]
        for part in filter(None, section.split(".")):
            target = target[part]
        target[name] = value
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory) -> str:
    """One MLflow store for the module's stage runs (creating one costs seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


def run_stage(workdir: Path, mlflow_uri: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1",
           "MLFLOW_TRACKING_URI": mlflow_uri}
    done = subprocess.run([sys.executable, str(STAGE)], cwd=workdir, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def digests(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_searched_knn_is_recorded_and_saved_byte_identically(tmp_path, mlflow_uri):
    settings = {"model": "knn_tanimoto", "search.method": "optuna", "search.n_trials": 6,
                "search.cv_folds": 3}
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        write_inputs(tmp_path / run, settings)
        run_stage(tmp_path / run, mlflow_uri)
    model_dir = tmp_path / "a/models/baseline"
    assert digests(model_dir) == digests(tmp_path / "b/models/baseline")
    card = json.loads((model_dir / "model.json").read_text())
    assert card["feature_groups"] == ["morgan"] and card["extra"]["model"] == "knn_tanimoto"
    search = json.loads((model_dir / "member_0/search.json").read_text())
    assert len(search["trials"]) == 6 and search["metric"] == "rmse"
    assert card["extra"]["hyperparameters"]["member_0"]["n_neighbors"] == search["best"]["n_neighbors"]
    assert card["extra"]["cv_score"]["member_0"] == min(t["value"] for t in search["trials"])
    features = pd.read_parquet(tmp_path / "a/data/features.parquet")
    assert predict_saved(model_dir, features).mean.shape == (N,)
    # `molprop info` shows the validation scores (they had been null)
    context = json.loads((model_dir / "predict_context.json").read_text())
    assert set(context["metrics"]) == {"val_rmse", "val_mae", "val_r2", "val_spearman"}


@pytest.mark.parametrize("kind", ["ridge", "hist_gradient_boosting"])
def test_kfold_classification_fits_one_member_per_fold(tmp_path, kind, mlflow_uri):
    settings = {"model": kind, "search.method": "grid", "search.cv_folds": 2,
                "search.space": {kind: {"ridge": {"alpha": [0.1, 10.0]},
                                        "hist_gradient_boosting": {"max_iter": [10, 20]}}[kind]},
                "hist_gradient_boosting.max_iter": 10}
    write_inputs(tmp_path, settings, task="classification", n_folds=3)
    out = run_stage(tmp_path, mlflow_uri).stdout
    card = json.loads((tmp_path / "models/baseline/model.json").read_text())
    assert card["members"] == ["fold_0", "fold_1", "fold_2"] and card["classes"] == ["insoluble", "soluble"]
    for member in card["members"]:
        search = json.loads((tmp_path / f"models/baseline/{member}/search.json").read_text())
        assert search["metric"] == "roc_auc" and len(search["trials"]) == 2
        assert f"baseline {member}" in out and "validation" in out
    proba = predict_saved(tmp_path / "models/baseline", pd.read_parquet(tmp_path / "data/features.parquet"))
    assert proba.members.shape == (3, N, 2)
    metrics = json.loads((tmp_path / "models/baseline/predict_context.json").read_text())["metrics"]
    assert {"fold_0_val_roc_auc", "fold_2_val_accuracy"} <= set(metrics)


def test_unknown_model_is_a_clear_error(tmp_path):
    write_inputs(tmp_path, {"model": "svm"})
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}  # never created
    done = subprocess.run([sys.executable, str(STAGE)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode != 0 and 'baseline.model is "svm"; use one of "random_forest",' in done.stderr
    assert "Traceback" not in done.stderr


def test_a_leaf_size_that_leaves_no_split_is_warned_about(tmp_path, mlflow_uri):
    # boosting's default min_samples_leaf (20) on a training part of fewer than 40 molecules:
    # every prediction was the training mean, without a word
    settings = {"model": "hist_gradient_boosting", "search.method": "none", "hist_gradient_boosting.max_iter": 10,
                "hist_gradient_boosting.min_samples_leaf": N}
    write_inputs(tmp_path, settings)
    out = run_stage(tmp_path, mlflow_uri).stdout
    assert f"warning: hist_gradient_boosting.min_samples_leaf {N} leaves the trees no split" in out
    features = pd.read_parquet(tmp_path / "data/features.parquet")
    assert np.ptp(predict_saved(tmp_path / "models/baseline", features).mean) == 0  # as it says


def test_the_run_records_the_upstream_settings_and_a_search_only_where_one_ran(tmp_path):
    """Runs that differ in the split or the featurizer alone had identical params in MLflow; the
    search settings of a model fitted without a search made evaluate re-run when they changed."""
    import pyarrow.parquet as pq
    from mlflow.tracking import MlflowClient

    write_inputs(tmp_path, {"model": "ridge", "search.method": "none"})
    split = pq.read_table(tmp_path / "data/split.parquet")
    settings = {"method": "scaffold", "train": 0.7, "seed": None}  # as the split stage records them
    pq.write_table(split.replace_schema_metadata({b"molprop.split": json.dumps(settings)}),
                   tmp_path / "data/split.parquet")
    # what featurize recorded, not params.yaml (radius 2 there): edited since, and only baseline
    # re-run (`dvc repro -s baseline`), the model and its run had claimed the edited radius
    made = {"morgan": {"enabled": True, "radius": 3, "n_bits": 256, "counts": True},
            "descriptors": {"enabled": True, "set": "fast", "max_nonfinite_fraction": 0.2}, "graph": False}
    features = pq.read_table(tmp_path / "data/features.parquet")
    pq.write_table(features.replace_schema_metadata({b"molprop.featurize": json.dumps(made)}),
                   tmp_path / "data/features.parquet")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run_stage(tmp_path, uri)
    client = MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name("molprop").experiment_id])
    params = run.data.params
    assert params["split.method"] == "scaffold" and params["split.train"] == "0.7" and params["split.seed"] == "None"
    assert params["featurize.morgan.radius"] == "3" and params["validate.identity_key"] == "smiles"
    context = json.loads((tmp_path / "models/baseline/predict_context.json").read_text())
    assert context["featurize"] == made  # what `molprop predict` featurizes new molecules with
    assert params["baseline.model"] == "ridge" and params["data.task"] == "regression"
    card = json.loads((tmp_path / "models/baseline/model.json").read_text())
    assert card["extra"]["search"] == {"method": "none"}


@pytest.mark.parametrize(("settings", "message"), [
    ({"model": "ridge", "search.method": "grid"}, "grid needs a list of values"),
    ({"model": "ridge", "features": ["morgan", "descriptors"]},
     "feature group(s) ['descriptors'] are listed in baseline.features but data/features.parquet has no columns"),
    ({"model": "knn_tanimoto", "features": ["descriptors"]}, "baseline.model knn_tanimoto compares Morgan"),
    ({"model": "ridge", "search.method": "optuna", "search.cv_groups": "random", "search.cv_folds": 1000},
     "cannot make 1000 CV folds from 84 training molecules; lower baseline.search.cv_folds"),
])
def test_settings_that_cannot_be_fitted_stop_before_an_mlflow_run_is_opened(tmp_path, settings, message):
    """They had left a FAILED run with all its params in MLflow, like a real attempt."""
    write_inputs(tmp_path, settings)
    if settings.get("features") == ["morgan", "descriptors"]:  # as featurize writes it with descriptors off
        features = pd.read_parquet(tmp_path / "data/features.parquet")
        features.drop(columns=["desc_MolLogP", "desc_TPSA"]).to_parquet(tmp_path / "data/features.parquet")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}  # never created
    done = subprocess.run([sys.executable, str(STAGE)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_features_made_before_settings_were_recorded_must_agree_with_params(tmp_path):
    """Third round: with data of an older commit (no recorded settings) the model was saved with
    params.yaml's featurize settings, radius 3, though the fingerprints had radius 2: predict
    then featurized new molecules otherwise, without a word."""
    import pyarrow.parquet as pq

    write_inputs(tmp_path, {"model": "ridge", "search.method": "none"})
    features = pq.read_table(tmp_path / "data/features.parquet")
    older = {"fingerprint": {"type": "morgan", "radius": 3, "n_bits": 256, "counts": True}, "descriptor_set": "full",
             "descriptors_dropped": []}  # as featurize wrote it then (params.yaml: radius 2, 2048 bits)
    pq.write_table(features.replace_schema_metadata({b"molprop.features": json.dumps(older)}),
                   tmp_path / "data/features.parquet")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    done = subprocess.run([sys.executable, str(STAGE)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert ("data/features.parquet was made with other featurize settings than params.yaml's (fingerprint: "
            "{'type': 'morgan', 'radius': 3, 'n_bits': 256, 'counts': True} there") in done.stderr
    assert not (tmp_path / "mlflow.db").exists()
