"""Saving and loading trained networks as state dicts + JSON (no pickled objects)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molprop.models.matrix import Preprocessor
from molprop.serialization import write_json
from molprop.nn.mlp import MLP, MLPConfig
from molprop.nn.training import predict


def save_mlp_member(
    directory: Path,
    config: MLPConfig,
    state_dict: dict,
    prep: Preprocessor,
    target_scale: tuple[float, float] | None,
) -> None:
    """Write weights.pt, network.json (architecture, target scaling) and preprocess.json."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, directory / "weights.pt")
    write_json(directory / "network.json", {"mlp": asdict(config), "target_scale": target_scale})
    write_json(directory / "preprocess.json", prep.to_dict())


def predict_mlp(directory: Path, features: pd.DataFrame, task: str, device: torch.device) -> np.ndarray:
    """Member predictions in target units (n,) or class probabilities (n, K)."""
    network = json.loads((directory / "network.json").read_text())
    prep = Preprocessor.from_dict(json.loads((directory / "preprocess.json").read_text()))
    model = MLP(MLPConfig(**network["mlp"]))
    model.load_state_dict(torch.load(directory / "weights.pt", map_location="cpu", weights_only=True))
    out = predict(model, prep.transform(features), task, device)
    if network["target_scale"] is not None:
        mean, std = network["target_scale"]
        out = out * std + mean
    return out
