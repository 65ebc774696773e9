"""FusedAdamW and WarmupCosineSchedule: torch.optim.AdamW(fused=True) + LambdaLR's updates
without torch.optim."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from molprop.nn.optimizer import FusedAdamW, WarmupCosineSchedule
from molprop.nn.training_types import lr_factor


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        self.unused = torch.nn.Linear(2, 2)  # never gets a gradient: it must stay untouched

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return _Net()


def _steps(model: torch.nn.Module, optimizer, set_lr, n_epochs: int = 6) -> list[float]:
    torch.manual_seed(1)
    losses = []
    for epoch in range(n_epochs):
        set_lr(epoch)
        for _ in range(3):
            x = torch.randn(7, 5)
            optimizer.zero_grad()
            loss = ((model(x) - x.sum(dim=1, keepdim=True)) ** 2).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
    return losses


def test_updates_equal_torch_fused_adamw_bit_for_bit():
    factor = lambda epoch: lr_factor(epoch, 2, 6)  # noqa: E731
    ours_model, torch_model = _model(0), _model(0)
    ours = FusedAdamW(ours_model.parameters(), lr=3e-3, weight_decay=0.01)
    reference = torch.optim.AdamW(torch_model.parameters(), lr=3e-3, weight_decay=0.01, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(reference, factor)

    def torch_lr(epoch: int) -> None:
        if epoch:
            scheduler.step()

    our_lr = WarmupCosineSchedule(ours, 3e-3, 2, 6).start_epoch
    assert _steps(ours_model, ours, our_lr) == _steps(torch_model, reference, torch_lr)
    for (name, a), b in zip(ours_model.state_dict().items(), torch_model.state_dict().values()):
        assert torch.equal(a, b), name
    assert ours.lr == reference.param_groups[0]["lr"]
    assert torch.equal(ours_model.unused.weight, _model(0).unused.weight)


def test_state_dict_round_trip_continues_identically():
    first, second = _model(0), _model(0)
    a = FusedAdamW(first.parameters(), lr=1e-2, weight_decay=0.1)
    _steps(first, a, lambda epoch: None, n_epochs=2)
    second.load_state_dict(first.state_dict())
    b = FusedAdamW(second.parameters(), lr=0.5, weight_decay=0.1)
    b.load_state_dict(a.state_dict())
    assert b.lr == 1e-2
    assert _steps(first, a, lambda epoch: None, 2) == _steps(second, b, lambda epoch: None, 2)


def test_state_of_other_parameters_is_refused():
    state = FusedAdamW(_model(0).parameters(), lr=1e-3, weight_decay=0.0).state_dict()
    with pytest.raises(ValueError, match="does not match"):
        FusedAdamW(torch.nn.Linear(3, 3).parameters(), lr=1e-3, weight_decay=0.0).load_state_dict(state)


def test_training_does_not_import_torch_compiler():
    """The point of the class: a process that trains never imports torch._dynamo (~1 s)."""
    code = ("import sys, numpy as np; from molprop.nn.mlp import MLP, MLPConfig; "
            "from molprop.nn.training import TrainConfig, fit; import torch; "
            "x = np.random.default_rng(0).normal(size=(40, 3)).astype('float32'); "
            "fit(MLP(MLPConfig(3, 1, 8, 1, 0.1)), 'regression', (x[:30], x[:30, 0]), (x[30:], x[30:, 0]), "
            "TrainConfig(max_epochs=2, batch_size=8), torch.device('cpu')); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_schedule_state_round_trip_and_mismatch():
    optimizer = FusedAdamW(_model(0).parameters(), lr=1.0, weight_decay=0.0)
    schedule = WarmupCosineSchedule(optimizer, 1e-3, 2, 10)
    rates = [schedule.start_epoch(epoch) for epoch in range(4)]
    assert rates[:3] == [5e-4, 1e-3, 1e-3] and rates[3] < 1e-3  # warm-up, then decay
    state = schedule.state_dict()
    assert state["next_epoch"] == 4 and state["lr"] == rates[-1]
    other = FusedAdamW(_model(0).parameters(), lr=1.0, weight_decay=0.0)
    resumed = WarmupCosineSchedule(other, 1e-3, 2, 10)
    resumed.load_state_dict(state)
    assert (resumed.next_epoch, other.lr) == (4, rates[-1])
    assert resumed.start_epoch(4) == schedule.start_epoch(4)
    with pytest.raises(ValueError, match="schedule"):
        WarmupCosineSchedule(other, 1e-3, 3, 10).load_state_dict(state)


def test_gradient_clipping_bounds_the_step():
    import torch
    from torch import nn
    from molprop.nn.training import fit
    from molprop.nn.training_types import TrainConfig
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 4)).astype(np.float32), rng.normal(size=32) * 100
    moved = {}
    for clip in (1e-12, 1e3):
        torch.manual_seed(0)
        model = nn.Linear(4, 1)
        start = [p.detach().clone() for p in model.parameters()]
        cfg = TrainConfig(lr=1e-2, batch_size=8, max_epochs=3, warmup_epochs=0, patience=10, weight_decay=0.0,
                          grad_clip=clip, start_from_epoch=0)
        result = fit(model, "regression", (x, y), (x[:0], y[:0]), cfg, torch.device("cpu"))
        model.load_state_dict(result.state_dict)
        moved[clip] = max(float((p.detach() - s).abs().max()) for p, s in zip(model.parameters(), start))
    assert moved[1e-12] < 1e-4 < moved[1e3]
