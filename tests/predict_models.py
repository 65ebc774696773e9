"""Small real models for the predict tests, built with the library the stages use.

FreeSolv rows are curated with the validate params of params.yaml, featurized with
NON-default featurize params (Morgan radius 3, 1024 bits, bits not counts, fast descriptors),
and three models are saved with their predict context: a two-member random forest with an
uncertainty scale, an (untrained, seeded) D-MPNN on graphs + descriptors, and a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from molprop.data.builtin import load_builtin
from molprop.features.config import config_from_params as featurize_config
from molprop.features.graph_store import load_graphs
from molprop.features.runner import featurize_table
from molprop.models.estimators import fit_estimator, make_estimator
from molprop.models.matrix import Preprocessor, select_feature_columns
from molprop.models.store import ModelCard, save_card, save_sklearn_member
from molprop.predict.context import file_md5, save_predict_context
from molprop.validation.config import config_from_params
from molprop.validation.curate import curate

REPO = Path(__file__).resolve().parents[1]
VALIDATE = yaml.safe_load((REPO / "params.yaml").read_text())["validate"]
FEATURIZE = {"morgan": {"enabled": True, "radius": 3, "n_bits": 1024, "counts": False},
             "descriptors": {"enabled": True, "set": "fast", "max_nonfinite_fraction": 0.2},
             "graph": True, "n_jobs": 1, "chunk_size": 100, "row_group_size": 1000}  # fmt: skip
BAD_SMILES = ["C1CC", "", "CC(C)(C)(C)(C)C", "[Na+].[Cl-]", "CCO>>CC=O", "c1ccccc1 benzene", "C[Fe]"]

def _forest(x, y, task, n_estimators, seed=0):
    """A small random forest fitted with the baseline's own estimator factory."""
    return fit_estimator(make_estimator("random_forest", task, {"n_estimators": n_estimators}, seed, 1), x, y, 1)



@dataclass
class Models:
    root: Path
    raw: pd.DataFrame  # the FreeSolv rows used (smiles, expt, name)
    validated: pd.DataFrame
    features: pd.DataFrame
    graphs: list
    baseline: Path
    network: Path
    classifier: Path


def build_models(root: Path, n: int = 160) -> Models:
    raw = load_builtin(REPO / "data/builtin/freesolv.yaml").iloc[:n].reset_index(drop=True)
    raw = raw.assign(name=[f"fs{i:03d}" for i in range(len(raw))])
    config, _ = config_from_params(VALIDATE, "regression", "expt")
    validated = curate(raw, "smiles", "expt", config).validated
    validated.to_parquet(root / "validated.parquet")
    featurize_table(validated.mol_id.tolist(), validated.smiles.tolist(),
                    featurize_config(FEATURIZE), root / "f.parquet", root / "g.parquet",
                    progress=False)  # fmt: skip
    features = pd.read_parquet(root / "f.parquet")
    graphs = load_graphs(root / "g.parquet")
    train = np.arange(int(0.8 * len(validated)))
    train_smiles = validated.smiles.iloc[train].tolist()
    y = validated.y.to_numpy()
    context = dict(validate_cfg=VALIDATE, featurize_cfg=FEATURIZE, train_smiles=train_smiles,
                   data_hash=file_md5(root / "validated.parquet"), metrics={"val_rmse": 1.23})

    baseline = root / "baseline"
    columns = select_feature_columns(list(features.columns), ["morgan", "descriptors"])
    prep = Preprocessor.fit(features.iloc[train], columns, scale=False)
    for seed in (0, 1):
        forest = _forest(prep.transform(features.iloc[train]), y[train], "regression", 10, seed)
        save_sklearn_member(baseline / f"member_{seed}", forest, prep)
    save_card(baseline, ModelCard("sklearn", "regression", ["morgan", "descriptors"],
                                  ["member_0", "member_1"], extra={"uncertainty_scale": 1.5, "model": "random_forest"}))
    save_predict_context(baseline, **context)

    classifier = root / "classifier"
    labels = (y > np.median(y)).astype(int)  # 0 = "low", 1 = "high"
    forest = _forest(prep.transform(features.iloc[train]), labels[train], "classification", 10)
    save_sklearn_member(classifier / "member_0", forest, prep)
    save_card(classifier, ModelCard("sklearn", "classification", ["morgan", "descriptors"],
                                    ["member_0"], ["low", "high"]))
    save_predict_context(classifier, **context)

    import torch

    from molprop.nn.store import build_network, network_config, save_member

    network = root / "network"
    desc = select_feature_columns(list(features.columns), ["descriptors"])
    prep_desc = Preprocessor.fit(features.iloc[train], desc, scale="quantile")  # the train default
    torch.manual_seed(0)
    net_config = network_config("dmpnn", len(desc), 1, {"hidden_size": 32, "depth": 2, "dropout": 0.0,
                                                         "ffn_hidden_size": 16, "n_layers": 2,
                                                         "readout": "mean", "batch_norm": False})
    net = build_network("dmpnn", net_config)
    save_member(network / "member_0", "dmpnn", net_config, net.state_dict(), prep_desc,
                (float(y[train].mean()), float(y[train].std())))
    save_card(network, ModelCard("torch", "regression", ["descriptors"], ["member_0"]))
    save_predict_context(network, **context)
    return Models(root, raw, validated, features, graphs, baseline, network, classifier)


def library_csv(models: Models, path: Path) -> Path:
    """The raw FreeSolv rows (as the user had them, unstandardized) plus bad SMILES, as CSV."""
    bad = pd.DataFrame({"smiles": BAD_SMILES, "name": [f"bad{i}" for i in range(len(BAD_SMILES))]})
    pd.concat([models.raw[["smiles", "name"]], bad], ignore_index=True).to_csv(path, index=False)
    return path
