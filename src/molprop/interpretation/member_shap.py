"""Exact SHAP values of one baseline member: TreeSHAP for tree ensembles, the closed form of
linear SHAP for linear models, per original feature column; then the contributions to the
output of the class each molecule is explained for."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np


# TreeSHAP seconds per explained molecule and per (node x depth) of each tree: shap 0.51 on one
# core of the development machine took 1.39e-8 on FreeSolv's forest (200 trees of ~630 nodes,
# 0.03 s per molecule) and 1.49e-8 on a 10,000-molecule dataset's (200 trees of ~10,000 nodes,
# 0.92 s per molecule). Used to size the explained sample before computing anything, so the
# same model and params always explain the same molecules, whatever the machine's speed.
TREESHAP_SECONDS_PER_NODE_DEPTH = 1.5e-8


def treeshap_seconds(estimator: Any) -> float:
    """Estimated TreeSHAP time per molecule (seconds, on the reference core) of a forest or
    gradient boosting: its trees' summed node count x depth, times the per-unit time."""
    if hasattr(estimator, "_predictors"):  # histogram gradient boosting: one list per iteration
        trees = [(len(p.nodes), int(p.nodes["depth"].max())) for step in estimator._predictors for p in step]
    else:
        trees = [(t.tree_.node_count, t.tree_.max_depth) for t in estimator.estimators_]
    return TREESHAP_SECONDS_PER_NODE_DEPTH * float(sum(nodes * max(depth, 1) for nodes, depth in trees))


@dataclass
class MemberShap:
    """``base[k] + values[i, :, k].sum()`` is the member's output k for molecule i: the
    prediction (regression, one output), each seen class's probability (forest) or raw score
    (gradient boosting, logistic regression; a binary model's class 0 scores 0)."""

    values: np.ndarray  # (n, n_features, K)
    base: np.ndarray  # (K,)
    classes: np.ndarray  # (K,) class index of each output (regression: [0])


def _as_class_outputs(values: np.ndarray, base: np.ndarray, n: int, n_features: int,
                      classes: np.ndarray | None) -> MemberShap:
    """Reshape (n, f[, K]) values into (n, f, K); a binary classifier's single raw score
    (log-odds of its second class) becomes scores (0, s)."""
    values = np.asarray(values, dtype=np.float64).reshape(n, n_features, -1)
    base = np.atleast_1d(np.asarray(base, dtype=np.float64)).reshape(-1)
    if classes is None:
        return MemberShap(values[:, :, :1], base[:1], np.zeros(1, dtype=int))
    classes = np.asarray(classes).astype(int)
    if values.shape[2] == 1 and len(classes) == 2:
        values = np.concatenate([np.zeros_like(values), values], axis=2)
        base = np.array([0.0, base[0]])
    if values.shape[2] != len(classes):
        raise ValueError(f"SHAP returned {values.shape[2]} outputs for {len(classes)} classes")
    return MemberShap(values, base, classes)


def tree_member_shap(estimator: Any, x: np.ndarray, classification: bool) -> MemberShap:
    """TreeSHAP (path-dependent: the base is the trees' mean over their training rows) of a
    forest (probabilities) or gradient boosting (raw scores) on its input matrix ``x``."""
    with warnings.catch_warnings():  # shap's colour maps use matplotlib calls it deprecates
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    raw = type(estimator).__name__.startswith("HistGradientBoosting")
    explainer = shap.TreeExplainer(estimator, model_output="raw") if raw else shap.TreeExplainer(estimator)
    values = explainer.shap_values(x, check_additivity=False)
    return _as_class_outputs(values, explainer.expected_value, len(x), x.shape[1],
                             estimator.classes_ if classification else None)


def linear_member_shap(estimator: Any, x: np.ndarray, reference: np.ndarray, classification: bool) -> MemberShap:
    """Exact SHAP of a linear model (interventional, features independent): coefficient x
    (value - mean over ``reference``) per input column; base = the output at the reference
    mean (= the mean output over the reference rows). ``x`` and ``reference`` are the
    model's own inputs (imputed and scaled column by column, so column j is still feature j)."""
    x, reference = np.asarray(x, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if len(reference) == 0:
        raise ValueError("linear SHAP needs reference molecules (the training part) for its base value")
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))  # (K', f)
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
    mean = reference.mean(axis=0)
    values = (x - mean)[:, :, None] * coef.T[None, :, :]  # (n, f, K')
    base = coef @ mean + intercept
    return _as_class_outputs(values, base, len(x), x.shape[1], estimator.classes_ if classification else None)


def class_contributions(member: MemberShap, chosen: np.ndarray | None,
                        log_odds: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values (n, f), base (n,), defined (n,) bool) of the output explained per molecule: the
    prediction (regression); for class ``chosen[i]``: its probability (0 from a member that
    never saw it), or with ``log_odds`` its log-odds against the other classes the member
    knows (score minus their mean score: log p_c - mean log p_k, the log-odds for two
    classes), undefined (``defined`` False, values 0) where the member never saw the class."""
    n = len(member.values)
    if chosen is None:
        return member.values[:, :, 0], np.full(n, member.base[0]), np.ones(n, dtype=bool)
    position = {int(c): k for k, c in enumerate(member.classes)}
    weights = np.zeros((n, len(member.classes)))
    defined = np.ones(n, dtype=bool)
    for i, c in enumerate(np.asarray(chosen, dtype=int)):
        if c not in position:
            defined[i] = not log_odds
            continue
        if log_odds:
            weights[i] = -1.0 / max(len(member.classes) - 1, 1)
        weights[i, position[c]] = 1.0
    return np.einsum("nfk,nk->nf", member.values, weights), weights @ member.base, defined
