"""Predictions of a saved model directory (any kind), per member and as an ensemble."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from molprop.errors import UserInputError
from molprop.features.graph import MolGraph
from molprop.models.estimators import KINDS, make_estimator, predict_member
from molprop.models.partitions import members_by_partition
from molprop.models.store import REPAIR, ModelCard, load_card, load_sklearn_member
from molprop.seeding import deterministic_gpu_kernels


def calibrated_sigma(spread: np.ndarray, scale: float | None, floor: float | None) -> np.ndarray:
    """The predictive standard deviation ``sqrt((scale * spread)^2 + floor^2)``; the raw
    spread without a calibration (``scale`` None), the scale alone without a floor (models
    calibrated before the floor)."""
    spread = np.asarray(spread, dtype=float)
    if scale is None:
        return spread
    return np.sqrt((scale * spread) ** 2 + (floor or 0.0) ** 2)


@dataclass
class Predictions:
    """Member predictions stacked on axis 0, and their mean (the ensemble prediction)."""

    members: np.ndarray  # (n_members, n) or (n_members, n, K)
    names: list[str]
    # Regression: the calibration turning the member spread into a standard deviation,
    # sqrt((scale * spread)^2 + floor^2), fitted on the validation part by the train stage
    # (scale None: not calibrated; floor None: a model calibrated before there was one).
    uncertainty_scale: float | None = None
    uncertainty_floor: float | None = None

    @property
    def mean(self) -> np.ndarray:
        """Ensemble prediction: mean over members."""
        return self.members.mean(axis=0)

    @property
    def spread(self) -> np.ndarray:
        """Standard deviation over members (0 for a single member). In k-fold mode with
        several members per fold, the root mean square of each fold's spread: what the
        uncertainty scale was fitted on, as a validation molecule is predicted by the members
        of its own fold only (the spread over every fold's members also holds the folds'
        differences, and scaled by that fit it was ~20x too wide)."""
        groups = members_by_partition(self.names)
        if len(groups) > 1 and all(len(group) > 1 for group in groups):
            return np.sqrt(np.mean([self.members[group].var(axis=0) for group in groups], axis=0))
        return self.members.std(axis=0)

    @property
    def uncertainty(self) -> np.ndarray:
        """Calibrated standard deviation of a regression prediction, sqrt((spread x scale)^2 +
        floor^2) (the raw spread when the model carries no calibration)."""
        return calibrated_sigma(self.spread, self.uncertainty_scale, self.uncertainty_floor)


# The files of one saved member, per model kind (models.store / nn.store write them).
MEMBER_FILES = {"sklearn": ("estimator.skops", "preprocess.json"),
                "torch": ("network.json", "preprocess.json", "weights.pt")}


def check_members(directory: Path, card: ModelCard) -> None:
    """Raise ``UserInputError`` naming the first file of a member that is missing."""
    if card.kind not in MEMBER_FILES:
        raise UserInputError(f"{directory}/model.json: unknown model kind {card.kind!r}")
    for name in card.members:
        for file in MEMBER_FILES[card.kind]:
            if not (directory / name / file).is_file():
                raise UserInputError(f"{directory / name / file} is missing: the model directory is "
                                     f"incomplete. {REPAIR}")


def load_member(directory: Path, card: ModelCard, name: str) -> Any:
    """Member ``name`` of the saved model in ``directory``, loaded: (estimator, preprocessor)
    for scikit-learn, a ``molprop.nn.store.LoadedNetwork`` for PyTorch. A file that cannot be
    read (truncated, missing) is a ``UserInputError`` naming the member."""
    import zipfile
    from dataclasses import replace

    check_members(directory, replace(card, members=[name]))
    try:
        if card.kind == "sklearn":
            loaded = load_sklearn_member(directory / name)
        else:
            from molprop.nn.store import load_network

            loaded = load_network(directory / name)
    except UserInputError:
        raise
    except (OSError, EOFError, RuntimeError, KeyError, IndexError, TypeError, ValueError, zipfile.BadZipFile,
            pickle.UnpicklingError) as error:  # the last: a weights file of text (a Git LFS pointer)
        shown = " ".join(str(error).split())[:200]  # one line: a state_dict error spans several
        raise UserInputError(f"{directory / name} cannot be loaded ({type(error).__name__}: {shown}): the "
                             f"member's files are damaged. {REPAIR}") from error
    problem = _member_problem(card, loaded)
    if problem:
        raise UserInputError(f"{directory / name} does not belong to this model ({problem}): the member's "
                             f"files are mixed up with another model's. {REPAIR}")
    return loaded


def _member_problem(card: ModelCard, loaded: Any) -> str | None:
    """What makes a loaded member disagree with its model card (kind, task, feature groups),
    or None."""
    from molprop.models.matrix import FEATURE_GROUPS

    prep = loaded[1] if card.kind == "sklearn" else loaded.prep
    prefixes = tuple(FEATURE_GROUPS[group] for group in card.feature_groups if group in FEATURE_GROUPS)
    outside = [c for c in prep.columns if not c.startswith(prefixes)]
    if outside:
        return f"it reads {outside[0]}, outside the model's feature groups {card.feature_groups}"
    kind = card.extra.get("model")
    if card.kind == "torch":
        from molprop.nn.training_types import output_count

        outputs = output_count(card.task, len(card.classes))
        if loaded.model.config.n_outputs != outputs or (loaded.target_scale is None) != (card.task != "regression"):
            return (f"a network of {loaded.model.config.n_outputs} output(s) "
                    f"{'without' if loaded.target_scale is None else 'with'} target scaling in a {card.task} model"
                    + (f" of {len(card.classes)} classes" if card.classes else ""))
        return f"a {loaded.kind} network in a {kind} model" if kind and loaded.kind != kind else None
    estimator = loaded[0]
    if hasattr(estimator, "predict_proba") != (card.task == "classification"):
        return f"a {type(estimator).__name__} in a {card.task} model"
    if kind in KINDS:
        expected = type(make_estimator(kind, card.task, {}, 0))
        if type(estimator) is not expected:
            return f"a {type(estimator).__name__} where the model is {kind} ({expected.__name__})"
    return None


def member_device(card: ModelCard, device: str) -> Any:
    """The torch device a network model runs on (``auto``: the best available); None for
    scikit-learn models (no torch import). On a GPU, with torch's deterministic kernels (the
    message passing's sums in a fixed order), as in training."""
    if card.kind != "torch":
        return None
    from molprop.nn.device import pick_device

    picked = pick_device(device)
    if picked.type != "cpu":
        deterministic_gpu_kernels()
    return picked


def predict_loaded(member: Any, card: ModelCard, features: pd.DataFrame,
                   graphs: Sequence[MolGraph] | None, device: Any) -> np.ndarray:
    """Predictions of one ``load_member`` result: values (n,) or class probabilities (n, K)."""
    if card.kind == "sklearn":
        estimator, prep = member
        return predict_member(estimator, prep, features, card.task, len(card.classes))
    from molprop.nn.store import predict_network

    return predict_network(member, features, graphs, card.task, device)


def one_thread_for(card: ModelCard) -> AbstractContextManager:
    """A network predicts on one torch thread (``molprop.nn.device.one_cpu_thread``);
    scikit-learn models as they are (no torch import)."""
    if card.kind != "torch":
        return nullcontext()
    from molprop.nn.device import one_cpu_thread

    return one_cpu_thread()


def predict_saved(directory: str | Path, features: pd.DataFrame, device: str = "auto",
                  graphs: Sequence[MolGraph] | None = None) -> Predictions:
    """Predict ``features`` (a data/features.parquet-like table) with every member, loading
    one member at a time (networks on one torch thread: the test predictions then do not
    depend on the core count); graph networks also need the molecules' ``graphs`` (same rows)."""
    directory = Path(directory)
    card = load_card(directory)
    torch_device = member_device(card, device)
    with one_thread_for(card):
        outputs = [predict_loaded(load_member(directory, card, name), card, features, graphs, torch_device)
                   for name in card.members]
    return Predictions(np.stack(outputs), list(card.members), card.extra.get("uncertainty_scale"),
                       card.extra.get("uncertainty_floor"))
