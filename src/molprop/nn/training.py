"""Mini-batch training with AdamW, warm-up + cosine decay, clipping and early stopping."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from molprop.errors import UserInputError
from molprop.nn.checkpoint import Checkpoint, TrainingState
from molprop.nn.optimizer import FusedAdamW, WarmupCosineSchedule
from molprop.nn.training_types import TrainConfig, TrainResult


class ClassificationLoss(nn.Module):
    """Binary cross-entropy of a single output (class 1's logit) against labels 0 / 1, or
    cross-entropy over one logit per class."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if logits.shape[1] == 1:
            return nn.functional.binary_cross_entropy_with_logits(logits[:, 0], labels.to(logits.dtype))
        return nn.functional.cross_entropy(logits, labels)


def loss_function(task: str) -> nn.Module:
    """MSE on scaled targets for regression, (binary) cross-entropy for classification."""
    return ClassificationLoss() if task == "classification" else nn.MSELoss()


def class_probabilities(raw: torch.Tensor) -> torch.Tensor:
    """(n, K) class probabilities of raw outputs: (1 - p, p) of a single logit (two classes),
    else the softmax of the class logits."""
    if raw.shape[1] == 1:
        return torch.cat([torch.sigmoid(-raw), torch.sigmoid(raw)], dim=1)
    return torch.softmax(raw, dim=1)


class ArrayInputs:
    """Fixed-length feature rows (n, n_features) fed to a model as float32 tensors."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = np.asarray(x, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, index: np.ndarray, device: torch.device) -> torch.Tensor:
        """The model input for rows ``index``."""
        return torch.as_tensor(self.x[index], device=device)


class Inputs(Protocol):
    """What ``fit`` and ``predict`` feed a model: ``len`` rows, batched by row index."""

    def __len__(self) -> int: ...

    def batch(self, index: np.ndarray, device: torch.device) -> Any: ...


def as_inputs(data: Inputs | np.ndarray) -> Inputs:
    """Arrays become :class:`ArrayInputs`; anything with ``batch`` is used as it is."""
    return ArrayInputs(data) if isinstance(data, np.ndarray) else data


def _targets(y: np.ndarray, task: str, device: torch.device) -> torch.Tensor:
    if task == "classification":
        return torch.as_tensor(y, dtype=torch.long, device=device).reshape(-1)
    return torch.as_tensor(y, dtype=torch.float32, device=device).reshape(-1, 1)


def _mean_loss(model: nn.Module, loss_fn: nn.Module, inputs: Inputs, y: torch.Tensor,
               device: torch.device, batch_size: int) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            index = np.arange(start, min(start + batch_size, len(inputs)))
            total += float(loss_fn(model(inputs.batch(index, device)), y[index])) * len(index)
    return total / len(inputs)


def batch_bounds(n: int, batch_size: int, no_single: bool = False) -> list[tuple[int, int]]:
    """(start, end) of the training batches of an epoch over ``n`` molecules; with
    ``no_single``, a last batch of one molecule joins the one before it (batch norm cannot
    normalize a batch of one)."""
    bounds = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if no_single and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n)]
    return bounds


# Diverged: the kept weights' training loss (eval mode) is this many times that of a network
# that outputs 0: the mean square of the training targets (~1 when standardized) or
# log(number of classes) (0.69 for two). Untrained D-MPNNs summing 40-100 atoms have started
# at 70x, and one epoch later been at 27x on their way to 0.03; blown-up ones sit at 3e3 to
# 1e21. Below the bar, a member that fits its training part no worse than a constant gets a
# warning (training_types.not_learnt_warning). The validation loss is no judge: one validation
# molecule far outside the training targets (a value in raw, heavy-tailed units) can put even a
# good network's validation loss in the thousands.
DIVERGED_FACTOR = 1e3


def constant_loss(y: np.ndarray, task: str) -> float:
    """The loss of predicting the targets' mean (their variance) or class shares (their entropy)."""
    y = np.asarray(y)
    if task == "classification":
        shares = np.unique(y, return_counts=True)[1] / max(len(y), 1)
        return float(-(shares * np.log(shares)).sum())
    return float(np.var(y.astype(np.float64))) if len(y) else 0.0


def untrained_loss(y: np.ndarray, task: str) -> float:
    """The loss of a network that outputs 0 for every molecule: the mean square of the targets
    (regression), log(number of classes) for a uniform prediction (classification)."""
    y = np.asarray(y)
    if task == "classification":
        return float(np.log(max(2, len(np.unique(y)))))
    return float(np.mean(y.astype(np.float64) ** 2)) if len(y) else 0.0


def fit(
    model: nn.Module,
    task: str,
    train: tuple[Inputs | np.ndarray, np.ndarray],
    val: tuple[Inputs | np.ndarray, np.ndarray],
    config: TrainConfig,
    device: torch.device,
    on_epoch: Callable[[dict], None] | None = None,
    checkpoint: Checkpoint | None = None,
) -> TrainResult:
    """Train ``model`` on (inputs, targets) pairs; returns the weights of the epoch with the
    lowest validation loss from ``config.start_from_epoch`` on (at the latest the last epoch).
    Inputs are feature arrays or any :class:`Inputs` (e.g. graphs).

    With an empty validation set, the training loss drives early stopping instead. With a
    ``checkpoint``, the full training state is saved after every epoch and a run that finds a
    matching checkpoint continues from it (replaying the recorded epochs to ``on_epoch``),
    ending with the same weights as an uninterrupted run. ``model`` ends with the kept weights,
    whose training loss the result holds beside a constant prediction's; UserInputError when
    the training diverged (a NaN loss, or kept weights far worse on the training part than a
    network that outputs 0).
    """
    batch_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if batch_norm and (config.batch_size < 2 or len(train[1]) < 2):
        raise UserInputError(f"train.batch_norm normalizes over a batch of molecules: it needs train.batch_size >= 2 "
                             f"and 2 or more training molecules (batch_size {config.batch_size}, "
                             f"{len(train[1])} molecule(s)); set train.batch_norm: false or raise them")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model.to(device)
    x_tr, x_va = as_inputs(train[0]), as_inputs(val[0])
    y_tr, y_va = _targets(train[1], task, device), _targets(val[1], task, device)
    loss_fn = loss_function(task)
    # fused: one kernel for all parameters instead of a dozen small ops per tensor (~8% of a
    # FreeSolv D-MPNN epoch on the CPU); its updates differ from the loop's in the last bits
    optimizer = FusedAdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = WarmupCosineSchedule(optimizer, config.lr, config.warmup_epochs, config.max_epochs)
    best = TrainResult(copy.deepcopy(model.state_dict()), -1, math.inf)
    state = TrainingState(model, optimizer, scheduler, generator, best)
    first_epoch = checkpoint.restore(state, device) if checkpoint is not None else 0
    for record in best.history if on_epoch is not None else []:
        on_epoch(record)
    eval_batch = max(config.batch_size, 1024)
    watched_from = min(config.start_from_epoch, config.max_epochs - 1)
    for epoch in range(first_epoch, config.max_epochs):
        if state.finished:
            break
        model.train()
        scheduler.start_epoch(epoch)
        order = torch.randperm(len(x_tr), generator=generator).numpy()
        total = 0.0
        for start, end in batch_bounds(len(order), config.batch_size, no_single=batch_norm):
            idx = order[start:end]
            optimizer.zero_grad()
            loss = loss_fn(model(x_tr.batch(idx, device)), y_tr[torch.as_tensor(idx, device=device)])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            total += loss.item() * len(idx)
        record = {"epoch": epoch, "train_loss": total / len(x_tr), "lr": optimizer.lr}
        record["val_loss"] = (_mean_loss(model, loss_fn, x_va, y_va, device, eval_batch)
                              if len(x_va) else record["train_loss"])
        if not (math.isfinite(record["train_loss"]) and math.isfinite(record["val_loss"])):
            raise UserInputError(f"the training diverged: loss {record['train_loss']:.4g} (train), "
                                 f"{record['val_loss']:.4g} (validation) in epoch {epoch}; lower train.lr "
                                 f"({config.lr:g}) or train.grad_clip ({config.grad_clip:g})")
        best.history.append(record)
        watched = epoch >= watched_from  # the weights of earlier epochs are never kept
        if watched and record["val_loss"] < best.best_val_loss - 1e-7:
            best.state_dict = copy.deepcopy(model.state_dict())
            best.best_epoch, best.best_val_loss = epoch, record["val_loss"]
        elif watched and epoch - best.best_epoch >= config.patience:
            state.finished = True
        state.finished = state.finished or epoch + 1 == config.max_epochs
        if checkpoint is not None:
            checkpoint.save(state, epoch + 1)
        if on_epoch is not None:
            on_epoch(record)
    model.load_state_dict(best.state_dict)  # the kept weights, judged in eval mode on the training part
    kept = _mean_loss(model, loss_fn, x_tr, y_tr, device, eval_batch) if len(x_tr) else 0.0
    best.kept_train_loss, best.constant_loss = kept, constant_loss(train[1], task)
    zero = untrained_loss(train[1], task)
    if not kept <= DIVERGED_FACTOR * max(zero, 0.1):  # blown up without reaching inf or NaN in training
        raise UserInputError(f"the training diverged: the kept weights (epoch {best.best_epoch}) have a training "
                             f"loss of {kept:.4g}, where a network that outputs 0 scores {zero:.3g}; lower "
                             f"train.lr ({config.lr:g}) or train.grad_clip ({config.grad_clip:g})")
    return best


def predict(model: nn.Module, x: Inputs | np.ndarray, task: str, device: torch.device,
            batch_size: int = 1024) -> np.ndarray:
    """Raw predictions: scaled values (n,) or class probabilities (n, K)."""
    inputs = as_inputs(x)
    model.to(device).eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            index = np.arange(start, min(start + batch_size, len(inputs)))
            out = model(inputs.batch(index, device))
            out = class_probabilities(out) if task == "classification" else out.squeeze(1)
            outputs.append(out.cpu().numpy().astype(np.float64))
    if not outputs:
        return np.empty((0,), dtype=np.float64)
    return np.concatenate(outputs)
