"""A feed-forward network on fixed-length molecular features."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from molprop.nn.dropout import ByteDropout


@dataclass(frozen=True)
class MLPConfig:
    """Architecture of :class:`MLP`."""

    n_inputs: int
    n_outputs: int
    hidden_size: int = 512
    n_layers: int = 2
    dropout: float = 0.1


class MLP(nn.Module):
    """Linear → ReLU → Dropout blocks followed by a linear output layer."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.n_inputs
        for _ in range(config.n_layers):
            layers += [nn.Linear(width, config.hidden_size), nn.ReLU(), ByteDropout(config.dropout)]
            width = config.hidden_size
        layers.append(nn.Linear(width, config.n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw outputs: scaled regression values or class logits."""
        return self.net(x)
