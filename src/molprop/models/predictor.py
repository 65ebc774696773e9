"""Predictions of a saved model directory (any kind), per member and as an ensemble."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molprop.features.graph import MolGraph
from molprop.models.store import load_card, predict_sklearn


@dataclass
class Predictions:
    """Member predictions stacked on axis 0, and their mean (the ensemble prediction)."""

    members: np.ndarray  # (n_members, n) or (n_members, n, K)
    names: list[str]
    # Regression: factor turning the member spread into a calibrated standard deviation
    # (fitted on the validation part by the train stage; None = not calibrated).
    uncertainty_scale: float | None = None

    @property
    def mean(self) -> np.ndarray:
        """Ensemble prediction: mean over members."""
        return self.members.mean(axis=0)

    @property
    def spread(self) -> np.ndarray:
        """Standard deviation over members (0 for a single member)."""
        return self.members.std(axis=0)

    @property
    def uncertainty(self) -> np.ndarray:
        """Calibrated standard deviation of a regression prediction: spread x scale (the raw
        spread when the model carries no calibration)."""
        return self.spread * (1.0 if self.uncertainty_scale is None else self.uncertainty_scale)


def predict_saved(directory: str | Path, features: pd.DataFrame, device: str = "auto",
                  graphs: Sequence[MolGraph] | None = None) -> Predictions:
    """Predict ``features`` (a data/features.parquet-like table) with every member; graph
    networks also need the molecules' ``graphs`` (same rows)."""
    directory = Path(directory)
    card = load_card(directory)
    outputs = []
    for member in card.members:
        if card.kind == "sklearn":
            outputs.append(predict_sklearn(directory / member, features, card.task, len(card.classes)))
        elif card.kind == "torch":
            from molprop.nn.device import pick_device
            from molprop.nn.store import predict_member

            outputs.append(predict_member(directory / member, features, graphs, card.task,
                                          pick_device(device)))
        else:
            raise ValueError(f"{directory}/model.json: unknown model kind {card.kind!r}")
    return Predictions(np.stack(outputs), list(card.members), card.extra.get("uncertainty_scale"))
