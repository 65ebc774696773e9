"""Reading the pipeline's intermediate tables and checking that they line up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from molprop.errors import UserInputError
from molprop.schema import MOL_ID, SPLIT_SETTINGS_KEY


def read_aligned(*paths: str | Path, columns: dict[str, list[str]] | None = None) -> list[pd.DataFrame]:
    """Read parquet tables that must be row-aligned on ``mol_id``; error if they are not.

    ``columns`` optionally restricts what is read from a given path.
    """
    columns = columns or {}
    frames = [pd.read_parquet(p, columns=columns.get(str(p))) for p in paths]
    reference = frames[0][MOL_ID].to_numpy()
    for path, frame in zip(paths[1:], frames[1:]):
        if MOL_ID in frame and not (len(frame) == len(reference) and (frame[MOL_ID].to_numpy() == reference).all()):
            raise UserInputError(
                f"{path} is not row-aligned with {paths[0]} (mol_id differs); re-run `dvc repro`."
            )
    return frames


def class_names(validated: pd.DataFrame, task: str) -> list[str]:
    """Class labels in class-index order (classification), or [] for regression."""
    from molprop.schema import LABEL, TARGET

    if task != "classification":
        return []
    pairs = validated[[TARGET, LABEL]].drop_duplicates().sort_values(TARGET)
    if pairs[TARGET].tolist() != list(range(len(pairs))):
        raise UserInputError("data/validated.parquet: class indices are not 0..K-1 with one label each")
    return pairs[LABEL].astype(str).tolist()


def recorded_settings(path: str | Path, key: bytes) -> dict[str, Any] | None:
    """The settings a stage recorded under ``key`` in the metadata of the Parquet file
    ``path`` (``molprop.schema``'s ``*_SETTINGS_KEY``), or None for a file without them."""
    import pyarrow.parquet as pq

    found = (pq.read_schema(path).metadata or {}).get(key)
    return json.loads(found) if found else None


def split_settings(path: str | Path) -> dict[str, Any] | None:
    """The settings the split stage wrote into ``path`` (data/split.parquet), or None."""
    return recorded_settings(path, SPLIT_SETTINGS_KEY)
