"""Feature matrices from data/features.parquet, with train-only imputation and scaling."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

FEATURE_GROUPS: dict[str, str] = {"morgan": "fp_", "descriptors": "desc_"}


def select_feature_columns(columns: list[str], groups: list[str]) -> list[str]:
    """Feature columns of the named groups (``morgan``, ``descriptors``), in table order; no
    groups, no columns (a graph network may use none)."""
    unknown = [g for g in groups if g not in FEATURE_GROUPS]
    if unknown:
        raise ValueError(f"Unknown feature group(s) {unknown}; choose from {sorted(FEATURE_GROUPS)}")
    prefixes = tuple(FEATURE_GROUPS[g] for g in groups)
    selected = [c for c in columns if c.startswith(prefixes)]
    if groups and not selected:
        raise ValueError(
            f"No feature columns for groups {groups} in data/features.parquet; enable them in the "
            "featurize section of params.yaml."
        )
    return selected


@dataclass
class Preprocessor:
    """Column medians (for non-finite values) and optional standardization, fitted on train."""

    columns: list[str]
    medians: list[float]
    means: list[float] | None = None
    stds: list[float] | None = None

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: list[str], scale: bool) -> "Preprocessor":
        """Fit on training rows only; ``scale`` standardizes descriptors (fingerprints stay 0/1)."""
        values = frame[columns].to_numpy(dtype=np.float64)
        values = np.where(np.isfinite(values), values, np.nan)
        medians = np.nanmedian(values, axis=0) if len(values) else np.zeros(len(columns))
        medians = np.where(np.isfinite(medians), medians, 0.0)
        if not scale:
            return cls(columns, medians.tolist())
        filled = np.where(np.isnan(values), medians, values)
        stds = filled.std(axis=0)
        stds = np.where(stds > 1e-12, stds, 1.0)
        means = filled.mean(axis=0)
        scaled = np.array([c.startswith(FEATURE_GROUPS["descriptors"]) for c in columns])
        means, stds = np.where(scaled, means, 0.0), np.where(scaled, stds, 1.0)
        return cls(columns, medians.tolist(), means.tolist(), stds.tolist())

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """float32 matrix with non-finite values replaced by train medians (and scaled)."""
        values = frame[self.columns].to_numpy(dtype=np.float64)
        values = np.where(np.isfinite(values), values, np.asarray(self.medians))
        if self.means is not None:
            values = (values - np.asarray(self.means)) / np.asarray(self.stds)
        return values.astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-serializable form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessor":
        """Inverse of :meth:`to_dict`."""
        return cls(**data)
