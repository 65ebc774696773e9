"""Seeded, vectorized bootstrap: resample counts, percentile intervals and paired p-values."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from molprop.errors import UserInputError

CHUNK = 100  # resamples evaluated together at most ...
CHUNK_ELEMENTS = 2_000_000  # ... and fewer for large n: each (chunk, n) float array <= 16 MB


@dataclass(frozen=True)
class BootstrapConfig:
    """How many resamples, their seed, and the confidence level of the intervals."""

    n_resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not isinstance(self.n_resamples, int) or self.n_resamples < 10:
            raise UserInputError(
                f"evaluate.bootstrap.n_resamples is {self.n_resamples!r}; use an integer >= 10 "
                "(1000 or more for stable 95% intervals)"
            )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise UserInputError(f"evaluate.bootstrap.seed is {self.seed!r}; use an integer")
        if not 0.0 < self.confidence < 1.0:
            raise UserInputError(
                f"evaluate.bootstrap.confidence is {self.confidence!r}; give a level between "
                "0 and 1, e.g. 0.95"
            )


def resample_counts(n: int, n_resamples: int, seed: int | Sequence[int]) -> Iterator[np.ndarray]:
    """Chunks of (b, n) float counts: how often each of ``n`` items is drawn (with replacement,
    n draws) in each resample. The same seed and n give the same resamples."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(CHUNK, CHUNK_ELEMENTS // max(n, 1)))
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def bootstrap(
    statistic: Callable[[np.ndarray], dict[str, np.ndarray]],
    n: int,
    config: BootstrapConfig,
    seed: int | Sequence[int] | None = None,
) -> dict[str, np.ndarray]:
    """Each statistic's value on every resample: ``statistic(counts)`` maps (b, n) counts to
    named (b,) arrays; returns those arrays joined to length ``config.n_resamples``.
    ``seed`` overrides ``config.seed`` (e.g. ``[config.seed, group]`` for one group's own draws).
    With fewer than 2 molecules every value is NaN: each resample repeats the one molecule, so
    there is no spread to read an interval or a p-value from."""
    parts: dict[str, list[np.ndarray]] = {}
    chosen = config.seed if seed is None else seed
    for counts in resample_counts(n, config.n_resamples, chosen):
        for key, values in statistic(counts).items():
            parts.setdefault(key, []).append(np.asarray(values, dtype=float))
    joined = {key: np.concatenate(values) for key, values in parts.items()}
    return {key: np.full(values.shape, np.nan) for key, values in joined.items()} if n < 2 else joined


def interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of the resampled values (NaN resamples left out; NaN if all are)."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def p_value(differences: np.ndarray, observed: float) -> float:
    """Two-sided paired-bootstrap p-value of "no difference", the dual of the percentile
    interval: twice the share of resampled differences on the far side of 0 from the bulk
    (at most 1; add-one smoothed, so never 0), so that p < 1 - confidence exactly when the
    interval leaves 0 out, up to the percentiles' interpolation (a resampled difference of
    exactly 0 counts on both sides). NaN without an observed value or resamples."""
    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0 or np.isnan(observed):
        return float("nan")
    tail = min(int((d <= 0).sum()), int((d >= 0).sum()))
    return float(min(1.0, (1 + 2 * tail) / (d.size + 1)))


def rank_biserial(errors_a: np.ndarray, errors_b: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of ``errors_a - errors_b``, the direction and
    size of what the Wilcoxon signed-rank test measures: (W+ - W-) / (W+ + W-) over the
    nonzero differences ranked by size, in [-1, 1] (negative: ``a`` errs less); NaN when
    every difference is 0."""
    from scipy.stats import rankdata

    diff = np.asarray(errors_a, dtype=float) - np.asarray(errors_b, dtype=float)
    diff = diff[diff != 0]
    if diff.size == 0:
        return float("nan")
    ranks = rankdata(np.abs(diff))
    return float((ranks[diff > 0].sum() - ranks[diff < 0].sum()) / ranks.sum())


def wilcoxon_p_value(errors_a: np.ndarray, errors_b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value on paired per-molecule errors; 1 when the two
    error lists are identical, NaN with fewer than 2 molecules."""
    from scipy.stats import wilcoxon

    diff = np.asarray(errors_a, dtype=float) - np.asarray(errors_b, dtype=float)
    if diff.size < 2:
        return float("nan")
    if np.all(diff == 0):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's small-sample / ties notices
        return float(wilcoxon(diff, zero_method="wilcox").pvalue)
