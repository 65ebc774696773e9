"""Performance metrics for regression and classification predictions."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R² of predictions against measured values."""
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y, pred))),
        "mae": float(skm.mean_absolute_error(y, pred)),
        "r2": float(skm.r2_score(y, pred)) if len(y) > 1 else float("nan"),
    }


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """ROC-AUC and PR-AUC (one-vs-rest macro averages for more than two classes), accuracy.

    ``proba`` is (n, K) class probabilities; AUCs are NaN when ``y`` holds a single class.
    """
    n_classes = proba.shape[1]
    out = {"accuracy": float(skm.accuracy_score(y, proba.argmax(axis=1)))}
    present = np.unique(y)
    if len(present) < 2:
        return out | {"roc_auc": float("nan"), "pr_auc": float("nan")}
    if n_classes == 2:
        out["roc_auc"] = float(skm.roc_auc_score(y, proba[:, 1]))
        out["pr_auc"] = float(skm.average_precision_score(y, proba[:, 1]))
        return out
    onehot = label_binarize(y, classes=np.arange(n_classes))
    keep = onehot.sum(axis=0) > 0  # classes absent from y have no defined AUC
    out["roc_auc"] = float(skm.roc_auc_score(onehot[:, keep], proba[:, keep], average="macro"))
    out["pr_auc"] = float(skm.average_precision_score(onehot[:, keep], proba[:, keep], average="macro"))
    return out


def score(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The task's metrics for one set of predictions."""
    if task == "classification":
        return classification_metrics(np.asarray(y, dtype=int), pred)
    return regression_metrics(np.asarray(y, dtype=float), pred)


def summarize_members(per_member: list[dict[str, float]]) -> dict[str, float]:
    """Mean and standard deviation of each metric over ensemble members or folds."""
    summary: dict[str, float] = {}
    for key in per_member[0]:
        values = np.array([m[key] for m in per_member], dtype=float)
        summary[f"{key}_mean"] = float(np.nanmean(values))
        summary[f"{key}_std"] = float(np.nanstd(values))
    return summary
