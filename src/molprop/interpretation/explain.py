"""Per-molecule explanations of either model in one form: contributions mapped onto atoms
where the model's inputs allow it, the rest summed and listed by feature.

Fingerprint columns ``fp_<i>`` a molecule sets are mapped onto the atoms of the environments
that set them (:mod:`molprop.interpretation.morgan_bits`), descriptors that are sums over
atoms (TPSA, logP, ...) onto their atoms in proportion to each atom's term
(:mod:`molprop.interpretation.descriptor_atoms`); graph networks add their own per-atom
contributions. Fingerprint positions a molecule does not set, and the other descriptors,
are "other" contributions: real effects on the output that belong to no atom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from molprop.features.graph import MolGraph

from molprop.interpretation.baseline_model import SklearnModel
from molprop.interpretation.baseline_shap import ShapExplanation, baseline_shap
from molprop.interpretation.descriptor_atoms import ATOM_TERMS, descriptor_shares
from molprop.interpretation.morgan_bits import atom_weights
from molprop.interpretation.permutation import PermutationConfig
from molprop.models.matrix import FEATURE_GROUPS
from molprop.models.store import load_card, read_model_json

FP_PREFIX = FEATURE_GROUPS["morgan"]
DESC_PREFIX = FEATURE_GROUPS["descriptors"]


@dataclass
class MoleculeExplanation:
    """``base + atoms.sum() + other_total == output`` (up to integration error for networks).

    ``atoms`` is None when nothing could be mapped onto atoms (a descriptor-only model).
    ``top_other`` lists the largest "other" contributions as (feature, value).
    """

    base: float
    output: float
    atoms: np.ndarray | None
    other_total: float
    top_other: list[tuple[str, float]] = field(default_factory=list)

    @property
    def atoms_total(self) -> float:
        return 0.0 if self.atoms is None else float(self.atoms.sum())


def explain_molecule(mol: Chem.Mol, columns: Sequence[str], contributions: np.ndarray,
                     raw_values: np.ndarray, base: float, output: float, radius: int, n_bits: int,
                     graph_atoms: np.ndarray | None = None, n_top_other: int = 3) -> MoleculeExplanation:
    """Split one molecule's per-feature ``contributions`` (aligned with ``columns``; feature
    values ``raw_values`` as in data/features.parquet) into atom weights and the rest, adding
    ``graph_atoms`` (per-atom contributions of a graph network) when given. Mapped onto atoms:
    the fingerprint positions the molecule sets, and the descriptors that are sums over atoms
    (:mod:`molprop.interpretation.descriptor_atoms`)."""
    contributions = np.asarray(contributions, dtype=np.float64)
    raw_values = np.asarray(raw_values, dtype=np.float64)
    atoms = np.zeros(mol.GetNumAtoms()) if graph_atoms is None else np.asarray(graph_atoms, np.float64).copy()
    mapped = np.zeros(len(columns), dtype=bool)
    bit_values = {}
    for j, column in enumerate(columns):
        if column.startswith(FP_PREFIX) and np.isfinite(raw_values[j]) and raw_values[j] > 0:
            bit_values[int(column[len(FP_PREFIX):])] = float(contributions[j])
            mapped[j] = True
        elif column.startswith(DESC_PREFIX):
            shares = descriptor_shares(mol, column[len(DESC_PREFIX):])
            if shares is not None:
                atoms += contributions[j] * shares
                mapped[j] = True
    if bit_values:
        atoms += atom_weights(mol, bit_values, radius, n_bits)
    other = ~mapped
    order = np.argsort(-np.abs(np.where(other, contributions, 0.0)), kind="stable")[:n_top_other]
    top = [(str(columns[j]), float(contributions[j])) for j in order if other[j] and contributions[j] != 0]
    any_atoms = graph_atoms is not None or mapped.any()
    return MoleculeExplanation(float(base), float(output), atoms if any_atoms else None,
                               float(contributions[other].sum()), top)


def common_scale(explanations: Sequence[MoleculeExplanation]) -> float:
    """The largest |atom weight| over the explanations: one colour scale for their maps."""
    peaks = [float(np.abs(e.atoms).max()) for e in explanations if e.atoms is not None and len(e.atoms)]
    return max(peaks, default=0.0)


def explain_saved(model: str | Path | SklearnModel, mols: Sequence[Chem.Mol], features: pd.DataFrame,
                  graphs: Sequence[MolGraph] | None, classes: Sequence[int] | None, radius: int,
                  n_bits: int, ig_steps: int = 32, reference: pd.DataFrame | None = None,
                  permutation: PermutationConfig | None = None, seed: int = 0,
                  shap: ShapExplanation | None = None) -> list[MoleculeExplanation]:
    """Explanations of a saved model (a directory, or a baseline loaded with
    :func:`~molprop.interpretation.baseline_model.load_sklearn_model`) for ``mols`` (rows of
    ``features`` and ``graphs``): SHAP values of a scikit-learn baseline (exact for trees and
    linear models, permutation estimates otherwise; ``reference``: the molecules it learned
    from), integrated gradients of a PyTorch network. ``classes``: the class explained per
    molecule (classification: the predicted class; a baseline explains its own prediction).
    ``shap``: the baseline's SHAP values of exactly these molecules, when already computed."""
    if isinstance(model, SklearnModel) or load_card(Path(model)).kind == "sklearn":
        if shap is None:
            shap = baseline_shap(model, features, reference, permutation, seed)
        raw = features[shap.columns].to_numpy(dtype=np.float64)
        return [explain_molecule(mol, shap.columns, shap.values[i], raw[i], shap.base[i], shap.output[i],
                                 radius, n_bits) for i, mol in enumerate(mols)]
    from molprop.interpretation.attribution import integrated_gradients

    columns, attributions = integrated_gradients(model, features, graphs, classes, ig_steps)
    raw = features[columns].to_numpy(dtype=np.float64) if columns else np.zeros((len(mols), 0))
    return [explain_molecule(mol, columns, a.features, raw[i], a.baseline_output, a.output, radius, n_bits,
                             graph_atoms=a.atoms) for i, (mol, a) in enumerate(zip(mols, attributions))]


def _baseline_how(model: SklearnModel, permutation: PermutationConfig) -> tuple[str, str]:
    """(how the values are computed, what their base is) for a scikit-learn baseline."""
    members = " averaged over the members" if len(model.members) > 1 else ""
    if model.kind == "tree":
        estimator = model.members[0][0]
        # a forest's trees store class-weighted node sizes, which TreeSHAP averages over;
        # gradient boosting's store plain counts, whatever weights it was fitted with
        balanced = (model.classification and getattr(estimator, "class_weight", None) == "balanced"
                    and hasattr(estimator, "estimators_"))
        weighted = (", each class weighted equally (the model was fitted with balanced class weights, "
                    "so this is not the share of a class among them)") if balanced else ""
        return (f"Exact TreeSHAP values of the {model.name}{members}",
                f"the {model.name}'s mean output over its training molecules{weighted}")
    if model.kind == "linear":
        return (f"Exact linear SHAP values of the {model.name}{members}: per feature, its coefficient x "
                "(input - mean input over the non-test molecules), on the model's own imputed and "
                "standardized inputs", "the mean output over the non-test molecules")
    return (f"Shapley values of the {model.name} estimated by permutation sampling (permutation SHAP, "
            f"model-agnostic: {permutation.n_permutations} seeded feature orderings, each run forward and "
            "reverse; they add up exactly, but are estimates)",
            f"the mean output over {permutation.n_background} non-test molecules (seeded sample)")


def _network_kind(directory: Path) -> str:
    """dmpnn or mlp: the architecture of a saved network's first member."""
    card = load_card(directory)
    return read_model_json(directory / card.members[0] / "network.json").get("kind", "dmpnn")


def method_note(model: str | Path | SklearnModel, ig_steps: int,
                permutation: PermutationConfig | None = None) -> str:
    """How the explanations of a saved model are computed, for a reader of the maps."""
    sklearn = isinstance(model, SklearnModel) or load_card(Path(model)).kind == "sklearn"
    if sklearn:
        from molprop.interpretation.baseline_model import load_sklearn_model

        loaded = model if isinstance(model, SklearnModel) else load_sklearn_model(model)
        how, baseline = _baseline_how(loaded, permutation or PermutationConfig())
    else:
        how = f"Integrated gradients of the network ({ig_steps} steps from the baseline input)"
    reads_graph = not sklearn and _network_kind(Path(model)) != "mlp"
    if reads_graph:
        baseline = ("the network's output for a featureless graph of the same shape (all atom and "
                    "bond features zero) with the per-molecule features at their training medians")
    elif not sklearn:  # an MLP reads the feature groups alone
        baseline = "the network's output for the per-molecule features at their training medians"
    card = model.card if isinstance(model, SklearnModel) else load_card(Path(model))
    return f"{how}. {_colour_note(reads_graph, set(card.feature_groups))} Baseline: {baseline}."


def _colour_note(reads_graph: bool, groups: set[str]) -> str:
    """What the atom colours and "Other" hold for a model reading the graph (or not) and the
    feature ``groups`` it was trained on."""
    mapped, other = [], []
    if reads_graph:
        mapped.append("each atom's own contribution when the network reads the molecular graph (a bond's "
                      "contribution split between its two atoms)")
    if "morgan" in groups:
        mapped.append("each fingerprint position the molecule sets, split evenly over the atoms of the "
                      "environments that set it")
        other.append("the fingerprint positions the molecule lacks")
    if "descriptors" in groups:
        mapped.append(f"the descriptors that are sums over atoms ({', '.join(sorted(ATOM_TERMS))}), in "
                      "proportion to each atom's term")
        other.insert(0, "the remaining descriptors")
    note = f"Atom colours add up: {'; '.join(mapped)}." if mapped else "No contribution maps onto atoms."
    return note + (f" Other: {' and '.join(other)}." if other else "")
