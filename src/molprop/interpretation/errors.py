"""Error analysis: which test molecules a model got most wrong, and what the training data
held that resembles them (scaffold, nearest neighbour, its similarity and measured value)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd
from rdkit import Chem, DataStructs

from molprop.schema import MOL_ID, SMILES, TARGET
from molprop.splits.chem import morgan_fingerprints, murcko_scaffolds


def _errors(predictions: pd.DataFrame, model: str) -> pd.DataFrame:
    return pd.DataFrame({
        MOL_ID: predictions[MOL_ID], SMILES: predictions[SMILES], "measured": predictions[TARGET],
        "predicted": predictions[model], "error": predictions[f"{model}_error"],
    })


def worst_predictions(predictions: pd.DataFrame, model: str, n: int) -> pd.DataFrame:
    """The ``n`` largest errors of ``model``: mol_id, smiles, measured, predicted, error."""
    table = _errors(predictions, model)
    return table.sort_values(["error", MOL_ID], ascending=[False, True], ignore_index=True).head(n)


CLASS_COLUMNS = ("measured", "predicted", "neighbour_measured")


def with_class_labels(table: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """``table`` with the class indices of its measured / predicted columns replaced by the
    class labels (no neighbour: left blank); unchanged for regression (no ``classes``)."""
    if not classes:
        return table
    out = table.copy()
    for column in (c for c in CLASS_COLUMNS if c in out):
        out[column] = [None if pd.isna(v) else str(classes[int(v)]) for v in out[column]]
    return out


def typical_predictions(predictions: pd.DataFrame, model: str, n: int,
                        exclude: Sequence[str] = ()) -> pd.DataFrame:
    """The ``n`` molecules whose error is closest to the median error of ``model`` over all
    of ``predictions``, leaving out the mol_ids ``exclude`` (those drawn already)."""
    table = _errors(predictions, model)
    table["_distance"] = (table["error"] - table["error"].median()).abs()
    table = table[~table[MOL_ID].isin(list(exclude))]
    table = table.sort_values(["_distance", MOL_ID], ignore_index=True).head(n)
    return table.drop(columns="_distance")


class TrainingNeighbours:
    """The non-test molecules (training and validation), searchable by Tanimoto similarity
    (Morgan radius 2, 2048 bits, as in the split stage's similarity report) and by
    Bemis-Murcko scaffold."""

    def __init__(self, mols: Sequence[Chem.Mol], table: pd.DataFrame) -> None:
        """``table`` holds mol_id, smiles, y and split of ``mols`` (same order)."""
        if len(mols) != len(table) or len(mols) == 0:
            raise ValueError(f"{len(mols)} reference molecules for {len(table)} table rows; need >= 1")
        self.table = table.reset_index(drop=True)
        self.fingerprints = morgan_fingerprints(mols)
        self.scaffold_counts = Counter(murcko_scaffolds(mols))

    def describe(self, errors: pd.DataFrame, mols: Sequence[Chem.Mol]) -> pd.DataFrame:
        """``errors`` (rows of worst/typical_predictions for ``mols``) with the scaffold, how
        many non-test molecules share it, and the nearest non-test molecule: its mol_id,
        smiles, Tanimoto similarity, measured value and split part."""
        scaffolds = murcko_scaffolds(mols)
        nearest, similarity = [], []
        for fp in morgan_fingerprints(mols):
            sims = np.asarray(DataStructs.BulkTanimotoSimilarity(fp, self.fingerprints))
            nearest.append(int(np.argmax(sims)))  # first of equally similar molecules
            similarity.append(float(sims.max()))
        hit = self.table.iloc[nearest].reset_index(drop=True)
        # similarity 0: no Morgan environment in common with any of them (a lone [Xe]), no neighbour
        hit = hit.where(pd.Series(similarity) > 0)
        out = errors.reset_index(drop=True).copy()
        out["scaffold"] = scaffolds
        out["n_nontest_same_scaffold"] = [self.scaffold_counts.get(s, 0) for s in scaffolds]  # "" = acyclic
        out["neighbour_id"] = hit[MOL_ID]
        out["neighbour_smiles"] = hit[SMILES]
        out["neighbour_similarity"] = similarity
        out["neighbour_measured"] = hit[TARGET]
        out["neighbour_split"] = hit["split"]
        return out
