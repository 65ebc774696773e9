"""Metrics of many weighted samples at once: the vectorized core of the bootstrap.

A bootstrap resample is a vector of counts (how often each molecule was drawn). Every
function here takes ``weights`` of shape (B, n) and returns one value per row: the metric of
the sample in which molecule i occurs ``weights[b, i]`` times. With integer weights each value
equals the plain metric (``molprop.evaluation.metrics``) of the repeated molecules; an
undefined value (e.g. an AUC of a resample holding one class) is NaN.
"""

from __future__ import annotations

import numpy as np

from molprop.evaluation.metrics import brier_per_molecule, constant_up_to_rounding


def _ties(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ascending sort order, start index of each run of equal values, and each molecule's run."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    run_of = np.empty(len(values), dtype=np.int64)
    run_of[order] = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(values)]))
    return order, starts, run_of


def _run_sums(weights: np.ndarray, order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(B, runs) total weight of each run of equal values (``weights`` already in sort
    order when ``order`` is None)."""
    ordered = weights if order is None else weights[:, order]
    if len(starts) == ordered.shape[1]:  # no ties: every run is one molecule
        return ordered
    return np.add.reduceat(ordered, starts, axis=1)


def _split_sums(score: np.ndarray, positive: np.ndarray,
                weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, runs) weight of positives and of negatives in each run of equal scores, ascending."""
    order, starts, _ = _ties(np.asarray(score, dtype=float))
    neg = weights[:, order]
    pos = neg * positive[order]
    neg -= pos
    return _run_sums(pos, None, starts), _run_sums(neg, None, starts)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of per-molecule ``values`` (n,) in every sample."""
    return _divide(weights @ np.asarray(values, dtype=float), weights.sum(axis=1))


def average_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, n) rank of each molecule in each sample (1-based, ties get their average rank)."""
    order, starts, run_of = _ties(np.asarray(values))
    sums = _run_sums(weights, order, starts)
    run_rank = np.cumsum(sums, axis=1) - sums + (sums + 1.0) / 2.0
    return run_rank[:, run_of]


def spearman(a: np.ndarray, b: np.ndarray, weights: np.ndarray,
             a_ranks: np.ndarray | None = None) -> np.ndarray:
    """Weighted Spearman correlation (Pearson correlation of the average ranks; NaN where one
    side is constant, and everywhere when one side is constant up to rounding, as
    :func:`metrics.spearman` has it). ``a_ranks``: ``average_ranks(a, weights)`` if already computed."""
    if np.size(a) and (constant_up_to_rounding(np.asarray(a, dtype=float))
                       or constant_up_to_rounding(np.asarray(b, dtype=float))):
        return np.full(len(weights), np.nan)
    centre = (weights.sum(axis=1, keepdims=True) + 1.0) / 2.0  # weighted mean of any ranks
    da = (average_ranks(a, weights) if a_ranks is None else a_ranks) - centre
    db = average_ranks(b, weights) - centre
    weighted_da = weights * da
    var = (weighted_da * da).sum(axis=1) * (weights * db * db).sum(axis=1)
    return _divide((weighted_da * db).sum(axis=1), np.sqrt(var))


def regression(y: np.ndarray, pred: np.ndarray, weights: np.ndarray,
               y_ranks: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """RMSE, MAE, R² and Spearman correlation of every sample (``y_ranks``: the measured
    values' ``average_ranks``, to share them between models)."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    error = pred - y
    total = weights.sum(axis=1)
    centred = y - y.mean()  # smaller terms for the one-pass sum of squares below
    second = weights @ centred**2
    sum_squares = second - total * _divide(weights @ centred, total) ** 2
    # a sample of one distinct value has none: 0 up to rounding (which made R² -1e15); its R²
    # is then r2_score's: 1 if every prediction is exact, else 0 (NaN for a single draw). So
    # is every sample of a test part whose values are equal up to rounding (r2_score's rule:
    # their differences from the mean are then rounding residue, not small beside `second`).
    constant = sum_squares <= 1e-12 * second
    if y.size and constant_up_to_rounding(y):
        constant = np.ones_like(constant, dtype=bool)
    squared = weights @ error**2
    r2 = 1.0 - _divide(squared, np.where(constant, 0.0, sum_squares))
    r2 = np.where(constant, np.where(squared == 0.0, 1.0, 0.0), r2)
    return {
        "rmse": np.sqrt(_divide(squared, total)),
        "mae": _divide(weights @ np.abs(error), total),
        "r2": np.where(total < 2, np.nan, r2),
        "spearman": spearman(y, pred, weights, y_ranks),
    }


def ranking(score: np.ndarray, positive: np.ndarray,
            weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC-AUC and average precision of ``score`` for the ``positive`` molecules, per sample.

    ROC-AUC: the share of positive-negative pairs ranked right (ties count 1/2). Average
    precision (PR-AUC as scikit-learn defines it): Σ over score thresholds of the recall
    gained times the precision at that threshold. Both NaN for a sample of one class.
    """
    pos, neg = _split_sums(score, positive, weights)  # runs of equal scores, ascending
    cum_pos, cum_neg = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    n_pos, n_neg = cum_pos[:, -1].copy(), cum_neg[:, -1].copy()
    both = (n_pos > 0) & (n_neg > 0)
    pairs_right = np.einsum("ij,ij->i", pos, cum_neg) - 0.5 * np.einsum("ij,ij->i", pos, neg)
    auc = _divide(pairs_right, np.where(both, n_pos * n_neg, 0.0))
    # at the threshold of run g, every run scoring >= it is called positive (in place: the
    # cumulative sums become the counts at or above each threshold)
    tp = np.subtract(n_pos[:, None], cum_pos, out=cum_pos)
    tp += pos
    called = np.subtract(n_neg[:, None], cum_neg, out=cum_neg)
    called += neg
    called += tp
    precision = np.divide(tp, called, out=np.zeros_like(tp), where=called > 0)
    ap = _divide(np.einsum("ij,ij->i", pos, precision), np.where(both, n_pos, 0.0))
    return auc, ap


def confusion(y: np.ndarray, label: np.ndarray, n_classes: int, weights: np.ndarray) -> np.ndarray:
    """(B, K, K) weighted confusion matrices, rows = measured class, columns = predicted."""
    cell = np.asarray(y, dtype=np.int64) * n_classes + label
    order, starts, _ = _ties(cell)
    out = np.zeros((len(weights), n_classes * n_classes))
    out[:, cell[order[starts]]] = _run_sums(weights, order, starts)
    return out.reshape(len(weights), n_classes, n_classes)


def f1_and_mcc(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 (class 1 of two, NaN when no molecule is measured or predicted in it; else macro over
    the classes measured, the rows with a count) and Matthews correlation (multi-class form;
    NaN when one class is measured, 0 when only the predictions are one class) of (B, K, K)
    matrices."""
    tp = np.diagonal(matrices, axis1=1, axis2=2)
    measured, predicted = matrices.sum(axis=2), matrices.sum(axis=1)
    per_class = _divide(2.0 * tp, measured + predicted)
    if matrices.shape[1] == 2:
        f1 = per_class[:, 1]
    else:
        seen = measured > 0
        f1 = _divide((np.nan_to_num(per_class) * seen).sum(axis=1), seen.sum(axis=1))
    total = measured.sum(axis=1)
    cov = tp.sum(axis=1) * total - (measured * predicted).sum(axis=1)
    var = (total**2 - (predicted**2).sum(axis=1)) * (total**2 - (measured**2).sum(axis=1))
    mcc = np.nan_to_num(_divide(cov, np.sqrt(var)))
    return f1, np.where((measured > 0).sum(axis=1) < 2, np.nan, mcc)


def classification(y: np.ndarray, proba: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, ROC-AUC, PR-AUC, F1, MCC and Brier score of every sample (same definitions
    as ``metrics.classification_metrics``)."""
    y = np.asarray(y, dtype=np.int64)
    n_classes = proba.shape[1]
    label = proba.argmax(axis=1)
    matrices = confusion(y, label, n_classes, weights)
    f1, mcc = f1_and_mcc(matrices)
    if n_classes > 2:  # macro F1 over the test part's classes: a resample lacking one has none
        f1 = np.where((matrices.sum(axis=2)[:, np.unique(y)] == 0).any(axis=1), np.nan, f1)
    out = {"accuracy": mean(label == y, weights), "f1": f1, "mcc": mcc,
           "brier": mean(brier_per_molecule(y, proba), weights)}
    if n_classes == 2:
        auc, ap = ranking(proba[:, 1], y == 1, weights)
        return out | {"roc_auc": auc, "pr_auc": ap}
    present = np.unique(y)
    if len(present) < 2:
        return out | {"roc_auc": np.full(len(weights), np.nan), "pr_auc": np.full(len(weights), np.nan)}
    # one-vs-rest for each class of the test part: a resample lacking one has no value (NaN,
    # left out of the interval), not the mean over fewer classes, another metric
    per_class = [ranking(proba[:, k], y == k, weights) for k in present]
    return out | {key: np.stack([r[i] for r in per_class]).mean(axis=0)
                  for i, key in enumerate(("roc_auc", "pr_auc"))}


def score(task: str, y: np.ndarray, pred: np.ndarray, weights: np.ndarray,
          y_ranks: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The task's metrics (``metrics.score``) of every weighted sample (``y_ranks``: see
    ``regression``)."""
    if task == "classification":
        return classification(y, pred, weights)
    return regression(y, pred, weights, y_ranks)
