"""Hyperparameter search scored by cross-validation on training rows (Optuna TPE or a grid).

The search only ever sees what its objective is given: the caller passes training rows
alone, so validation and test molecules cannot influence the chosen hyperparameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from molprop.errors import UserInputError
from molprop.evaluation.metrics import score

METHODS = ("none", "grid", "optuna")
CV_GROUPS = ("scaffold", "random")


@dataclass(frozen=True)
class SearchConfig:
    """How to search: method, budget (trials, optional time cap), CV folds and grouping, and
    the space (hyperparameter -> list of choices or {low, high, log} range)."""

    method: str = "none"
    n_trials: int = 20
    cv_folds: int = 5
    cv_groups: str = "scaffold"
    timeout_s: float | None = None
    space: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UserInputError(f"baseline.search.method is {self.method!r}; choose from {list(METHODS)}")
        if self.cv_groups not in CV_GROUPS:
            raise UserInputError(f"baseline.search.cv_groups is {self.cv_groups!r}; choose from {list(CV_GROUPS)}")
        if self.method != "none" and (self.n_trials < 1 or self.cv_folds < 2):
            raise UserInputError("baseline.search needs n_trials >= 1 and cv_folds >= 2")
        ranges = [name for name, spec in self.space.items() if not isinstance(spec, list)]
        if self.method == "grid" and ranges:
            raise UserInputError(f"baseline.search.method grid needs a list of values for each hyperparameter "
                                 f"in baseline.search.space (the section named by baseline.model); {ranges} "
                                 "are ranges: give lists of values, or set method: optuna")


@dataclass
class SearchResult:
    """Best hyperparameters found, their cross-validated score and every trial."""

    best: dict[str, Any]
    cv_score: float
    metric: str
    trials: list[dict[str, Any]]


def timeout_note(config: SearchConfig, n_run: int) -> str | None:
    """What to say when ``timeout_s`` ended the search before its budget (``n_trials``, or
    every point of a smaller grid) was spent; None otherwise."""
    budget = config.n_trials
    if config.method == "grid":
        budget = min(budget, math.prod(len(choices) for choices in config.space.values()))
    if config.timeout_s is None or not config.space or n_run >= budget:
        return None
    return (f"the search stopped at baseline.search.timeout_s ({config.timeout_s:g} s) after {n_run} of {budget} "
            "trials; the hyperparameters chosen depend on this machine's speed")


def objective_metric(task: str) -> tuple[str, bool]:
    """Metric the search optimizes and whether larger is better."""
    return ("roc_auc", True) if task == "classification" else ("rmse", False)


def cv_groups_of(smiles: Sequence[str], kind: str) -> list[str] | None:
    """CV groups: Bemis-Murcko scaffolds (``scaffold``), or None for ungrouped random folds.

    An acyclic molecule has no ring system to share and forms its own group. (Kept as one
    "empty scaffold" group, as the scaffold split does, acyclic molecules fill a fold of
    their own: on FreeSolv 62% of the training part, predicted from ring molecules only,
    which made the CV score jump erratically with the hyperparameters.)
    """
    if kind == "random":
        return None
    from molprop.splits.chem import murcko_scaffolds, scaffold_groups, to_mols

    return scaffold_groups(murcko_scaffolds(to_mols(list(smiles))))


def check_random_folds(n: int, n_folds: int) -> None:
    """UserInputError when ``n`` training molecules cannot make ``n_folds`` random CV folds."""
    if n < n_folds:
        raise UserInputError(f"cannot make {n_folds} CV folds from {n} training molecules; "
                             "lower baseline.search.cv_folds")


def cv_splits(n: int, n_folds: int, groups: Sequence[str] | None, seed: int
              ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, held-out rows) per fold: GroupKFold over the groups (no group in two folds;
    fewer folds when there are fewer groups), else seeded KFold."""
    from sklearn.model_selection import GroupKFold, KFold

    if groups is None:
        check_random_folds(n, n_folds)
        return list(KFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(n)))
    n_groups = len(set(groups))
    if n_groups < 2:
        raise UserInputError(f"the training molecules have {n_groups} scaffold; scaffold-grouped CV "
                         "needs 2 or more: set baseline.search.cv_groups to random")
    if n_groups < n_folds:
        print(f"baseline search: {n_groups} scaffold groups in the training part, so {n_groups} CV folds")
    return list(GroupKFold(min(n_folds, n_groups)).split(np.zeros(n), groups=list(groups)))


def cross_validated_score(fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
                          y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]],
                          task: str) -> float:
    """The task's objective metric on the pooled out-of-fold predictions.

    ``fit_predict(fit_rows, held_out_rows)`` fits on the first rows and predicts the second.
    """
    out_of_fold: np.ndarray | None = None
    for fit_rows, held_out in splits:
        pred = fit_predict(fit_rows, held_out)
        if out_of_fold is None:
            out_of_fold = np.zeros((len(y),) + pred.shape[1:])
        out_of_fold[held_out] = pred
    covered = np.unique(np.concatenate([held for _, held in splits]))
    return score(task, y[covered], out_of_fold[covered])[objective_metric(task)[0]]


def _suggest(trial: Any, name: str, spec: Any) -> Any:
    if isinstance(spec, list):
        return trial.suggest_categorical(name, spec)
    if isinstance(spec, Mapping) and {"low", "high"} <= set(spec) <= {"low", "high", "log"}:
        low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
        if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
            return trial.suggest_int(name, low, high, log=log)
        return trial.suggest_float(name, float(low), float(high), log=log)
    raise UserInputError(f"baseline.search.space: {name} must be a list of choices or "
                     f"{{low, high, log}}; got {spec!r}")


def _sampler(config: SearchConfig, seed: int) -> Any:
    import optuna

    if config.method == "optuna":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.GridSampler({k: list(v) for k, v in config.space.items()}, seed=seed)


def run_search(objective: Callable[[dict[str, Any]], float], config: SearchConfig, task: str,
               seed: int, on_trial: Callable[[int, dict, float], None] | None = None) -> SearchResult:
    """Try hyperparameters from ``config.space`` with ``objective`` (a cross-validated score),
    one trial at a time so a seeded sampler repeats itself exactly. An empty space is one
    trial: the cross-validated score of the fixed hyperparameters."""
    import optuna

    metric, maximize = objective_metric(task)
    if not config.space:
        value = float(objective({}))
        return SearchResult({}, value, metric, [{"number": 0, "params": {}, "value": value}])
    # ERROR: a trial that raises (a refused hyperparameter, a missing feature group) is
    # re-raised below with its own message; Optuna's warning would print its traceback first
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize" if maximize else "minimize",
                                sampler=_sampler(config, seed))

    seen: dict[str, float] = {}  # a sampler may repeat a point; the objective is deterministic

    def trial_objective(trial: Any) -> float:
        params = {name: _suggest(trial, name, spec) for name, spec in config.space.items()}
        key = repr(sorted(params.items()))
        value = seen[key] if key in seen else float(objective(params))
        seen[key] = value
        if on_trial is not None:
            on_trial(trial.number, params, value)
        return value

    study.optimize(trial_objective, n_trials=config.n_trials, timeout=config.timeout_s,
                   n_jobs=1, catch=())
    trials = [{"number": t.number, "params": t.params, "value": t.value}
              for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not trials and seen and not any(math.isfinite(v) for v in seen.values()):
        raise UserInputError(f"baseline search: the cross-validated {metric} was not a number in every trial "
                             f"({len(seen)}): a fold of the training part with one class (ROC-AUC is undefined) "
                             "or a model that predicts NaN? Lower baseline.search.cv_folds, set "
                             "search.cv_groups: random, or check the features")
    if not trials:
        raise UserInputError(f"baseline search: baseline.search.timeout_s ({config.timeout_s:g} s) ran out before "
                             "the first trial finished; raise it, or set it to null (no limit)")
    return SearchResult(dict(study.best_params), float(study.best_value), metric, trials)
