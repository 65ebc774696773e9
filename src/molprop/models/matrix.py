"""Feature matrices from data/features.parquet, with train-only imputation and scaling."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from molprop.errors import UserInputError

FEATURE_GROUPS: dict[str, str] = {"morgan": "fp_", "descriptors": "desc_"}


def select_feature_columns(columns: list[str], groups: list[str], key: str = "the features list") -> list[str]:
    """Feature columns of the named groups (``morgan``, ``descriptors``), in table order; no
    groups, no columns (a graph network may use none). A group without columns (its
    featurizer off) is an error naming ``key`` (the params key that lists the groups), not a
    model silently trained without it."""
    unknown = [g for g in groups if g not in FEATURE_GROUPS]
    if unknown:
        raise UserInputError(f"Unknown feature group(s) {unknown}; choose from {sorted(FEATURE_GROUPS)}")
    missing = [g for g in groups if not any(c.startswith(FEATURE_GROUPS[g]) for c in columns)]
    if missing:
        raise UserInputError(
            f"feature group(s) {missing} are listed in {key} but data/features.parquet has no columns "
            f"of them: set {' and '.join(f'featurize.{g}.enabled' for g in missing)} to true, or take them "
            f"off {key}."
        )
    prefixes = tuple(FEATURE_GROUPS[g] for g in groups)
    return [c for c in columns if c.startswith(prefixes)]


SCALINGS = ("none", "standard", "quantile")
N_QUANTILES = 201


@dataclass
class Preprocessor:
    """Column medians (for non-finite values) and optional scaling of the descriptor columns,
    fitted on train: ``standard`` (z-scores of the values clipped to their training range) or
    ``quantile`` (each value's empirical CDF on the training rows, in [0, 1]: robust to the
    heavy tails of many RDKit descriptors, like Chemprop's normalized RDKit 2D features).
    Fingerprint columns are never scaled. The clipping keeps a linear model inside what it
    was fitted on: z-scored, Ipc (which grows exponentially with size: 2e5 at most in
    FreeSolv, 8e12 for a C60 alkane) made ridge predict +463,471 kcal/mol for a C50 alkane."""

    columns: list[str]
    medians: list[float]
    means: list[float] | None = None
    stds: list[float] | None = None
    quantiles: list[list[float]] | None = None  # per column, values at N_QUANTILES levels
    lows: list[float | None] | None = None  # standard: the training range of each column, to
    highs: list[float | None] | None = None  # clip to before the z-score (fingerprints: None)
    target_center: float = 0.0  # regression: the estimator is fitted on (y - center) / scale,
    target_scale: float = 1.0  # the training targets' mean and standard deviation

    @classmethod
    def fit(cls, frame: pd.DataFrame, columns: list[str], scale: bool | str) -> "Preprocessor":
        """Fit on training rows only; ``scale``: ``none``/False, ``standard``/True or ``quantile``."""
        scaling = {False: "none", True: "standard"}.get(scale, scale)
        if scaling not in SCALINGS:
            raise UserInputError(f"feature scaling {scale!r}: use one of {SCALINGS}")
        values = frame[columns].to_numpy(dtype=np.float64)
        values = np.where(np.isfinite(values), values, np.nan)
        medians = np.nanmedian(values, axis=0) if len(values) else np.zeros(len(columns))
        medians = np.where(np.isfinite(medians), medians, 0.0)
        if scaling == "none":
            return cls(columns, medians.tolist())
        filled = np.where(np.isnan(values), medians, values)
        scaled = np.array([c.startswith(FEATURE_GROUPS["descriptors"]) for c in columns], dtype=bool)
        if scaling == "quantile":
            levels = np.linspace(0.0, 1.0, N_QUANTILES)
            q = np.quantile(filled, levels, axis=0).T if len(filled) else np.zeros((len(columns), 0))
            return cls(columns, medians.tolist(),
                       quantiles=[row.tolist() if keep else [] for row, keep in zip(q, scaled)])
        stds = filled.std(axis=0)
        stds = np.where(stds > 1e-12, stds, 1.0)
        means = filled.mean(axis=0)
        means, stds = np.where(scaled, means, 0.0), np.where(scaled, stds, 1.0)
        low, high = (filled.min(axis=0), filled.max(axis=0)) if len(filled) else (means, means)
        lows = [float(v) if keep else None for v, keep in zip(low, scaled)]
        highs = [float(v) if keep else None for v, keep in zip(high, scaled)]
        return cls(columns, medians.tolist(), means.tolist(), stds.tolist(), lows=lows, highs=highs)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """float32 matrix with non-finite values replaced by train medians (and scaled)."""
        try:
            values = frame[self.columns].to_numpy(dtype=np.float64)
        except KeyError:
            missing = [c for c in self.columns if c not in frame.columns]
            raise UserInputError(
                f"the model reads feature column(s) {missing[:3]} ({len(missing)} in all) that its featurize "
                "settings do not make: its preprocess.json is damaged, or comes from another model") from None
        values = np.where(np.isfinite(values), values, np.asarray(self.medians))
        if self.lows is not None and self.highs is not None:
            values = np.clip(values, [-np.inf if v is None else v for v in self.lows],
                             [np.inf if v is None else v for v in self.highs])
        if self.means is not None:
            values = (values - np.asarray(self.means)) / np.asarray(self.stds)
        if self.quantiles is not None:
            values = values.copy()
            for j, q in enumerate(self.quantiles):
                if q:
                    values[:, j] = empirical_cdf(values[:, j], np.asarray(q))
        return values.astype(np.float32)

    def with_target(self, y: np.ndarray) -> "Preprocessor":
        """This preprocessing, plus standardization of the regression targets ``y`` (training
        rows): the estimator then sees the same numbers whatever the target's units. A forest
        fitted on raw targets of ~1e-9 (molar) treats every node as pure (scikit-learn's
        absolute impurity threshold) and predicts one value for every molecule."""
        y = np.asarray(y, dtype=np.float64)
        center = float(y.mean()) if len(y) else 0.0
        scale = float(y.std()) if len(y) else 0.0
        if not np.isfinite(scale) or scale <= 1e-12 * max(abs(center), np.finfo(np.float64).tiny):
            scale = 1.0  # one value for every row: nothing to scale
        return replace(self, target_center=center, target_scale=scale)

    def scale_target(self, y: np.ndarray) -> np.ndarray:
        """Targets in the units the estimator is fitted on, rounded to 10 decimals: targets in
        other units (kcal or kJ, M or µM) give the same numbers, not ones a few ulp apart that
        break a forest's ties between equally good splits the other way."""
        return np.round((np.asarray(y, dtype=np.float64) - self.target_center) / self.target_scale, 10)

    def unscale_target(self, values: np.ndarray) -> np.ndarray:
        """Estimator outputs back in target units."""
        return np.asarray(values, dtype=np.float64) * self.target_scale + self.target_center

    def to_dict(self) -> dict:
        """JSON-serializable form; the target scaling only where there is one (a regression
        baseline), so a network's or a classifier's file holds no target scale it does not use."""
        data = asdict(self)
        if (self.target_center, self.target_scale) == (0.0, 1.0):
            del data["target_center"], data["target_scale"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessor":
        """Inverse of :meth:`to_dict`; ``ValueError`` when its per-column lists disagree with
        its columns (a damaged file)."""
        prep = cls(**data)
        n = len(prep.columns)
        if not all(isinstance(c, str) and c.startswith(tuple(FEATURE_GROUPS.values())) for c in prep.columns):
            raise ValueError("its columns are not all feature column names (fp_..., desc_...)")
        lists = {"medians": prep.medians, "means": prep.means, "stds": prep.stds,
                 "quantiles": prep.quantiles, "lows": prep.lows, "highs": prep.highs}
        wrong = {k: len(v) for k, v in lists.items() if v is not None and len(v) != n}
        if wrong:
            raise ValueError(f"{n} columns, but per-column lists of {wrong} values")
        for key in ("medians", "means", "stds", "lows", "highs"):
            values = [v for v in lists[key] or [] if v is not None or key not in ("lows", "highs")]
            if not all(_finite_number(v) for v in values):
                raise ValueError(f"its {key} are not all finite numbers")
        if prep.quantiles is not None:
            sizes = {len(q) for q, c in zip(prep.quantiles, prep.columns) if c.startswith(FEATURE_GROUPS["descriptors"])}
            if len(sizes) > 1 or any(q for q, c in zip(prep.quantiles, prep.columns) if c.startswith(FEATURE_GROUPS["morgan"])):
                raise ValueError("its quantiles are not one list of the same length per descriptor column")
            if not all(all(map(_finite_number, q)) and all(a <= b for a, b in zip(q, q[1:])) for q in prep.quantiles):
                raise ValueError("its quantiles are not sorted finite numbers")
        return prep


def _finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def empirical_cdf(x: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Position of each ``x`` among the training ``quantiles`` (sorted values at evenly spaced
    levels), in [0, 1]; tied quantiles give the middle of their level range, values outside
    the training range are clipped to 0 or 1."""
    levels = np.linspace(0.0, 1.0, len(quantiles))
    if quantiles[0] == quantiles[-1]:
        return np.full(len(x), 0.5)
    lower = np.interp(x, quantiles, levels)
    upper = -np.interp(-x, -quantiles[::-1], -levels[::-1])
    return 0.5 * (lower + upper)
