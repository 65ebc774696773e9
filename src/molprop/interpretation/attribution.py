"""Integrated gradients (Sundararajan et al. 2017) of a saved PyTorch model, with autograd.

The baseline input: the same graph with every atom and bond feature zero, and the
per-molecule features at their training medians (through the network's own scaling, so the
baseline means the same whatever the descriptor scaling; fingerprint positions are then
mostly absent). Graph networks (D-MPNN) get a contribution per atom (a
bond's contribution is split between its two atoms) and per extra per-molecule feature
column; feature networks (MLP) per input column. Contributions are in target units
(regression) or probability of the explained class (classification); atoms + features sum
to ``output - baseline_output`` up to the integration error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molprop.features.graph import MolGraph, batch_graphs
from molprop.models.predictor import load_member
from molprop.models.store import load_card


@dataclass
class Attribution:
    """One molecule's contributions: per atom (graph networks; None for feature networks)
    and per input feature column (the extra per-molecule features of a graph network, every
    input of a feature network), with the explained output and its value at the baseline."""

    atoms: np.ndarray | None
    features: np.ndarray
    output: float
    baseline_output: float


def _in_target_units(raw, target_scale: tuple[float, float] | None):
    """A regression network's raw output per row in target units."""
    mean, std = (0.0, 1.0) if target_scale is None else target_scale
    return raw[:, 0] * std + mean


def _graph_member(model, graph: MolGraph, extra: np.ndarray | None, reference: np.ndarray, steps: int,
                  explain) -> Attribution:
    import torch

    from molprop.nn.mpnn import GraphTensors

    alphas = torch.cat([(torch.arange(steps, dtype=torch.float32) + 0.5) / steps, torch.tensor([0.0, 1.0])])
    copies = len(alphas)
    batch = batch_graphs([graph] * copies)
    extra_rows = None if extra is None else np.repeat(extra[None, :], copies, axis=0)
    tensors = GraphTensors.from_batch(batch, extra_rows, torch.device("cpu"))
    n_edges = 2 * graph.n_bonds
    atom_scale = alphas.repeat_interleave(graph.n_atoms)[:, None]
    edge_scale = alphas.repeat_interleave(n_edges)[:, None]
    atoms_in, edges_in = tensors.atom_features, tensors.edge_features
    tensors.atom_features = (atom_scale * atoms_in).requires_grad_()
    tensors.edge_features = (edge_scale * edges_in).requires_grad_()
    extra_in = tensors.extra
    if extra_in is not None:
        start = torch.as_tensor(reference, dtype=torch.float32)[None, :]
        extra_in = extra_in - start  # the path runs from the reference to the molecule's values
        tensors.extra = (start + alphas[:, None] * extra_in).requires_grad_()
    out = explain(model(tensors))
    out[:steps].sum().backward()
    grad_atoms = tensors.atom_features.grad[: steps * graph.n_atoms].view(steps, graph.n_atoms, -1).mean(0)
    atoms = (atoms_in[: graph.n_atoms] * grad_atoms).sum(1).double().numpy()
    if n_edges:
        grad_edges = tensors.edge_features.grad[: steps * n_edges].view(steps, n_edges, -1).mean(0)
        per_edge = (edges_in[:n_edges] * grad_edges).sum(1).double().numpy()
        ends = batch.edge_index[:, :n_edges]  # directed edge -> (source, target), half to each
        np.add.at(atoms, ends[0], per_edge / 2)
        np.add.at(atoms, ends[1], per_edge / 2)
    features = np.zeros(0)
    if extra_in is not None:
        features = (extra_in[0] * tensors.extra.grad[:steps].mean(0)).double().numpy()
    return Attribution(atoms, features, float(out[-1].detach()), float(out[-2].detach()))


def _feature_member(model, x: np.ndarray, reference: np.ndarray, steps: int, explain) -> Attribution:
    import torch

    alphas = torch.cat([(torch.arange(steps, dtype=torch.float32) + 0.5) / steps, torch.tensor([0.0, 1.0])])
    start = torch.as_tensor(reference[None, :], dtype=torch.float32)
    row = torch.as_tensor(x[None, :], dtype=torch.float32) - start
    scaled = (start + alphas[:, None] * row).requires_grad_()
    out = explain(model(scaled))
    out[:steps].sum().backward()
    values = (row[0] * scaled.grad[:steps].mean(0)).double().numpy()
    return Attribution(None, values, float(out[-1].detach()), float(out[-2].detach()))


def integrated_gradients(model_dir: str | Path, features: pd.DataFrame, graphs: Sequence[MolGraph] | None,
                         classes: Sequence[int] | None = None,
                         steps: int = 32) -> tuple[list[str], list[Attribution]]:
    """Integrated gradients of every molecule (row of ``features``, and ``graphs`` for graph
    networks), averaged over the model's members, with the names of the per-molecule feature
    columns; ``classes`` is the class explained per molecule (classification only). CPU only,
    so repeated runs give identical numbers."""
    from molprop.nn.device import one_cpu_thread

    with one_cpu_thread():  # machine-independent numbers, and far faster than threads on busy cores
        return _integrated_gradients(Path(model_dir), features, graphs, classes, steps)


def _integrated_gradients(model_dir: Path, features: pd.DataFrame, graphs: Sequence[MolGraph] | None,
                          classes: Sequence[int] | None, steps: int) -> tuple[list[str], list[Attribution]]:
    import torch

    from molprop.nn.training import class_probabilities

    card = load_card(model_dir)
    if card.kind != "torch":
        raise ValueError(f"{model_dir}: integrated gradients need a PyTorch model, not {card.kind!r}")
    classification = card.task == "classification"
    if classification and (classes is None or len(classes) != len(features)):
        raise ValueError("classification: give the class to explain for every molecule")
    per_member: list[list[Attribution]] = []
    columns: list[str] | None = None
    for member in card.members:
        loaded = load_member(model_dir, card, member)  # a damaged file: a UserInputError naming it
        model, kind, prep, target_scale = loaded.model.eval(), loaded.kind, loaded.prep, loaded.target_scale
        if columns is not None and prep.columns != columns:
            raise ValueError(f"{model_dir}/{member} uses other feature columns than the first member")
        columns = prep.columns
        reference = prep.transform(pd.DataFrame([prep.medians], columns=prep.columns))[0]
        x = prep.transform(features)
        if kind == "dmpnn" and (graphs is None or len(graphs) != len(x)):
            raise ValueError(f"{model_dir}: a graph network needs one molecular graph per molecule")
        results = []
        for i in range(len(x)):
            which = int(classes[i]) if classification else 0

            def explain(raw, which=which):  # the explained scalar per row
                return class_probabilities(raw)[:, which] if classification else _in_target_units(raw, target_scale)

            with torch.enable_grad():
                if kind == "dmpnn":
                    extra = x[i] if x.shape[1] else None
                    results.append(_graph_member(model, graphs[i], extra, reference, steps, explain))
                else:
                    results.append(_feature_member(model, x[i], reference, steps, explain))
        per_member.append(results)
    return list(columns or []), [_mean([m[i] for m in per_member]) for i in range(len(features))]


def _mean(members: list[Attribution]) -> Attribution:
    """The ensemble's attribution: the mean of its members' (the ensemble is their mean)."""
    atoms = None if members[0].atoms is None else np.mean([m.atoms for m in members], axis=0)
    return Attribution(atoms, np.mean([m.features for m in members], axis=0),
                       float(np.mean([m.output for m in members])),
                       float(np.mean([m.baseline_output for m in members])))
