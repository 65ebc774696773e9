"""AdamW whose every step is one call of torch's fused AdamW kernel, and its per-epoch
learning-rate schedule.

``torch.optim.AdamW(fused=True)`` calls the same kernel, but torch.optim's optimizers import
torch's compiler (``torch._dynamo``, ~1 s of CPU per process) when the first one is made and
on every step, for ``torch.compile`` support molprop does not use. Each process that trains
members would pay that second before its first epoch; this class holds the same state and
applies the same updates (tested bit for bit against ``torch.optim.AdamW(fused=True)``).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from molprop.nn.training_types import lr_factor


class FusedAdamW:
    """AdamW (decoupled weight decay, no AMSGrad) over ``params``; ``lr`` may be changed
    between steps (the learning-rate schedule sets it each epoch)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        if any(p.dtype.is_complex for p in self.params):
            raise ValueError("FusedAdamW does not handle complex parameters")
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        # float32 step counts on the parameter's device, as the fused kernel expects
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def zero_grad(self) -> None:
        """Drop the gradients (set to None, as torch's optimizers do by default)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient (the others keep their state)."""
        groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
        for i, p in enumerate(self.params):
            if p.grad is not None:
                groups.setdefault((p.device, p.dtype), []).append(i)
        for index in groups.values():
            steps = [self.steps[i] for i in index]
            torch._foreach_add_(steps, 1)
            torch._fused_adamw_(
                [self.params[i] for i in index], [self.params[i].grad for i in index],
                [self.exp_avg[i] for i in index], [self.exp_avg_sq[i] for i in index], [], steps,
                amsgrad=False, lr=self.lr, beta1=self.betas[0], beta2=self.betas[1],
                weight_decay=self.weight_decay, eps=self.eps, maximize=False, grad_scale=None, found_inf=None,
            )

    def state_dict(self) -> dict:
        """The moments, step counts and current learning rate (tensors on the CPU)."""
        def cpu(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
            return [t.detach().cpu().clone() for t in tensors]

        return {"lr": self.lr, "exp_avg": cpu(self.exp_avg), "exp_avg_sq": cpu(self.exp_avg_sq),
                "step": cpu(self.steps)}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` of an optimizer over parameters of the same shapes."""
        for name, own in (("exp_avg", self.exp_avg), ("exp_avg_sq", self.exp_avg_sq), ("step", self.steps)):
            saved = state[name]
            if len(saved) != len(own) or any(s.shape != o.shape for s, o in zip(saved, own)):
                raise ValueError(f"optimizer state {name!r} does not match the parameters")
            for target, value in zip(own, saved):
                target.copy_(value)
        self.lr = float(state["lr"])


class WarmupCosineSchedule:
    """Sets ``optimizer.lr`` at the start of every epoch: linear warm-up over ``warmup_epochs``,
    then cosine decay to 5% of ``base_lr`` at ``max_epochs`` (:func:`lr_factor`). Its state is
    the next epoch and the learning rate set; a checkpoint saves and restores it."""

    def __init__(self, optimizer: FusedAdamW, base_lr: float, warmup_epochs: int, max_epochs: int) -> None:
        self.optimizer = optimizer
        self.base_lr, self.warmup_epochs, self.max_epochs = base_lr, warmup_epochs, max_epochs
        self.next_epoch = 0

    def start_epoch(self, epoch: int) -> float:
        """Set and return the learning rate of ``epoch``."""
        self.optimizer.lr = self.base_lr * lr_factor(epoch, self.warmup_epochs, self.max_epochs)
        self.next_epoch = epoch + 1
        return self.optimizer.lr

    def state_dict(self) -> dict:
        """The schedule's settings, the next epoch and the learning rate last set."""
        return {"base_lr": self.base_lr, "warmup_epochs": self.warmup_epochs, "max_epochs": self.max_epochs,
                "next_epoch": self.next_epoch, "lr": self.optimizer.lr}

    def load_state_dict(self, state: dict) -> None:
        """Continue a saved schedule; one with other settings is an error."""
        saved = (state["base_lr"], state["warmup_epochs"], state["max_epochs"])
        if saved != (self.base_lr, self.warmup_epochs, self.max_epochs):
            raise ValueError(f"saved learning-rate schedule {saved} differs from "
                             f"{(self.base_lr, self.warmup_epochs, self.max_epochs)}")
        self.next_epoch = int(state["next_epoch"])
        self.optimizer.lr = float(state["lr"])
