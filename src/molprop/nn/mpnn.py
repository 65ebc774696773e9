"""A directed message-passing neural network (D-MPNN, Yang et al. 2019) with an MLP head.

Hidden states live on directed bonds. Bond ``u -> v`` starts from its source atom's and its
own features; at each step it receives the sum of the states of the bonds entering ``u``
except the one coming back from ``v``. Atoms then sum their incoming bond states, and the
molecule is the mean (or sum, or sum / 100) of its atom vectors, optionally concatenated with extra per-molecule
features (e.g. scaled RDKit descriptors) before the feed-forward head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from molprop.features.graph import ATOM_FDIM, BOND_FDIM, GraphBatch, MolGraph, batch_graphs
from molprop.nn.dropout import ByteDropout

READOUTS = ("mean", "sum", "norm")
NORM_DIVISOR = 100.0


@dataclass(frozen=True)
class MPNNConfig:
    """Architecture of :class:`MPNN`."""

    n_outputs: int
    hidden_size: int = 300
    depth: int = 3
    dropout: float = 0.0
    n_extra: int = 0  # per-molecule features concatenated to the graph embedding
    ffn_hidden_size: int = 300
    ffn_layers: int = 2
    readout: str = "mean"  # mean | sum | norm (sum / 100: keeps molecule size, bounded scale)
    batch_norm: bool = False  # batch-normalize the graph embedding before the head
    atom_fdim: int = ATOM_FDIM
    bond_fdim: int = BOND_FDIM


@dataclass
class GraphTensors:
    """A :class:`GraphBatch` as torch tensors on one device, plus extra molecule features."""

    atom_features: torch.Tensor
    edge_index: torch.Tensor
    edge_features: torch.Tensor
    rev_edge_index: torch.Tensor
    atom_to_mol: torch.Tensor
    n_mols: int
    extra: torch.Tensor | None = None

    @classmethod
    def from_batch(cls, batch: GraphBatch, extra: np.ndarray | None,
                   device: torch.device) -> "GraphTensors":
        """Tensors of ``batch`` (and ``extra``, (n_mols, n_extra)) on ``device``."""
        def put(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(array, dtype=dtype, device=device)

        return cls(put(batch.atom_features, torch.float32), put(batch.edge_index, torch.long),
                   put(batch.edge_features, torch.float32), put(batch.rev_edge_index, torch.long),
                   put(batch.atom_to_mol, torch.long), int(len(batch.n_atoms)),
                   None if extra is None else put(extra, torch.float32))


class MPNN(nn.Module):
    """Directed (bond-centred) message passing, a mean, sum or norm readout of the atoms, MLP head."""

    def __init__(self, config: MPNNConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden_size
        self.w_in = nn.Linear(config.atom_fdim + config.bond_fdim, hidden, bias=False)
        self.w_message = nn.Linear(hidden, hidden, bias=False)
        self.w_atom = nn.Linear(config.atom_fdim + hidden, hidden)
        self.dropout = ByteDropout(config.dropout)
        if config.readout not in READOUTS:
            raise ValueError(f"readout {config.readout!r}: use one of {READOUTS}")
        self.norm = nn.BatchNorm1d(hidden) if config.batch_norm else nn.Identity()
        layers: list[nn.Module] = []
        width = hidden + config.n_extra
        for _ in range(config.ffn_layers - 1):
            layers += [ByteDropout(config.dropout), nn.Linear(width, config.ffn_hidden_size), nn.ReLU()]
            width = config.ffn_hidden_size
        layers += [ByteDropout(config.dropout), nn.Linear(width, config.n_outputs)]
        self.head = nn.Sequential(*layers)

    def embed(self, graph: GraphTensors) -> torch.Tensor:
        """(n_mols, hidden_size [+ n_extra]) molecule embeddings."""
        source, target = graph.edge_index[0], graph.edge_index[1]
        n_atoms = graph.atom_features.shape[0]
        h0 = self.w_in(torch.cat([graph.atom_features[source], graph.edge_features], dim=1))
        h = torch.relu(h0)
        for _ in range(self.config.depth - 1):
            incoming = torch.zeros(n_atoms, h.shape[1], dtype=h.dtype, device=h.device)
            incoming.index_add_(0, target, h)
            message = incoming[source] - h[graph.rev_edge_index]
            h = self.dropout(torch.relu(h0 + self.w_message(message)))
        atom_message = torch.zeros(n_atoms, h.shape[1], dtype=h.dtype, device=h.device)
        atom_message.index_add_(0, target, h)
        atoms = self.dropout(torch.relu(self.w_atom(torch.cat([graph.atom_features, atom_message], 1))))
        sums = torch.zeros(graph.n_mols, atoms.shape[1], dtype=atoms.dtype, device=atoms.device)
        sums.index_add_(0, graph.atom_to_mol, atoms)
        if self.config.readout == "mean":
            counts = torch.bincount(graph.atom_to_mol, minlength=graph.n_mols).clamp(min=1)
            molecules = sums / counts.unsqueeze(1).to(sums.dtype)
        else:
            molecules = sums / (NORM_DIVISOR if self.config.readout == "norm" else 1.0)
        molecules = self.norm(molecules)
        if graph.extra is not None:
            molecules = torch.cat([molecules, graph.extra], dim=1)
        return molecules

    def forward(self, graph: GraphTensors) -> torch.Tensor:
        """Raw outputs per molecule: scaled regression values or class logits."""
        return self.head(self.embed(graph))


class GraphInputs:
    """Molecular graphs (and optional extra per-molecule features) batched for :class:`MPNN`;
    the ``Inputs`` that :func:`molprop.nn.training.fit` and ``predict`` take."""

    def __init__(self, graphs: Sequence[MolGraph], extra: np.ndarray | None = None) -> None:
        if extra is not None and len(extra) != len(graphs):
            raise ValueError(f"{len(graphs)} graphs but {len(extra)} rows of extra features")
        self.graphs = list(graphs)
        self.extra = None if extra is None else np.asarray(extra, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.graphs)

    def batch(self, index: np.ndarray, device: torch.device) -> GraphTensors:
        """The molecules ``index`` as one disconnected graph on ``device``."""
        batch = batch_graphs([self.graphs[i] for i in index])
        return GraphTensors.from_batch(batch, None if self.extra is None else self.extra[index], device)
