"""Per-epoch checkpoints: an interrupted run resumes to exactly the uninterrupted result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from molprop.nn import checkpoint as checkpoint_module
from molprop.nn.checkpoint import TRAINING_SOURCES, Checkpoint, code_digest, run_key, source_digest
from molprop.nn.members import remove_other_checkpoints
from molprop.nn.mlp import MLP, MLPConfig
from molprop.nn.training import TrainConfig, fit

CPU = torch.device("cpu")
CONFIG = TrainConfig(lr=3e-3, max_epochs=12, patience=50, batch_size=16, warmup_epochs=2, seed=3)


class Killed(Exception):
    """Stands in for the process being killed after an epoch."""


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 6)).astype(np.float32)
    return x, x @ rng.normal(size=6) + 0.1 * rng.normal(size=80)


def _train(checkpoint=None, kill_after=None, init_seed=0):
    x, y = _data()
    torch.manual_seed(init_seed)
    model = MLP(MLPConfig(6, 1, 16, 2, 0.2))  # dropout: the global torch RNG must resume too
    seen = []

    def on_epoch(record):
        seen.append(record["epoch"])
        if kill_after is not None and record["epoch"] == kill_after:
            raise Killed

    result = fit(model, "regression", (x[:60], y[:60]), (x[60:], y[60:]), CONFIG, CPU, on_epoch, checkpoint)
    return result, seen


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    reference, _ = _train(Checkpoint(tmp_path / "reference" / "member.pt", run_key("test", 1)))
    checkpoint = Checkpoint(tmp_path / "member.pt", run_key("test", 1))
    with pytest.raises(Killed):
        _train(checkpoint, kill_after=4)
    told = []  # the member says so as it resumes (not once it has trained), counting epochs run
    checkpoint.on_restore = lambda epochs_run, finished: told.append((epochs_run, finished))
    # A fresh process would build the network with another initialization: the checkpoint wins.
    resumed, seen = _train(checkpoint, init_seed=123)
    assert told == [(5, False)]
    assert seen == list(range(CONFIG.max_epochs))  # epochs 0-4 replayed, 5-11 trained
    assert resumed.best_epoch == reference.best_epoch
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in reference.history]
    assert _same_weights(resumed.state_dict, reference.state_dict)
    # the same bytes, so that DVC's hash of checkpoints/train does not change with a resume
    assert (tmp_path / "member.pt").read_bytes() == (tmp_path / "reference" / "member.pt").read_bytes()


def test_writes_limited_by_interval_still_resume_exactly(tmp_path):
    """With an interval longer than the run, only the first epoch and the end are written: a
    run killed after epoch 4 resumes from epoch 0 and still ends with the same weights."""
    reference, _ = _train()
    path = tmp_path / "member.pt"
    with pytest.raises(Killed):
        _train(Checkpoint(path, run_key("slow writes"), min_interval_s=3600.0), kill_after=4)
    saved = Checkpoint(path, run_key("slow writes")).load()
    assert saved["epoch"] == 1 and saved["scheduler"]["next_epoch"] == 1
    assert saved["scheduler"]["lr"] == saved["optimizer"]["lr"] == json.loads(saved["history"])[0]["lr"]
    resumed, seen = _train(Checkpoint(path, run_key("slow writes"), min_interval_s=3600.0), init_seed=7)
    assert seen == list(range(CONFIG.max_epochs))
    assert Checkpoint(path, run_key("slow writes")).load()["finished"]
    assert _same_weights(resumed.state_dict, reference.state_dict)


def test_finished_checkpoint_returns_without_training(tmp_path):
    checkpoint = Checkpoint(tmp_path / "member.pt", run_key("done"))
    first, _ = _train(checkpoint)
    again, seen = _train(checkpoint, init_seed=9)
    assert seen == list(range(CONFIG.max_epochs))
    assert _same_weights(first.state_dict, again.state_dict)


def test_checkpoint_of_another_run_is_ignored(tmp_path):
    path = tmp_path / "member.pt"
    with pytest.raises(Killed):
        _train(Checkpoint(path, run_key("other run")), kill_after=2)
    assert Checkpoint(path, run_key("this run")).load() is None
    fresh, _ = _train(Checkpoint(path, run_key("this run")))
    reference, _ = _train()
    assert _same_weights(fresh.state_dict, reference.state_dict)


def test_truncated_checkpoint_starts_over(tmp_path):
    path = tmp_path / "member.pt"
    path.write_bytes(b"PK\x03\x04 cut short")
    assert Checkpoint(path, run_key("x")).load() is None


def test_run_key_depends_on_arrays_and_values():
    a = np.arange(5)
    assert run_key({"lr": 1e-3}, a) == run_key({"lr": 1e-3}, a.copy())
    assert run_key({"lr": 1e-3}, a) != run_key({"lr": 3e-4}, a)
    assert run_key(a) != run_key(a.astype(np.int32))


def test_source_digest_follows_every_training_source_file_and_torch(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    (package / "nn").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "b.py").write_text("y = 1\n")
    (package / "nn" / "c.py").write_text("def f():\n    return 1\n")
    sources = ("nn", "a.py")
    first = source_digest(package, sources)
    assert source_digest(package, sources) == first
    (package / "nn" / "notes.txt").write_text("not code")
    (package / "b.py").write_text("y = 2\n")  # not a training source
    assert source_digest(package, sources) == first
    (package / "nn" / "c.py").write_text("def f():\n    return 2\n")
    edited = source_digest(package, sources)
    assert edited != first
    (package / "a.py").write_text("x = 2\n")
    assert source_digest(package, sources) not in (first, edited)
    edited = source_digest(package, sources)
    (package / "nn" / "c.py").rename(package / "nn" / "d.py")
    renamed = source_digest(package, sources)
    assert renamed != edited
    monkeypatch.setattr(torch, "__version__", "0.0.0")
    assert source_digest(package, sources) != renamed


def test_code_digest_is_the_installed_package_s_training_code():
    import molprop

    package = Path(molprop.__file__).resolve().parent
    assert code_digest() == source_digest(package)
    assert all((package / source).exists() for source in TRAINING_SOURCES)


def test_a_cpu_run_leaves_a_gpu_of_the_machine_alone(tmp_path, monkeypatch):
    """No CUDA context in CPU workers on a GPU machine: its random state is neither read nor set."""
    def started(*args):
        raise AssertionError("CUDA was started by a CPU run")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for name in ("get_rng_state", "get_rng_state_all", "set_rng_state", "set_rng_state_all"):
        monkeypatch.setattr(torch.cuda, name, started)
    checkpoint = Checkpoint(tmp_path / "member.pt", run_key("test", 2))
    with pytest.raises(Killed):
        _train(checkpoint, kill_after=2)
    resumed, _ = _train(checkpoint)
    assert len(resumed.history) == CONFIG.max_epochs


def test_the_random_state_of_the_training_device_is_saved_and_restored(monkeypatch):
    """Dropout on a GPU draws from the GPU's generator: a resumed run must continue it (MPS too)."""
    saved, restored = [], []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device: saved.append(("cuda", device)) or "c")
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device: restored.append((state, device)))
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: saved.append(("mps", None)) or "m")
    monkeypatch.setattr(torch.mps, "set_rng_state", lambda state: restored.append((state, None)))
    gpu, mac = torch.device("cuda", 1), torch.device("mps")
    assert [checkpoint_module._device_rng(d) for d in (gpu, mac, CPU)] == ["c", "m", None]
    assert saved == [("cuda", gpu), ("mps", None)]
    checkpoint_module._set_device_rng(gpu, "c")
    checkpoint_module._set_device_rng(mac, "m")
    checkpoint_module._set_device_rng(CPU, "x")
    assert restored == [("c", gpu), ("m", None)]


def test_a_resumed_run_gets_back_the_device_state_its_checkpoint_saved(tmp_path, monkeypatch):
    restored = []
    monkeypatch.setattr(checkpoint_module, "_device_rng", lambda device: torch.full((4,), 7, dtype=torch.uint8))
    monkeypatch.setattr(checkpoint_module, "_set_device_rng", lambda device, state: restored.append((device, state)))
    checkpoint = Checkpoint(tmp_path / "member.pt", run_key("test", 3))
    with pytest.raises(Killed):
        _train(checkpoint, kill_after=2)
    _train(checkpoint)
    assert len(restored) == 1 and restored[0][0] == CPU and restored[0][1].tolist() == [7] * 4


def test_checkpoints_of_members_no_longer_trained_are_removed(tmp_path):
    for name in ("member_0.pt", "member_1.pt", "member_2.pt", "fold_0.pt", "member_3.pt.partial"):
        (tmp_path / name).write_bytes(b"x")
    removed = remove_other_checkpoints(tmp_path, ["fold_0", "member_0"])
    assert removed == ["member_1.pt", "member_2.pt", "member_3.pt.partial"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fold_0.pt", "member_0.pt"]
