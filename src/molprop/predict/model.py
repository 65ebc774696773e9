"""A saved model loaded once and kept in memory, for predicting many chunks.

``molprop.models.predictor.predict_saved`` loads the members from disk on every call (a
500-tree forest takes seconds to load and to audit with skops), which is right for one table
but not for thousands of chunks in a worker or a Ray actor. ``HeldModel`` loads each member
once with the same store functions and predicts exactly as ``predict_saved`` does;
tests/test_predict_run.py checks the two agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molprop.features.graph import MolGraph
from molprop.models.predictor import Predictions
from molprop.models.store import load_card, load_sklearn_member


class HeldModel:
    """Every member of a saved model directory, loaded."""

    def __init__(self, directory: str | Path, device: str = "auto") -> None:
        self.directory = Path(directory)
        self.card = load_card(self.directory)
        self.members: list[tuple[str, Any, Any, dict | None]] = []
        if self.card.kind == "torch":
            import torch

            from molprop.models.matrix import Preprocessor
            from molprop.nn.device import pick_device
            from molprop.nn.mlp import MLPConfig
            from molprop.nn.mpnn import MPNNConfig
            from molprop.nn.store import build_network

            self.device = pick_device(device)
            for name in self.card.members:
                folder = self.directory / name
                network = json.loads((folder / "network.json").read_text())
                config = (MLPConfig if network["kind"] == "mlp" else MPNNConfig)(**network["config"])
                model = build_network(network["kind"], config)
                model.load_state_dict(torch.load(folder / "weights.pt", map_location="cpu", weights_only=True))
                prep = Preprocessor.from_dict(json.loads((folder / "preprocess.json").read_text()))
                self.members.append((name, model, prep, network))
        elif self.card.kind == "sklearn":
            for name in self.card.members:
                estimator, prep = load_sklearn_member(self.directory / name)
                self.members.append((name, estimator, prep, None))
        else:
            raise ValueError(f"{self.directory}/model.json: unknown model kind {self.card.kind!r}")

    def predict(self, features: pd.DataFrame, graphs: Sequence[MolGraph] | None = None) -> Predictions:
        """Member predictions of ``features`` (and ``graphs`` for graph networks), as
        ``predict_saved`` returns them."""
        outputs = [self._member(model, prep, network, features, graphs)
                   for _, model, prep, network in self.members]
        return Predictions(np.stack(outputs), [m[0] for m in self.members],
                           self.card.extra.get("uncertainty_scale"))

    def _member(self, model, prep, network, features, graphs) -> np.ndarray:
        x = prep.transform(features)
        if network is None:  # scikit-learn, as molprop.models.store.predict_sklearn
            if self.card.task != "classification":
                return model.predict(x)
            proba = np.zeros((len(x), len(self.card.classes)))
            proba[:, model.classes_.astype(int)] = model.predict_proba(x)
            return proba
        from molprop.nn.store import network_inputs
        from molprop.nn.training import predict

        out = predict(model, network_inputs(network["kind"], x, graphs), self.card.task, self.device)
        if network["target_scale"] is not None:  # as molprop.nn.store.predict_member
            mean, std = network["target_scale"]
            out = out * std + mean
        return out
