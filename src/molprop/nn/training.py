"""Mini-batch training with AdamW, warm-up + cosine decay, clipping and early stopping."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings."""

    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 64
    max_epochs: int = 200
    warmup_epochs: int = 5
    patience: int = 20
    grad_clip: float = 5.0
    seed: int = 0


@dataclass
class TrainResult:
    """Best weights (lowest validation loss) and per-epoch history."""

    state_dict: dict
    best_epoch: int
    best_val_loss: float
    history: list[dict] = field(default_factory=list)


def lr_factor(epoch: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1 over ``warmup`` epochs, then cosine decay to 0.05 at ``total``."""
    if epoch < warmup:
        return (epoch + 1) / warmup
    progress = (epoch - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def loss_function(task: str) -> nn.Module:
    """MSE on scaled targets for regression, cross-entropy for classification."""
    return nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()


def _mean_loss(model: nn.Module, loss_fn: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float(loss_fn(model(x), y))


def fit(
    model: nn.Module,
    task: str,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    device: torch.device,
    on_epoch: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train ``model``; returns the weights of the epoch with the lowest validation loss.

    With an empty validation set, the training loss drives early stopping instead.
    """
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model.to(device)
    dtype = torch.long if task == "classification" else torch.float32
    x_tr = torch.as_tensor(train[0], dtype=torch.float32, device=device)
    shape = (-1,) if task == "classification" else (-1, 1)
    y_tr = torch.as_tensor(train[1], dtype=dtype, device=device).reshape(shape)
    x_va = torch.as_tensor(val[0], dtype=torch.float32, device=device)
    y_va = torch.as_tensor(val[1], dtype=dtype, device=device).reshape(shape)
    loss_fn = loss_function(task)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda e: lr_factor(e, config.warmup_epochs, config.max_epochs)
    )
    best = TrainResult(copy.deepcopy(model.state_dict()), -1, math.inf)
    for epoch in range(config.max_epochs):
        model.train()
        order = torch.randperm(len(x_tr), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            idx = order[start : start + config.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            total += loss.item() * len(idx)
        record = {"epoch": epoch, "train_loss": total / len(x_tr), "lr": optimizer.param_groups[0]["lr"]}
        record["val_loss"] = _mean_loss(model, loss_fn, x_va, y_va) if len(x_va) else record["train_loss"]
        scheduler.step()
        best.history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if record["val_loss"] < best.best_val_loss - 1e-7:
            best.state_dict = copy.deepcopy(model.state_dict())
            best.best_epoch, best.best_val_loss = epoch, record["val_loss"]
        elif epoch - best.best_epoch >= config.patience:
            break
    return best


def predict(model: nn.Module, x: np.ndarray, task: str, device: torch.device) -> np.ndarray:
    """Raw predictions: scaled values (n,) or class probabilities (n, K)."""
    model.to(device).eval()
    with torch.no_grad():
        out = model(torch.as_tensor(x, dtype=torch.float32, device=device))
        out = torch.softmax(out, dim=1) if task == "classification" else out.squeeze(1)
    return out.cpu().numpy().astype(np.float64)
