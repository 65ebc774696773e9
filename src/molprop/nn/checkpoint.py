"""Per-epoch training checkpoints: everything needed to continue a run exactly.

A checkpoint holds the model, optimizer and learning-rate schedule states, the next epoch, the
batch-order generator, torch's global RNG and that of the GPU it trains on (CUDA or MPS), the
best weights so far (with their epoch and validation loss), the epoch history and whether
training ended.
It is tagged with a ``key`` (a hash of what the run depends on: data, config, seed, device
and the code, :func:`code_digest`); a file with another key belongs to another run and is
ignored, so stale checkpoints never leak into a new model. Writing can be limited to one file
every few seconds (a short epoch then does not pay for a write; a killed run redoes at most
those seconds of work).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from molprop.nn.optimizer import FusedAdamW, WarmupCosineSchedule
    from molprop.nn.training_types import TrainResult


@dataclass
class TrainingState:
    """The mutable objects of one training run."""

    model: torch.nn.Module
    optimizer: FusedAdamW
    scheduler: WarmupCosineSchedule
    generator: torch.Generator
    best: TrainResult
    finished: bool = False


def run_key(*parts: Any) -> str:
    """A stable hash of what a run depends on (JSON-able values and numpy arrays)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
            digest.update(str((part.dtype, part.shape)).encode())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()


# The sources that decide what training computes from its inputs (which the key hashes
# themselves): the network, loss, optimizer and loop, and the batching of graphs. Relative to
# the molprop package; all of them are deps of the train stage, so dvc.lock's checkpoints stay
# those a fresh `dvc repro` writes.
TRAINING_SOURCES = ("nn", "features/graph.py")


def source_digest(package: Path, sources: Sequence[str] = TRAINING_SOURCES) -> str:
    """A hash of the Python files ``sources`` (files or folders under ``package``: names and
    contents) and of torch's version."""
    digest = hashlib.sha256(torch.__version__.encode())
    for source in sources:
        root = package / source
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """The :func:`source_digest` of the installed molprop's training code: part of every
    checkpoint's key, so that after a change to it (an edited network, loss or optimizer) or
    to torch a run trains afresh instead of resuming, or returning, the old code's weights."""
    return source_digest(Path(__file__).resolve().parents[1])


class Checkpoint:
    """One run's checkpoint file at ``path``, valid only for runs with the same ``key``;
    ``min_interval_s``: seconds between writes (0: after every epoch); ``on_restore`` is told,
    when a run continues from the file, how many epochs had run and whether training had
    finished."""

    def __init__(self, path: str | Path, key: str, min_interval_s: float = 0.0,
                 on_restore: Callable[[int, bool], None] | None = None) -> None:  # fmt: skip
        self.path = Path(path)
        self.key = key
        self.min_interval_s = min_interval_s
        self.on_restore = on_restore
        self.resumed_epoch: int | None = None  # epochs run before, set when a run continued from this file
        self._written: float | None = None  # time.monotonic() of this run's last write

    def load(self) -> dict | None:
        """The saved payload when it exists and belongs to this run, else None."""
        if not self.path.exists():
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # a file cut short by a kill: start over
            return None
        return payload if payload.get("key") == self.key else None

    def restore(self, state: TrainingState, device: torch.device) -> int:
        """Load a matching checkpoint into ``state``; returns the next epoch (0 without one)."""
        payload = self.load()
        if payload is None:
            return 0
        state.model.load_state_dict(payload["model"])
        state.model.to(device)
        state.optimizer.load_state_dict(payload["optimizer"])
        state.scheduler.load_state_dict(payload["scheduler"])
        state.generator.set_state(payload["generator"])
        torch.set_rng_state(payload["torch_rng"])
        if payload.get("device_rng") is not None:  # the key holds the device: it is this run's
            _set_device_rng(device, payload["device_rng"])
        best = state.best
        best.state_dict = payload["best_state"]
        best.best_epoch, best.best_val_loss = payload["best_epoch"], payload["best_val_loss"]
        best.history = json.loads(payload["history"])
        state.finished = payload["finished"]
        self.resumed_epoch = int(payload["epoch"])
        if self.on_restore is not None:
            self.on_restore(self.resumed_epoch, bool(state.finished))
        return self.resumed_epoch

    def save(self, state: TrainingState, next_epoch: int) -> None:
        """Write the state atomically (a kill mid-write leaves the previous checkpoint): always
        after the first epoch of this run and when training has finished, otherwise only when
        ``min_interval_s`` have passed since the last write."""
        recent = self._written is not None and time.monotonic() - self._written < self.min_interval_s
        if recent and not state.finished:
            return
        best = state.best
        payload = {
            "key": self.key,
            "epoch": next_epoch,
            "finished": state.finished,
            "model": {k: v.detach().cpu() for k, v in state.model.state_dict().items()},
            "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict(),
            "generator": state.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            # dropout on a GPU draws from that device's generator (on the CPU, from torch_rng)
            "device_rng": _device_rng(next(state.model.parameters()).device),
            "best_state": {k: v.detach().cpu() for k, v in best.state_dict.items()},
            "best_epoch": best.best_epoch,
            "best_val_loss": best.best_val_loss,
            # as text: pickled, the dicts read back by a resumed run have other key objects
            # than the code's, so its file (and DVC's hash of checkpoints/) had other bytes
            "history": json.dumps(best.history),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        torch.save(payload, partial)
        os.replace(partial, self.path)
        self._written = time.monotonic()


def _device_rng(device: torch.device) -> torch.Tensor | None:
    """The random state of the accelerator ``device`` (None on the CPU: no CUDA is started
    for a CPU run on a machine with a GPU)."""
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    if device.type == "mps":
        return torch.mps.get_rng_state()
    return None


def _set_device_rng(device: torch.device, state: torch.Tensor) -> None:
    """Restore what :func:`_device_rng` returned for ``device``."""
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    elif device.type == "mps":
        torch.mps.set_rng_state(state)
