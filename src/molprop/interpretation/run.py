"""From the pipeline's tables to the interpretation results: the baseline's global feature
importance, and per model the worst and typical test molecules with their explanations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from molprop.errors import UserInputError
from molprop.features.graph import MolGraph
from molprop.interpretation.drawing import similarity_map_png
from molprop.interpretation.errors import TrainingNeighbours, typical_predictions, worst_predictions
from molprop.interpretation.explain import MoleculeExplanation, common_scale, explain_saved
from molprop.interpretation.morgan_bits import BitExample, bit_substructures
from molprop.interpretation.baseline_model import SklearnModel, direction_of, direction_signs, predicted_classes
from molprop.interpretation.baseline_shap import ShapExplanation, baseline_shap, shap_importance
from molprop.interpretation.member_shap import treeshap_seconds
from molprop.interpretation.permutation import (PermutationConfig, affordable_molecules, budgeted_shap_config,
                                                permutation_importance, row_seconds)
from molprop.schema import MOL_ID, ROW, SMILES, SPLIT, TARGET


@dataclass(frozen=True)
class InterpretConfig:
    """The interpret params section, plus the fingerprint settings the features were made with
    (None without fingerprints)."""

    radius: int | None
    n_bits: int | None
    max_explained: int = 1000
    max_treeshap_seconds: float = 60.0
    n_top_features: int = 20
    n_top_bits: int = 10
    n_bit_examples: int = 3
    n_worst: int = 20
    n_maps_worst: int = 6
    n_maps_typical: int = 3
    ig_steps: int = 32
    seed: int = 0
    permutation: PermutationConfig = PermutationConfig()  # a dict from params.yaml is converted

    def __post_init__(self) -> None:
        if isinstance(self.permutation, dict):
            object.__setattr__(self, "permutation", PermutationConfig(**self.permutation))
        for name in ("max_explained", "n_top_features", "n_worst", "ig_steps", "n_bit_examples"):
            if getattr(self, name) < 1:
                raise UserInputError(f"interpret.{name} must be >= 1, got {getattr(self, name)}")
        if not self.max_treeshap_seconds > 0:
            raise UserInputError(f"interpret.max_treeshap_seconds must be > 0, got {self.max_treeshap_seconds}")
        if self.n_maps_worst > self.n_worst:
            raise UserInputError(f"interpret.n_maps_worst ({self.n_maps_worst}) must not exceed n_worst ({self.n_worst})")


@dataclass
class Molecules:
    """Every validated molecule, aligned with data/validated.parquet (and its features, split
    and graphs), looked up by mol_id."""

    mols: list[Chem.Mol]
    table: pd.DataFrame  # mol_id, row, smiles, y, split
    features: pd.DataFrame
    graphs: list[MolGraph] | None

    def rows(self, mol_ids: Sequence[str]) -> np.ndarray:
        index = pd.Index(self.table[MOL_ID])
        rows = index.get_indexer(list(mol_ids))
        if (rows < 0).any():
            missing = [m for m, r in zip(mol_ids, rows) if r < 0][:3]
            raise UserInputError(f"data/predictions.parquet has molecules {missing} not in data/validated.parquet; "
                             "re-run `dvc repro`")
        return rows

    def neighbours(self) -> TrainingNeighbours:
        """Search over the non-test molecules (every part but test)."""
        learned = np.flatnonzero(self.table[SPLIT].to_numpy() != "test")
        return TrainingNeighbours([self.mols[i] for i in learned], self.table.iloc[learned])

    def learned_features(self) -> pd.DataFrame:
        """Feature rows of the non-test molecules (every part but test): the
        reference of linear SHAP and the background of permutation SHAP."""
        return self.features.iloc[np.flatnonzero(self.table[SPLIT].to_numpy() != "test")]


@dataclass
class GlobalImportance:
    """Importance per feature over the explained test molecules (columns feature, importance,
    direction, method, label; ``method``: TreeSHAP, linear SHAP or permutation importance), the
    substructures behind the top fingerprint positions, how many molecules were explained
    and what the importance measures (``measure``) of which output (``output_name``)."""

    importance: pd.DataFrame
    bits: dict[int, list[BitExample]]
    n_explained: int
    method: str
    measure: str
    output_name: str
    shap: ShapExplanation | None = None  # per-molecule SHAP values (not for permutation importance)
    rows: np.ndarray | None = None  # the explained molecules (rows of Molecules)
    n_test: int = 0  # test molecules there were to explain
    sampled_by: str = ""  # why fewer were explained: the limiting param and its reason
    direction_of: str | None = None  # what a + direction raises (None: no direction, 3+ classes)

    @property
    def explained(self) -> str:
        """How many test molecules were explained, and why not all of them when not."""
        if self.n_explained >= self.n_test:
            return f"{self.n_explained} test molecules"
        return f"a seeded sample of {self.n_explained} of {self.n_test} test molecules ({self.sampled_by})"

    def shap_of(self, rows: np.ndarray) -> ShapExplanation | None:
        """The SHAP values of molecules ``rows`` when all of them were explained, else None."""
        if self.shap is None or self.rows is None:
            return None
        positions = pd.Index(self.rows).get_indexer(rows)
        return None if (positions < 0).any() else self.shap.take(positions)


def baseline_importance(model: SklearnModel, data: Molecules, test_ids: Sequence[str],
                        config: InterpretConfig) -> GlobalImportance:
    """Feature importance of the baseline on the test molecules (a seeded sample of
    ``max_explained`` when there are more, ``permutation.max_molecules`` for permutation
    importance): mean |SHAP| for trees and linear models, permutation importance for any
    other kind. The substructures behind the top fingerprint positions (the ``n_top_bits``
    most important ones, and any among the top features) label those features."""
    rows = data.rows(test_ids)
    n_test = len(rows)
    limit, sampled_by = config.max_explained, f"interpret.max_explained {config.max_explained}"
    if model.kind == "permutation" and config.permutation.max_molecules < limit:
        limit = config.permutation.max_molecules
        sampled_by = f"interpret.permutation.max_molecules {limit}"
    affordable = affordable_molecules(model, config.permutation) if model.kind == "permutation" else None
    if affordable is not None and affordable < limit:
        limit = affordable
        sampled_by = (f"each shuffled row is estimated at {row_seconds(model) * 1e3:.2g} ms from the number of "
                      f"fingerprints the k-NN compares it with; interpret.permutation.max_seconds "
                      f"{config.permutation.max_seconds:g}")
    if model.kind == "tree":
        per_molecule = sum(treeshap_seconds(estimator) for estimator, _ in model.members)
        affordable = max(1, int(config.max_treeshap_seconds // per_molecule))
        if affordable < limit:
            limit = affordable
            sampled_by = (f"TreeSHAP of this model is estimated at {per_molecule:.2g} s per molecule from "
                          f"its trees' sizes; interpret.max_treeshap_seconds {config.max_treeshap_seconds:g}")
    if len(rows) > limit:
        rows = np.sort(np.random.default_rng(config.seed).choice(rows, limit, replace=False))
    frame = data.features.iloc[rows]
    shap = None
    if model.kind == "permutation":
        importance = permutation_importance(model, frame, predicted_classes(model, frame), config.permutation,
                                            config.seed)
        measure = "mean |change| when shuffled"
    else:
        shap = baseline_shap(model, frame, data.learned_features())
        importance = shap_importance(shap, direction_signs(model, shap.explained_class, len(frame)))
        measure = "mean |SHAP|"
    importance["method"] = model.method
    fingerprint = importance["feature"].str.startswith("fp_")
    top_bits = sorted(set(importance["feature"][fingerprint].head(config.n_top_bits))
                      | set(importance["feature"][fingerprint & (importance.index < config.n_top_features)]))
    bits = bit_substructures(data.mols, [int(f[3:]) for f in top_bits], config.radius, config.n_bits) \
        if top_bits else {}
    labels = []
    for feature in importance["feature"]:
        examples = bits.get(int(feature[3:]), []) if feature.startswith("fp_") else []
        more = f" +{len(examples) - 1}" if len(examples) > 1 else ""
        labels.append(f"{feature}: {examples[0].smiles}{more}" if examples else feature)
    importance["label"] = labels
    return GlobalImportance(importance, bits, len(rows), model.method, measure, model.output_name(), shap, rows,
                            n_test, sampled_by, direction_of(model))


@dataclass
class ModelExplanations:
    """One model's worst predictions (with neighbours) and the explained molecules: their
    error rows, kind ("worst" / "typical"), explanations and map pictures (one colour scale)."""

    worst: pd.DataFrame
    chosen: pd.DataFrame
    explanations: list[MoleculeExplanation]
    pictures: list[bytes]
    scale: float
    permutation: PermutationConfig | None = None  # permutation SHAP's settings, as cut to its time budget


@dataclass
class MapRequest:
    """What a model's atom-contribution maps need: its worst predictions (with neighbours),
    the molecules chosen for maps and their inputs. Small (a few molecules), so it can be
    sent to another process."""

    worst: pd.DataFrame
    chosen: pd.DataFrame
    rows: np.ndarray  # rows of Molecules
    mols: list[Chem.Mol]
    features: pd.DataFrame
    graphs: list[MolGraph] | None
    classes: list[int] | None  # the class explained per molecule (classification)


def choose_for_maps(name: str, predictions: pd.DataFrame, data: Molecules, neighbours: TrainingNeighbours,
                    task: str, config: InterpretConfig) -> MapRequest:
    """Model ``name``'s worst predictions described with their training neighbours, and the
    worst and typical test molecules its maps explain."""
    worst = worst_predictions(predictions, name, config.n_worst)
    described = neighbours.describe(worst, [data.mols[i] for i in data.rows(worst[MOL_ID])])
    described.insert(1, ROW, data.table[ROW].to_numpy()[data.rows(worst[MOL_ID])])
    typical = typical_predictions(predictions, name, config.n_maps_typical,
                                  exclude=worst[MOL_ID].head(config.n_maps_worst))
    chosen = pd.concat([worst.head(config.n_maps_worst).assign(kind="worst"), typical.assign(kind="typical")],
                       ignore_index=True)
    rows = data.rows(chosen[MOL_ID])
    graphs = None if data.graphs is None else [data.graphs[i] for i in rows]
    classes = chosen["predicted"].astype(int).tolist() if task == "classification" else None
    return MapRequest(described, chosen, rows, [data.mols[i] for i in rows], data.features.iloc[rows], graphs,
                      classes)


def draw_maps(model: str | Path | SklearnModel, request: MapRequest, config: InterpretConfig,
              reference: pd.DataFrame | None = None, known: GlobalImportance | None = None) -> ModelExplanations:
    """Explanations and atom-contribution maps (one colour scale) of the molecules of
    ``request``. ``reference``: the non-test molecules (baseline SHAP);
    ``known``: the baseline's importance, whose SHAP values are reused when it has them."""
    permutation = config.permutation
    if isinstance(model, SklearnModel) and model.kind == "permutation" and reference is not None:
        permutation = budgeted_shap_config(model, request.features, reference, permutation, config.seed)
    explanations = explain_saved(model, request.mols, request.features, request.graphs, request.classes,
                                 config.radius, config.n_bits, config.ig_steps, reference, permutation,
                                 config.seed, known.shap_of(request.rows) if known is not None else None)
    scale = common_scale(explanations)
    pictures = [similarity_map_png(mol, np.zeros(mol.GetNumAtoms()) if e.atoms is None else e.atoms, scale)
                for mol, e in zip(request.mols, explanations)]
    return ModelExplanations(request.worst, request.chosen, explanations, pictures, scale, permutation)


def molecule_table(validated: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """mol_id, row, smiles, y and split part of every validated molecule."""
    return validated[[MOL_ID, ROW, SMILES, TARGET]].assign(**{SPLIT: split[SPLIT].to_numpy()})
