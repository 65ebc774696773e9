"""The model-vs-baseline comparison of metrics/evaluate.json in one sentence: which model errs
less on the test part, and whether the paired tests say so clearly."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

SIGNIFICANCE = 0.05  # the p below which the sentence calls one model better


def defined(value: float | None) -> bool:
    """Whether a figure of a metrics file is a number (null and NaN are not)."""
    return value is not None and math.isfinite(value)


def shown(value: float | None, spec: str = "") -> str:
    """A figure in ``spec`` (as metrics/*.json holds it by default); n/a for an undefined one."""
    return format(value, spec) if defined(value) else "n/a"


def comparison_sentence(comparison: Mapping[str, Any]) -> str:
    """evaluate.json's ``model_vs_baseline`` as a sentence: the molecules each model errs less
    on, the mean error difference with its paired bootstrap p, the Wilcoxon p and the verdict."""
    difference, ranks = comparison.get("mean_error_difference"), comparison.get("rank_biserial")
    p_value = comparison.get("wilcoxon_p_value")
    mean_p = comparison.get("mean_error_difference_p_value", p_value)  # the mean's own paired bootstrap
    return (f"the model errs less on {comparison.get('n_model_better')}, the baseline on "
            f"{comparison.get('n_baseline_better')} test molecules; mean error difference (model - baseline) "
            f"{shown(difference)} (paired bootstrap p = {shown(mean_p)}), Wilcoxon p = {shown(p_value)}"
            f"{verdict(difference, mean_p, p_value, ranks)}")


def verdict(difference: float | None, mean_p: float | None, p_value: float | None, ranks: float | None) -> str:
    """Which model errs less: on average, judged by the mean difference's paired bootstrap,
    and, where it disagrees, by the signed-rank test (its direction: the rank-biserial)."""
    if difference is None or difference == 0:
        return ""
    winner = "model" if difference < 0 else "baseline"
    said = f": the {winner} errs less on average"
    if not defined(mean_p) or not defined(p_value):
        return said + ", but the paired tests are undefined here (too few molecules): neither is clearly better"
    if mean_p >= SIGNIFICANCE:
        said += f", but not significantly (p >= {SIGNIFICANCE})"
    rank_winner = None if not defined(ranks) or not ranks else ("model" if ranks < 0 else "baseline")
    if p_value < SIGNIFICANCE and rank_winner and (rank_winner != winner or mean_p >= SIGNIFICANCE):
        # the signed-rank test weighs each molecule by the rank of its difference, the mean by its size
        said += (f"; the signed-rank test favours the {rank_winner} (rank-biserial {shown(ranks)}, "
                 "significant)" + ("" if rank_winner == winner or mean_p >= SIGNIFICANCE else
                                   ": the two weigh the molecules differently (the mean by the size "
                                   "of each difference, the signed-rank test by its rank), so which "
                                   "is better depends on which errors matter"))
    elif mean_p >= SIGNIFICANCE:
        said += ": on this test part neither is clearly better"
    return said
