"""Building, saving and loading trained networks (state dict + JSON, no pickled objects).

A member directory holds ``weights.pt`` (loaded with ``weights_only=True``),
``network.json`` (architecture kind and config, target scaling) and ``preprocess.json``
(imputation and scaling of the per-molecule features).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from molprop.errors import UserInputError
from molprop.features.graph import ATOM_FDIM, BOND_FDIM, MolGraph
from molprop.models.matrix import Preprocessor
from molprop.models.store import read_model_json
from molprop.nn.mlp import MLP, MLPConfig
from molprop.nn.mpnn import MPNN, GraphInputs, MPNNConfig
from molprop.nn.training import Inputs, predict
from molprop.nn.training_types import ARCHITECTURES, NEEDS_GRAPHS
from molprop.serialization import write_json


def network_config(kind: str, n_features: int, n_outputs: int, params: dict[str, Any]) -> MLPConfig | MPNNConfig:
    """The architecture config of ``kind`` from the train params (unused keys ignored)."""
    if kind == "mlp":
        return MLPConfig(n_features, n_outputs, params["hidden_size"], params["n_layers"],
                         params["dropout"])
    if kind == "dmpnn":
        return MPNNConfig(n_outputs, hidden_size=params["hidden_size"], depth=params["depth"],
                          dropout=params["dropout"], n_extra=n_features,
                          ffn_hidden_size=params["ffn_hidden_size"], ffn_layers=params["n_layers"],
                          readout=params["readout"], batch_norm=params["batch_norm"])
    raise UserInputError(f"train.model is {kind!r}; use one of {ARCHITECTURES}")


def build_network(kind: str, config: MLPConfig | MPNNConfig) -> nn.Module:
    """An untrained network of ``kind``."""
    return MLP(config) if kind == "mlp" else MPNN(config)


def network_inputs(kind: str, x: np.ndarray, graphs: Sequence[MolGraph] | None) -> Inputs | np.ndarray:
    """What the network of ``kind`` is fed: the feature rows, or the graphs with the feature
    rows as extra per-molecule features (none when there are no feature columns)."""
    if not NEEDS_GRAPHS[kind]:
        return x
    if graphs is None:
        raise UserInputError("a dmpnn network needs the molecular graphs (featurize.graph: true)")
    return GraphInputs(graphs, x if x.shape[1] else None)


def save_member(directory: Path, kind: str, config: MLPConfig | MPNNConfig, state_dict: dict,
                prep: Preprocessor, target_scale: tuple[float, float] | None) -> None:
    """Write weights.pt, network.json (kind, architecture, target scaling) and preprocess.json."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, directory / "weights.pt")
    write_json(directory / "network.json",
               {"kind": kind, "config": asdict(config), "target_scale": target_scale})
    write_json(directory / "preprocess.json", prep.to_dict())


@dataclass
class LoadedNetwork:
    """One saved member in memory: the network, its feature preprocessing and target scaling."""

    kind: str
    model: nn.Module
    prep: Preprocessor
    target_scale: tuple[float, float] | None


_FIELD_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def _typed_config(cls: type, values: dict[str, Any]) -> Any:
    """``cls(**values)``; TypeError for a value not of its field's type (a hand-edited
    network.json: depth "3" failed only inside the forward pass)."""
    config = cls(**values)
    for field in fields(cls):
        value = getattr(config, field.name)
        allowed = _FIELD_TYPES.get(str(field.type), (object,))
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise TypeError(f"network.json: {field.name} is {value!r}, not of type {field.type}")
    return config


def load_network(directory: Path) -> LoadedNetwork:
    """Load the member saved by :func:`save_member` in ``directory`` (weights on the CPU)."""
    network = read_model_json(directory / "network.json")
    kind = network["kind"]
    prep = Preprocessor.from_dict(read_model_json(directory / "preprocess.json"))
    config = _typed_config(MLPConfig if kind == "mlp" else MPNNConfig, network["config"])
    if kind == "dmpnn" and (config.atom_fdim, config.bond_fdim) != (ATOM_FDIM, BOND_FDIM):
        raise UserInputError(
            f"{directory}: this network was trained on graphs with {config.atom_fdim} atom / "
            f"{config.bond_fdim} bond features, this molprop makes {ATOM_FDIM} / {BOND_FDIM}: "
            "it was trained by another molprop version; retrain it (dvc repro train)"
        )
    reads = config.n_inputs if kind == "mlp" else config.n_extra
    if reads != len(prep.columns):
        raise ValueError(f"network.json reads {reads} features, preprocess.json makes {len(prep.columns)}")
    model = build_network(kind, config)
    model.load_state_dict(torch.load(directory / "weights.pt", map_location="cpu", weights_only=True))
    scale = network["target_scale"]
    return LoadedNetwork(kind, model, prep, None if scale is None else (float(scale[0]), float(scale[1])))


def predict_network(member: LoadedNetwork, features: pd.DataFrame, graphs: Sequence[MolGraph] | None,
                    task: str, device: torch.device) -> np.ndarray:
    """Predictions of a loaded member in target units (n,) or class probabilities (n, K)."""
    x = network_inputs(member.kind, member.prep.transform(features), graphs)
    out = predict(member.model, x, task, device)
    if member.target_scale is not None:
        mean, std = member.target_scale
        out = out * std + mean
    return out


def predict_member(directory: Path, features: pd.DataFrame, graphs: Sequence[MolGraph] | None,
                   task: str, device: torch.device) -> np.ndarray:
    """Member predictions in target units (n,) or class probabilities (n, K)."""
    return predict_network(load_network(directory), features, graphs, task, device)
