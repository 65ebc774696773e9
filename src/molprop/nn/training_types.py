"""The network kinds, training settings and results, the learning-rate schedule and the
checks on a finished ensemble: plain Python without torch, so the train stage plans its
members and reads their results without importing torch (~1 s) when the members train in
worker processes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

ARCHITECTURES = ("mlp", "dmpnn")
NEEDS_GRAPHS = {"mlp": False, "dmpnn": True}  # whether the kind reads the molecular graphs
# train settings that one kind of network alone reads (network_config): the others ignore them
ONLY_FOR = {"depth": "dmpnn", "readout": "dmpnn", "batch_norm": "dmpnn", "ffn_hidden_size": "dmpnn"}


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings."""

    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 64
    max_epochs: int = 200
    warmup_epochs: int = 5
    patience: int = 20
    # the first epoch whose weights may be kept (0-based): the validation loss is watched from
    # there on, so weights of the earliest, barely trained epochs are never the result
    start_from_epoch: int = 0
    grad_clip: float = 5.0
    seed: int = 0


@dataclass
class TrainResult:
    """Best weights (lowest validation loss) and per-epoch history."""

    state_dict: dict
    best_epoch: int
    best_val_loss: float
    history: list[dict] = field(default_factory=list)
    # set by molprop.nn.members when it trains a member: the saved member's predictions for
    # its validation rows (target units / class probabilities), None without any
    val_predictions: np.ndarray | None = None
    # set by fit: the kept weights' training loss (eval mode), and that of a constant prediction
    # of the training targets' mean or class shares (their variance or entropy)
    kept_train_loss: float | None = None
    constant_loss: float | None = None


def network_feature_columns(kind: str, feature_groups: Sequence[str], columns: list[str]) -> list[str]:
    """The columns of ``columns`` (data/features.parquet's) a network of ``kind`` reads besides
    the graphs; UserInputError when a listed group has none, or when a network that reads no
    graphs is given no group."""
    from molprop.errors import UserInputError
    from molprop.models.matrix import select_feature_columns

    if not NEEDS_GRAPHS.get(kind, True) and not feature_groups:
        raise UserInputError(f"train.model: {kind} reads nothing but the feature groups, and train.features is "
                             "[]: name at least one (morgan, descriptors), or use model: dmpnn (graphs)")
    return select_feature_columns(columns, list(feature_groups), "train.features")


def not_learnt_warning(name: str, result: TrainResult, max_epochs: int | None = None) -> str | None:
    """A warning when a member's kept weights fit its training molecules no better than a
    constant prediction of their mean (or class shares): it has learnt nothing yet. When early
    stopping ended it before ``max_epochs``, the advice is about the validation part, where
    more epochs would change nothing."""
    kept, constant = result.kept_train_loss, result.constant_loss
    if kept is None or constant is None or not kept >= constant > 0:
        return None
    found = (f"{name} fits its training molecules no better than a constant prediction of their mean or "
             f"class shares (training loss {kept:.4g} against {constant:.4g}): it has not learnt; ")
    if max_epochs is not None and len(result.history) < max_epochs:
        return found + (f"early stopping ended it after {len(result.history)} of {max_epochs} epochs and kept its "
                        f"weights of epoch {result.best_epoch}, where its validation loss was lowest, so more "
                        "epochs would not help: check the split's warnings (a validation part without one of "
                        "the classes, or too few molecules: split.method: stratified, a larger "
                        "split.fractions.val), or raise train.patience")
    return found + "give it more epochs (train.max_epochs), another train.lr, or less train.weight_decay"


def lr_factor(epoch: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1 over ``warmup`` epochs, then cosine decay to 0.05 at ``total``."""
    if epoch < warmup:
        return (epoch + 1) / warmup
    progress = (epoch - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def output_count(task: str, n_classes: int) -> int:
    """Network outputs: one for regression and for two classes (the logit of class 1), one
    logit per class for three or more."""
    return n_classes if task == "classification" and n_classes > 2 else 1


def hardly_trained_warning(best_epochs: list[int], warmup_epochs: int, n_val: int,
                           start_from_epoch: int = 0, max_epochs: int | None = None,
                           patience: int | None = None) -> str | None:
    """A warning when every member's lowest validation loss came within its first
    ``max(warmup_epochs, start_from_epoch) + 1`` epochs (the warm-up or the first epoch
    watched, and one more), so that early stopping kept weights that have hardly trained; when
    ``max_epochs`` ends training within those epochs, it says so instead, and a ``patience``
    under 3 is named as a likely cause. None otherwise."""
    first = max(warmup_epochs, start_from_epoch) + 1
    if not best_epochs:
        return None
    # the warm-up's last epoch runs at train.lr; start_from_epoch counts from 0
    settings = ((warmup_epochs > (max_epochs or warmup_epochs), f"its warm-up was over (train.warmup_epochs "
                 f"{warmup_epochs}: the learning rate never reached train.lr)"),
                (start_from_epoch >= (max_epochs or start_from_epoch + 1), "the validation loss was watched "
                 f"(train.start_from_epoch {start_from_epoch})"))
    late = [part for too_late, part in settings if too_late]
    if late:  # what the user set too high, not (only) max_epochs
        return (f"train.max_epochs is {max_epochs}, so training ended before {' and before '.join(late)}: lower "
                f"{'them' if len(late) > 1 else 'it'} below train.max_epochs, or raise train.max_epochs.")
    if max_epochs is not None and max_epochs <= first:  # with or without a validation part
        return (f"train.max_epochs is {max_epochs}, so training ended within the first {first} epoch(s) "
                f"(warm-up and the first epoch watched, and one more): the kept weights have hardly "
                "trained; raise train.max_epochs (default 40).")
    if n_val == 0 or max(best_epochs) >= first:  # no validation part: the training loss decided
        return None
    found = (f"every member's validation loss was lowest in its first {first} epoch(s) (best epochs "
             f"{sorted(set(best_epochs))}) and never lower later, so the kept weights have hardly trained. ")
    if patience is not None and patience < 3:
        return found + (f"train.patience is {patience}: a member stops after {patience} epoch(s) without a lower "
                        "validation loss, so one noisy epoch ends it; raise it (default 10).")
    return found + (f"The smallest validation part has {n_val} molecule(s): with few, that can be noise (a larger "
                    "split.fractions.val steadies it); otherwise the validation molecules are unlike anything "
                    "the network learned from the training part.")


def mean_history(histories: list[list[dict]]) -> list[dict]:
    """Per epoch (in order), the mean ``train_loss`` and ``val_loss`` of the members whose
    history has that epoch (early stopping ends members at different epochs)."""
    by_epoch: dict[int, list[dict]] = {}
    for history in histories:
        for record in history:
            by_epoch.setdefault(record["epoch"], []).append(record)
    return [{"epoch": epoch, **{key: sum(r[key] for r in records) / len(records) for key in ("train_loss", "val_loss")}}
            for epoch, records in sorted(by_epoch.items())]
