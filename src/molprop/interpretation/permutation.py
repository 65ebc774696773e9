"""Model-agnostic explanations of a baseline from its predictions alone (for kinds without an
exact SHAP method, such as k-NN on Tanimoto similarity), bounded in time and seeded.

Global: permutation importance, the mean |change of the explained output| when one feature
column is shuffled among the explained molecules. Per molecule: Shapley values estimated from
seeded feature orderings, forward and reverse (antithetic permutation sampling), so they add
up exactly to the output minus the mean output over a sample of training molecules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from molprop.errors import UserInputError
from molprop.interpretation.baseline_model import SklearnModel, direction_signs

_CHUNK_ROWS = 4096  # permuted rows predicted at once (bounds memory)
# Estimated cost of one predicted fingerprint row per reference (training) fingerprint of a
# k-NN Tanimoto member, in seconds on the reference core (2-core AMD EPYC, AVX2): measured
# 1.2e-7 in permutation importance and 1.7e-7 in permutation SHAP on a 2,554-molecule set
# (3 members of ~1,530 references). Sizes the work before anything is computed, so the same
# model and params always explain the same molecules, whatever the machine's speed.
KNN_SECONDS_PER_PAIR = 1.7e-7


@dataclass(frozen=True)
class PermutationConfig:
    """n_repeats shuffles per feature over at most max_molecules molecules, for the
    max_features features that vary most among them; maps: Shapley values relative to
    n_background training molecules from n_permutations orderings (forward and reverse).
    max_seconds: estimated time allowed to each (the importance, one model's maps)."""

    n_repeats: int = 5
    max_features: int = 512
    max_molecules: int = 200
    n_background: int = 16
    n_permutations: int = 4
    max_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if name != "max_seconds" and int(value) < 1:
                raise UserInputError(f"interpret.permutation.{name} must be >= 1, got {value}")
        if not self.max_seconds > 0:
            raise UserInputError(f"interpret.permutation.max_seconds must be > 0, got {self.max_seconds}")


def row_seconds(model: SklearnModel) -> float:
    """Estimated seconds to predict one row with every member: the members' reference
    fingerprints times ``KNN_SECONDS_PER_PAIR`` (0 for a model without reference fingerprints:
    its cost is not estimated)."""
    references = sum(len(est.indptr_) - 1 for est, _ in model.members if hasattr(est, "indptr_"))
    return KNN_SECONDS_PER_PAIR * references


def affordable_molecules(model: SklearnModel, config: PermutationConfig) -> int | None:
    """How many molecules permutation importance can shuffle over within ``max_seconds``
    (at most max_features x n_repeats predicted rows each), and at least 2 (a column shuffled
    among one molecule does not change); None when not estimated."""
    per_molecule = min(config.max_features, len(model.columns)) * config.n_repeats * row_seconds(model)
    return None if per_molecule == 0 else max(2, int(config.max_seconds // per_molecule))


def _background(reference: np.ndarray, config: PermutationConfig, seed: int) -> np.ndarray:
    """The seeded sample of reference rows permutation SHAP measures against."""
    rng = np.random.default_rng(seed)
    return reference[np.sort(rng.choice(len(reference), min(config.n_background, len(reference)), replace=False))]


def _varying(row: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Columns where the molecule or any background row differs (the features to switch)."""
    return np.flatnonzero(~np.isclose(background, row, equal_nan=True).all(axis=0))


def budgeted_shap_config(model: SklearnModel, features: pd.DataFrame, reference: pd.DataFrame,
                         config: PermutationConfig, seed: int) -> PermutationConfig:
    """``config`` with fewer orderings (down to 1), then fewer background molecules, when
    permutation SHAP of these molecules is estimated to take more than ``max_seconds``:
    n_permutations x (2 x switched features + 1) x n_background predicted rows per molecule."""
    per_row = row_seconds(model)
    x = features[model.columns].to_numpy(dtype=np.float64)
    pool = reference[model.columns].to_numpy(dtype=np.float64)
    if per_row == 0 or len(pool) == 0 or len(x) == 0:
        return config
    background = _background(pool, config, seed)
    states = sum(2 * len(_varying(row, background)) + 1 for row in x)
    per_ordering = states * len(background) * per_row
    orderings = max(1, min(config.n_permutations, int(config.max_seconds // per_ordering)))
    n_background = len(background)
    if orderings * per_ordering > config.max_seconds:  # one ordering is too much: fewer molecules to compare with
        n_background = max(1, int(n_background * config.max_seconds // per_ordering))
    return replace(config, n_permutations=orderings, n_background=min(config.n_background, n_background))


def explained_output(model: SklearnModel, x: np.ndarray, chosen: np.ndarray | None) -> np.ndarray:
    """(n,) ensemble prediction, or probability of class ``chosen[i]`` for row i."""
    out = model.predict_array(x)
    return out if chosen is None else out[np.arange(len(x)), chosen]


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _candidates(x: np.ndarray, max_features: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns constant over the rows, columns to permute): the varying columns, or the
    ``max_features`` of them where the most rows differ from the column's commonest value."""
    constant = _equal(x, x[:1]).all(axis=0)
    varying = np.flatnonzero(~constant)
    if len(varying) <= max_features:
        return constant, varying
    differing = np.array([len(x) - np.unique(np.nan_to_num(x[:, j], nan=np.inf), return_counts=True)[1].max()
                          for j in varying])
    return constant, np.sort(varying[np.lexsort((varying, -differing))[:max_features]])


def permutation_importance(model: SklearnModel, features: pd.DataFrame, chosen: np.ndarray | None,
                           config: PermutationConfig, seed: int) -> pd.DataFrame:
    """Per feature column: ``importance`` = mean |output - output with the column shuffled|
    over molecules and ``n_repeats`` seeded shuffles (0 for a column constant over the
    molecules, NaN for a varying one beyond ``max_features``, not permuted) and ``direction``
    = correlation of the feature's value with that change (+: a larger value raises the output;
    with two classes, class 1's probability; NaN with three or more classes)."""
    x = features[model.columns].to_numpy(dtype=np.float64)
    n, n_features = x.shape
    constant, candidates = _candidates(x, config.max_features)
    importance = np.where(constant, 0.0, np.nan)
    direction = np.full(n_features, np.nan)
    signs = direction_signs(model, chosen, n)
    reference = explained_output(model, x, chosen)
    shuffles = np.random.default_rng(seed).permuted(
        np.tile(np.arange(n), (len(candidates), config.n_repeats, 1)), axis=2)
    per_chunk = max(1, _CHUNK_ROWS // (n * config.n_repeats))
    for start in range(0, len(candidates), per_chunk):
        columns = candidates[start:start + per_chunk]
        batch = np.broadcast_to(x, (len(columns), config.n_repeats, n, n_features)).copy()
        for a, column in enumerate(columns):
            batch[a, :, :, column] = x[shuffles[start + a], column]
        classes = None if chosen is None else np.tile(chosen, len(columns) * config.n_repeats)
        change = reference - explained_output(model, batch.reshape(-1, n_features), classes).reshape(
            len(columns), config.n_repeats, n)
        for a, column in enumerate(columns):
            importance[column] = np.abs(change[a]).mean()
            if signs is not None:
                direction[column] = _correlation(x[:, column], change[a].mean(axis=0) * signs)
    table = pd.DataFrame({"feature": model.columns, "importance": importance, "direction": direction})
    return table.sort_values(["importance", "feature"], ascending=[False, True], na_position="last",
                             ignore_index=True)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when either is constant (or has NaN)."""
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a**2).sum() * (b**2).sum())
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def _shapley_row(f, row: np.ndarray, background: np.ndarray, n_permutations: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """(values, base, output) of one molecule. Per ordering of the features where it differs
    from the background: switch them to the molecule's values one by one (forward), then
    back in the same order (reverse); each step's change of the mean output over the background
    rows is credited to the switched feature. Both passes telescope from the base to the
    output, so the values add up exactly; two passes cancel second-order interaction error."""
    varying = _varying(row, background)
    values, m, b = np.zeros(len(row)), len(varying), len(background)
    if m == 0:
        output = float(f(row[None])[0])
        return values, output, output
    steps = np.arange(2 * m + 1)[:, None]  # state k < = m: first k switched; m + k: first k switched back
    per_chunk = max(1, _CHUNK_ROWS // b)
    for _ in range(n_permutations):
        order = rng.permutation(varying)
        rank = np.arange(m)[None, :]
        on = np.where(steps <= m, rank < steps, rank >= steps - m)  # (2m + 1, m): feature order[r] switched
        means = np.empty(2 * m + 1)
        for start in range(0, 2 * m + 1, per_chunk):
            states = np.repeat(background[None], len(on[start:start + per_chunk]), axis=0)
            states[:, :, order] = np.where(on[start:start + per_chunk, None, :], row[order], states[:, :, order])
            means[start:start + per_chunk] = f(states.reshape(-1, len(row))).reshape(-1, b).mean(axis=1)
        values[order] += means[1:m + 1] - means[:m]  # forward: step k switches order[k - 1] on
        values[order] += means[m:2 * m] - means[m + 1:]  # reverse: step m + k switches order[k - 1] off
    base, output = float(means[0]), float(means[m])
    return values / (2 * n_permutations), base, output


def permutation_shap(model: SklearnModel, features: pd.DataFrame, reference: pd.DataFrame,
                     chosen: np.ndarray | None, config: PermutationConfig,
                     seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values (n, f), base (n,), output (n,)) per molecule: Shapley values of the explained
    output against a seeded sample of ``n_background`` rows of ``reference`` (base: the mean
    output over them), estimated from ``n_permutations`` seeded orderings of the features
    where the molecule differs from the background (antithetic permutation sampling, as in
    shap's PermutationExplainer, without its JIT compilation). Each molecule is explained on
    its own, so its values do not depend on which other molecules are explained."""
    x = features[model.columns].to_numpy(dtype=np.float64)
    pool = reference[model.columns].to_numpy(dtype=np.float64)
    if len(pool) == 0:
        raise ValueError("permutation SHAP needs reference molecules (the training part) as background")
    background = _background(pool, config, seed)
    values, base, output = np.zeros(x.shape), np.zeros(len(x)), np.zeros(len(x))
    for i, row in enumerate(x):
        cls = None if chosen is None else int(chosen[i])

        def f(z: np.ndarray, cls: int | None = cls) -> np.ndarray:
            return explained_output(model, z, None if cls is None else np.full(len(z), cls))

        values[i], base[i], output[i] = _shapley_row(f, row, background, config.n_permutations,
                                                     np.random.default_rng([seed, 1]))
    return values, base, output
