"""stages/split.py on a FreeSolv slice in a temporary directory."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from rdkit import Chem

from molprop.data.builtin import load_builtin

REPO = Path(__file__).resolve().parents[1]
STAGE = REPO / "stages" / "split.py"
N = 160


def write_inputs(workdir: Path, split_params: dict) -> None:
    table = load_builtin(REPO / "data/builtin/freesolv.yaml").head(N)
    validated = pd.DataFrame({
        "mol_id": [str(i) for i in range(N)],
        "row": range(N),
        "smiles_input": table["smiles"],
        "smiles": [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in table["smiles"]],
        "y": table["expt"].astype("float64"),
        "n_replicates": 1,
    })
    (workdir / "data").mkdir(exist_ok=True)
    validated.to_parquet(workdir / "data/validated.parquet", index=False)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["task"] = "regression"
    params["split"] = {**params["split"], **split_params}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def run_stage(workdir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1"}
    return subprocess.run([sys.executable, str(STAGE)], cwd=workdir, env=env,
                          capture_output=True, text=True, check=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_stage_writes_its_outputs_deterministically(tmp_path):
    write_inputs(tmp_path, {})
    done = run_stage(tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "data/split.parquet"
    schema = pq.read_schema(out)
    assert schema.names == ["mol_id", "split", "fold"]
    assert str(schema.field("fold").type) == "int32"
    split = pd.read_parquet(out)
    validated = pd.read_parquet(tmp_path / "data/validated.parquet")
    assert split["mol_id"].tolist() == validated["mol_id"].tolist()  # row-aligned
    assert set(split["split"]) == {"train", "val", "test"} and (split["fold"] == -1).all()
    report = json.loads((tmp_path / "metrics/split.json").read_text())
    assert report["n_molecules"] == N
    assert report["shared_scaffolds"]["train_test"] == 0
    assert sum(report["parts"][p]["n"] for p in ("train", "val", "test")) == N
    assert report["parts"]["test"]["n"] == (split["split"] == "test").sum()
    plot = pd.read_csv(tmp_path / "plots/split_similarity.csv")
    assert plot.columns.tolist() == ["similarity_bin", "count"] and len(plot) == 10
    assert plot["count"].sum() == report["test_similarity_to_train"]["n"]
    first = [digest(tmp_path / p) for p in ("data/split.parquet", "metrics/split.json",
                                             "plots/split_similarity.csv")]
    assert run_stage(tmp_path).returncode == 0
    assert first == [digest(tmp_path / p) for p in ("data/split.parquet", "metrics/split.json",
                                                     "plots/split_similarity.csv")]


def test_stage_says_when_the_seed_changes_nothing(tmp_path):
    write_inputs(tmp_path, {"seed": 1})
    done = run_stage(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "split: warning: split.seed 1 changes nothing" in done.stdout
    assert "split (scaffold, no seed, folds 0)" in done.stdout
    # nor recorded: a seed sweep would show a changed setting for one and the same split
    assert json.loads((tmp_path / "metrics/split.json").read_text())["config"]["seed"] is None


def test_stage_kfold(tmp_path):
    write_inputs(tmp_path, {"method": "random", "n_folds": 3})
    done = run_stage(tmp_path)
    assert done.returncode == 0, done.stderr
    split = pd.read_parquet(tmp_path / "data/split.parquet")
    assert set(split.loc[split["fold"] >= 0, "split"]) == {"train"}
    assert set(split.loc[split["fold"] == -1, "split"]) == {"test"}
    report = json.loads((tmp_path / "metrics/split.json").read_text())
    assert [f["fold"] for f in report["folds"]] == [0, 1, 2]


@pytest.mark.parametrize("bad, message", [
    ({"fractions": {"train": 0.7, "val": 0.1, "test": 0.1}}, "sum to 0.9, not 1"),
    ({"method": "scafold"}, 'split.method is "scafold"; use one of "random", "scaffold", "scaffold_balanced",'),
])
def test_stage_bad_params_fail_clearly(tmp_path, bad, message):
    write_inputs(tmp_path, bad)
    done = run_stage(tmp_path)
    assert done.returncode != 0 and message in done.stderr
    assert not (tmp_path / "data/split.parquet").exists()


def test_a_training_part_of_one_class_is_refused_with_the_setting_to_change(tmp_path):
    from molprop.splits.chem import murcko_scaffolds, to_mols

    write_inputs(tmp_path, {"method": "random", "n_folds": 3, "group_folds_by_scaffold": True})
    validated = pd.read_parquet(tmp_path / "data/validated.parquet")
    scaffolds = pd.Series(murcko_scaffolds(to_mols(validated["smiles"].tolist())))
    common = scaffolds[scaffolds != ""].value_counts().index[0]
    validated["y"] = (scaffolds == common).astype("int64")  # class 1: the molecules of one scaffold
    validated.to_parquet(tmp_path / "data/validated.parquet", index=False)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["data"]["task"] = "classification"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = run_stage(tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "train part(s) hold molecules of one class only" in done.stderr
    assert "set split.group_folds_by_scaffold: false" in done.stderr
    params["split"]["group_folds_by_scaffold"] = False
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert run_stage(tmp_path).returncode == 0
