"""A saved model loaded once and kept in memory, for predicting many chunks.

``molprop.models.predictor.predict_saved`` loads the members from disk on every call (a
500-tree forest takes seconds to load and to audit with skops), which is right for one table
but not for thousands of chunks in a worker or a Ray actor. ``HeldModel`` loads each member
once and predicts with the same per-member functions as ``predict_saved``
(``load_member`` / ``predict_loaded``); tests/test_predict_run.py checks the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from molprop.features.graph import MolGraph
from molprop.models.predictor import Predictions, load_member, member_device, one_thread_for, predict_loaded
from molprop.models.store import load_card


class HeldModel:
    """Every member of a saved model directory, loaded."""

    def __init__(self, directory: str | Path, device: str = "auto") -> None:
        self.directory = Path(directory)
        self.card = load_card(self.directory)
        self.device = member_device(self.card, device)
        self.members = [load_member(self.directory, self.card, name) for name in self.card.members]

    @property
    def feature_columns(self) -> list[str]:
        """The feature columns the members read, in the order first met."""
        preps = [member[1] if isinstance(member, tuple) else member.prep for member in self.members]
        return list(dict.fromkeys(column for prep in preps for column in prep.columns))

    def predict(self, features: pd.DataFrame, graphs: Sequence[MolGraph] | None = None) -> Predictions:
        """Member predictions of ``features`` (and ``graphs`` for graph networks), as
        ``predict_saved`` returns them."""
        with one_thread_for(self.card):  # evaluate's numbers, whatever --n-jobs and the cores
            outputs = [predict_loaded(m, self.card, features, graphs, self.device) for m in self.members]
        return Predictions(np.stack(outputs), list(self.card.members), self.card.extra.get("uncertainty_scale"),
                           self.card.extra.get("uncertainty_floor"))
