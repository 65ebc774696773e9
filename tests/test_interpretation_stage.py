"""The interpret stage script on a small project built from real FreeSolv molecules:
outputs, an offline page, byte-identical reruns, regression and classification."""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from rdkit import Chem
from rdkit.Chem import Descriptors

from molprop.data.builtin import load_builtin
from molprop.evaluation.predictions import prediction_table
from molprop.features.config import DescriptorConfig, FeaturizeConfig, MorganConfig, settings_of
from molprop.features.fingerprints import morgan_fingerprints
from molprop.features.graph import graph_chunk
from molprop.features.graph_store import graph_table
from molprop.interpretation.page import render_page
from molprop.models.baseline import BaselineConfig, fit_on_rows
from molprop.models.estimators import fit_estimator, make_estimator
from molprop.models.matrix import Preprocessor
from molprop.models.predictor import predict_saved
from molprop.models.store import ModelCard, save_card, save_sklearn_member
from molprop.nn.store import build_network, network_config, save_member
from molprop.schema import FEATURIZE_SETTINGS_KEY

REPO = Path(__file__).resolve().parents[1]
N_BITS = 512
INTERPRET = {"max_explained": 1000, "n_top_features": 8, "n_top_bits": 3, "n_bit_examples": 2, "n_worst": 5,
             "n_maps_worst": 3, "n_maps_typical": 2, "ig_steps": 16, "seed": 0}

def _forest(x, y, task, n_estimators, seed=0):
    """A small random forest fitted with the baseline's own estimator factory."""
    return fit_estimator(make_estimator("random_forest", task, {"n_estimators": n_estimators}, seed, 1), x, y, 1)



def _project(root: Path, task: str, baseline: str = "random_forest", morgan: bool = True) -> None:
    """validated/features/graphs/split/predictions tables and both saved models, as the
    pipeline's stages would leave them (small models, few molecules; ``baseline``: its kind;
    ``morgan``: False for features without fingerprints, recorded as featurize records them)."""
    shutil.copytree(REPO / "stages", root / "stages")
    freesolv = load_builtin(REPO / "data/builtin/freesolv.yaml").head(48)
    mols = [Chem.MolFromSmiles(s) for s in freesolv["smiles"]]
    smiles = [Chem.MolToSmiles(m) for m in mols]
    y = freesolv["expt"].to_numpy(dtype=float)
    validated = pd.DataFrame({"mol_id": smiles, "row": np.arange(len(mols)), "smiles": smiles, "y": y})
    classes = []
    if task == "classification":
        validated["y"] = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
        classes = ["low", "mid", "high"]
        validated["label"] = [classes[k] for k in validated["y"]]
    fp, _ = morgan_fingerprints(mols, MorganConfig(2, N_BITS, counts=True))
    features = pd.DataFrame(fp, columns=[f"fp_{i}" for i in range(N_BITS)])
    for name in ("TPSA", "MolLogP", "MolWt"):
        features[f"desc_{name}"] = np.array([getattr(Descriptors, name)(m) for m in mols], dtype=np.float32)
    features.insert(0, "mol_id", smiles)
    if not morgan:
        features = features.drop(columns=[c for c in features.columns if c.startswith("fp_")])
    split = pd.DataFrame({"mol_id": smiles, "split": ["train"] * 34 + ["val"] * 4 + ["test"] * 10, "fold": -1})
    (root / "data").mkdir()
    validated.to_parquet(root / "data/validated.parquet")
    features.to_parquet(root / "data/features.parquet")
    if not morgan:  # featurize's record: no radius or bit count for fingerprints it did not make
        table = pq.read_table(root / "data/features.parquet")
        settings = settings_of(FeaturizeConfig(morgan=None, descriptors=DescriptorConfig(), graph=True))
        pq.write_table(table.replace_schema_metadata({**table.schema.metadata, FEATURIZE_SETTINGS_KEY:
                                                      json.dumps(settings)}), root / "data/features.parquet")
    split.to_parquet(root / "data/split.parquet")
    pq.write_table(graph_table(smiles, graph_chunk(mols)), root / "data/graphs.parquet")

    train = np.flatnonzero(split["split"] == "train")
    target = validated["y"].to_numpy()
    x_columns = [c for c in features.columns if c != "mol_id"]
    groups = ["morgan", "descriptors"] if morgan else ["descriptors"]
    if baseline == "random_forest":
        prep = Preprocessor.fit(features.iloc[train], x_columns, scale=False)
        estimator = _forest(prep.transform(features.iloc[train]), target[train], task, 20)
    else:
        hyper = {"ridge": {"alpha": 1.0}, "knn_tanimoto": {"n_neighbors": 3},
                 "hist_gradient_boosting": {"max_iter": 20, "min_samples_leaf": 5}}[baseline]
        config = BaselineConfig(baseline, hyper, groups, n_jobs=1)
        estimator, prep = fit_on_rows(features.iloc[train], target[train], task, config, hyper)
    save_sklearn_member(root / "models/baseline/member_0", estimator, prep)
    save_card(root / "models/baseline", ModelCard("sklearn", task, groups, ["member_0"], classes))
    torch.manual_seed(0)
    desc = [c for c in x_columns if c.startswith("desc_")]
    net_prep = Preprocessor.fit(features.iloc[train], desc, scale="quantile")
    config = network_config("dmpnn", len(desc), 3 if classes else 1,
                            {"hidden_size": 16, "depth": 2, "dropout": 0.0, "ffn_hidden_size": 8, "n_layers": 2,
                             "readout": "mean", "batch_norm": False})
    save_member(root / "models/model/member_0", "dmpnn", config, build_network("dmpnn", config).state_dict(),
                net_prep, None if classes else (float(y.mean()), float(y.std())))
    save_card(root / "models/model", ModelCard("torch", task, ["descriptors"], ["member_0"], classes))

    from molprop.features.graph_store import load_graphs

    test = np.flatnonzero(split["split"] == "test")
    graphs = load_graphs(root / "data/graphs.parquet")
    predictions = {name: predict_saved(root / "models" / name, features.iloc[test], "cpu", [graphs[i] for i in test])
                   for name in ("baseline", "model")}
    prediction_table(validated.iloc[test], predictions, task).to_parquet(root / "data/predictions.parquet")
    project = yaml.safe_load((REPO / "params.yaml").read_text())  # every key the stages require
    featurize = project["featurize"] | {"morgan": project["featurize"]["morgan"] | {"radius": 2, "n_bits": N_BITS}}
    params = {"data": project["data"] | {"task": task}, "featurize": featurize, "interpret": INTERPRET}
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def _run_stage(root: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "stages/interpret.py"], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    out = root / "reports/interpret"
    return {str(p.relative_to(out)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_interpret_stage_writes_a_complete_offline_report(tmp_path, task):
    _project(tmp_path, task)
    files = _run_stage(tmp_path)
    expected_maps = {f"maps/{m}_{k}_{i}.png" for m in ("baseline", "model")
                     for k, n in (("worst", 3), ("typical", 2)) for i in range(1, n + 1)}
    assert expected_maps <= set(files)
    assert {"index.html", "feature_importance.csv", "feature_importance.png", "worst_baseline.csv",
            "worst_model.csv", "maps_baseline.png", "maps_model.png"} <= set(files)
    out = tmp_path / "reports/interpret"
    html = (out / "index.html").read_text()
    render_page("check", "", [("page", html)])  # raises if anything would load from outside
    assert html.count('<div class="card">') == 10 and "<h3>Most important fingerprint positions</h3>" in html
    worst = pd.read_csv(out / "worst_model.csv")
    assert len(worst) == 5 and worst["error"].is_monotonic_decreasing
    assert {"scaffold", "neighbour_id", "neighbour_similarity", "neighbour_measured", "row"} <= set(worst.columns)
    assert set(worst["neighbour_id"]).isdisjoint(pd.read_parquet(tmp_path / "data/predictions.parquet")["mol_id"])
    if task == "regression":
        assert _run_stage(tmp_path) == files  # DVC hashes these outputs: reruns must repeat them
    else:  # classes by their labels, as the page shows them (not class indices)
        labels = set(pd.read_parquet(tmp_path / "data/validated.parquet")["label"])
        assert set(worst["measured"]) | set(worst["predicted"]) | set(worst["neighbour_measured"]) <= labels


def test_interpret_runs_on_features_without_fingerprints(tmp_path):
    # featurize.morgan.enabled: false records no radius or bit count: interpret stopped with
    # KeyError 'radius' after every other stage had run
    _project(tmp_path, "regression", "ridge", morgan=False)
    files = _run_stage(tmp_path)
    assert {"index.html", "feature_importance.csv", "maps_baseline.png", "maps_model.png"} <= set(files)
    html = (tmp_path / "reports/interpret/index.html").read_text()
    assert "<h3>Most important fingerprint positions</h3>" not in html and "fingerprint position" not in html
    importance = pd.read_csv(tmp_path / "reports/interpret/feature_importance.csv")
    assert importance["feature"].str.startswith("desc_").all()


@pytest.mark.parametrize("baseline,task,method", [("ridge", "regression", "linear SHAP"),
                                                  ("knn_tanimoto", "classification", "permutation importance")])
def test_interpret_stage_explains_other_baseline_kinds(tmp_path, monkeypatch, baseline, task, method):
    _project(tmp_path, task, baseline)
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["interpret"]["permutation"] = {"n_repeats": 2, "max_features": 40, "max_molecules": 10,
                                          "n_background": 4, "n_permutations": 1}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "stages"))
    runpy.run_path("stages/interpret.py")["main"]()  # the stage's main, in this process
    out = tmp_path / "reports/interpret"
    importance = pd.read_csv(out / "feature_importance.csv")
    assert set(importance["method"]) == {method}
    html = (out / "index.html").read_text()
    assert f"Baseline: which features matter ({method})" in html and f"Method: {method}" in html
    assert "<h3>Most important fingerprint positions</h3>" in html
    assert {"maps_baseline.png", "maps/baseline_worst_1.png"} <= {str(p.relative_to(out)) for p in out.rglob("*")}
    if baseline == "ridge":  # every feature ranked by exact SHAP; the maps add up to the prediction
        assert importance["importance"].notna().all() and "Exact linear SHAP values of the ridge regression" in html
        assert importance.loc[importance["feature"] == "desc_MolLogP", "importance"].iloc[0] > 0
    else:  # only fingerprint columns (what k-NN compares), at most max_features of them shuffled
        assert importance["feature"].str.startswith("fp_").all()
        assert importance["importance"].gt(0).sum() <= 40 and "estimated by permutation sampling" in html
        assert "log-odds" not in html and "probability of the predicted class" in html


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_the_forest_s_starting_value_is_described_as_it_is(tmp_path, task):
    """TreeSHAP starts a classifier from the class-weighted mean (balanced class weights), not
    from the classes' shares among the training molecules; the maps' note says which."""
    from molprop.interpretation.explain import method_note

    _project(tmp_path, task)
    note = method_note(tmp_path / "models/baseline", 32)
    assert "mean output over its training molecules" in note
    assert ("each class weighted equally" in note) == (task == "classification")


def test_only_a_balanced_forest_starts_from_the_class_weighted_mean():
    """Unweighted, or gradient boosting (whose trees keep plain counts whatever the weights),
    TreeSHAP starts from the plain mean: the note said "each class weighted equally" for both."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    from molprop.interpretation.baseline_model import SklearnModel
    from molprop.interpretation.explain import _baseline_how
    from molprop.interpretation.permutation import PermutationConfig
    from molprop.models.matrix import Preprocessor
    from molprop.models.store import ModelCard

    x, y = np.arange(40.0).reshape(20, 2), np.array([0] * 15 + [1] * 5)
    card = ModelCard("sklearn", "classification", ["descriptors"], ["member_0"], ["a", "b"])
    for estimator, weighted in [(RandomForestClassifier(5, class_weight="balanced", random_state=0), True),
                                (RandomForestClassifier(5, random_state=0), False),
                                (HistGradientBoostingClassifier(max_iter=5, class_weight="balanced"), False)]:
        model = SklearnModel(card, [(estimator.fit(x, y), Preprocessor(["desc_a", "desc_b"], [0.0, 0.0]))])
        _, base = _baseline_how(model, PermutationConfig())
        assert ("each class weighted equally" in base) == weighted


@pytest.mark.parametrize("kind", ["dmpnn", "mlp"])
def test_the_network_s_note_says_whether_it_reads_the_graph(tmp_path, kind):
    # an MLP reads no graph: its note spoke of a featureless graph of the same shape
    import json

    from molprop.interpretation.explain import method_note
    from molprop.models.store import ModelCard, save_card

    save_card(tmp_path, ModelCard("torch", "regression", ["morgan"], ["member_0"]))
    (tmp_path / "member_0").mkdir()
    (tmp_path / "member_0" / "network.json").write_text(json.dumps({"kind": kind, "config": {}}))
    note = method_note(tmp_path, 32)
    assert ("featureless graph" in note and "reads the molecular graph" in note) == (kind == "dmpnn")
    assert "training medians" in note


@pytest.mark.parametrize("groups", [["descriptors"], ["morgan"], ["morgan", "descriptors"]])
def test_the_maps_note_names_only_the_inputs_the_model_reads(tmp_path, groups):
    # a network on descriptors alone was said to colour fingerprint positions, and a
    # fingerprint-only model descriptors that are sums over atoms
    import json

    from molprop.interpretation.explain import method_note
    from molprop.models.store import ModelCard, save_card

    save_card(tmp_path, ModelCard("torch", "regression", groups, ["member_0"]))
    (tmp_path / "member_0").mkdir()
    (tmp_path / "member_0" / "network.json").write_text(json.dumps({"kind": "dmpnn", "config": {}}))
    note = method_note(tmp_path, 32)
    assert ("fingerprint position" in note) == ("morgan" in groups)
    assert ("sums over atoms" in note and "remaining descriptors" in note) == ("descriptors" in groups)
    assert "reads the molecular graph" in note


def test_no_maps_asked_for_leaves_no_blank_pictures(tmp_path):
    """n_maps_worst and n_maps_typical 0 drew two pictures holding only a title, under empty
    headings; the page now says why there are none."""
    _project(tmp_path, "regression")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["interpret"] |= {"n_maps_worst": 0, "n_maps_typical": 0}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    files = _run_stage(tmp_path)
    assert not any(name.startswith("maps") for name in files) and "worst_model.csv" in files
    html = (tmp_path / "reports/interpret/index.html").read_text()
    assert "No maps drawn: interpret.n_maps_worst and interpret.n_maps_typical are 0." in html
    assert "Worst-predicted test molecules" not in html
