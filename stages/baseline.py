"""Stage baseline: a tuned scikit-learn model on the molecular features.

Fits ``baseline.model`` (random forest, histogram gradient boosting, ridge / logistic
regression or k-NN on Tanimoto similarity) on the training part, one per fold in k-fold mode,
after an optional hyperparameter search scored by scaffold-grouped cross-validation on that
training part alone. Saves models/baseline (skops + JSON, no pickle; the search trials in
<member>/search.json) and logs params, chosen hyperparameters, CV and validation scores and
the model to MLflow. The test part is not touched here.
"""

from __future__ import annotations

# first: Ctrl-C or SIGTERM during the imports below then gets one line, not a traceback
from common import read_params, require_input, run_stage, save_model_context, upstream_params

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from molprop import tracking
from molprop.errors import UserInputError

if TYPE_CHECKING:
    from molprop.models.baseline import BaselineConfig

OUT = Path("models/baseline")
INPUTS = ("data/validated.parquet", "data/features.parquet", "data/split.parquet")
TREES = ("random_forest", "hist_gradient_boosting")


def check_model_section(cfg: dict) -> None:
    """The params.yaml ``baseline`` section has a sub-section for its ``model``."""
    if cfg["model"] not in cfg:
        raise UserInputError(f"params.yaml: baseline.model is {cfg['model']}, but the baseline section has no "
                             f"{cfg['model']}: sub-section with its settings; add one (see the other models')")


def config_from(cfg: dict) -> BaselineConfig:
    """The library configuration from the params.yaml ``baseline`` section (its model
    sub-section already checked by ``check_model_section``)."""
    from molprop.models.baseline import BaselineConfig
    from molprop.models.search import SearchConfig

    model, search = cfg["model"], dict(cfg["search"])
    space = (search.pop("space", None) or {}).get(model) or {}
    return BaselineConfig(model=model, hyperparameters=cfg[model] or {}, features=cfg["features"],
                          search=SearchConfig(**search, space=space), seed=cfg["seed"],
                          n_jobs=cfg["n_jobs"], class_weight=cfg.get("class_weight", "balanced"))


def check_feature_groups(config: BaselineConfig, path: str = "data/features.parquet") -> None:
    """UserInputError when a feature group the model reads has no columns in ``path``."""
    import pyarrow.parquet as pq

    from molprop.models.baseline import feature_groups
    from molprop.models.estimators import input_columns
    from molprop.models.matrix import select_feature_columns

    input_columns(config.model, select_feature_columns(pq.read_schema(path).names, feature_groups(config),
                                                       "baseline.features"))


def check_search_folds(config: BaselineConfig, path: str = "data/split.parquet") -> None:
    """UserInputError when a training part is too small for the search's random CV folds
    (scaffold groups make fewer folds where there are fewer groups)."""
    if config.search.method == "none" or config.search.cv_groups != "random":
        return
    import pandas as pd

    from molprop.models.partitions import partitions
    from molprop.models.search import check_random_folds
    from molprop.schema import FOLD, SPLIT

    check_random_folds(min(len(p.train) for p in partitions(pd.read_parquet(path, columns=[SPLIT, FOLD]))),
                       config.search.cv_folds)


def main() -> None:
    params = read_params("data", "baseline")
    task, cfg = params["data"]["task"], params["baseline"]
    check_model_section(cfg)
    # settings that cannot be fitted stop here, not in a run left FAILED in MLflow
    config = config_from(cfg)
    for path in INPUTS:
        require_input(path)
    check_feature_groups(config)
    check_search_folds(config)
    # The run opens next: its helper process imports MLflow while this one imports
    # scikit-learn and fits (hence the imports below, inside main).
    with tracking.mlflow_run("molprop", "baseline", params | upstream_params()):
        fit_and_save(task, cfg, config)


def fit_and_save(task: str, cfg: dict, config: BaselineConfig) -> None:
    """Fit, save and log the baseline member(s) of every partition (``config``: from ``cfg``)."""
    import numpy as np

    from molprop.data.tables import class_names, read_aligned
    from molprop.evaluation.metrics import score
    from molprop.models.baseline import fit_member
    from molprop.models.estimators import predict_member
    from molprop.models.partitions import partitions
    from molprop.models.search import cv_groups_of, objective_metric, timeout_note
    from molprop.models.store import ModelCard, save_card, save_sklearn_member
    from molprop.schema import SMILES, TARGET
    from molprop.seeding import seed_everything
    from molprop.serialization import write_json

    seed_everything(config.seed)
    validated, features, split = read_aligned(
        "data/validated.parquet", "data/features.parquet", "data/split.parquet"
    )
    y = validated[TARGET].to_numpy()
    classes = class_names(validated, task)
    groups = None
    if config.search.method != "none":
        groups = cv_groups_of(validated[SMILES].tolist(), config.search.cv_groups)
    parts = partitions(split)
    shutil.rmtree(OUT, ignore_errors=True)
    chosen, cv_scores, trials_run, val_metrics = {}, {}, {}, {}
    for part in parts:

        def log_trial(number: int, trial: dict, value: float, name: str = part.name) -> None:
            tracking.log_metrics({f"{name}.search_cv_score": value}, step=number)
            print(f"baseline {name} trial {number}: {trial} -> {value:.4f}")

        started = time.perf_counter()
        member = fit_member(features, y, groups, part.train, task, len(classes), config, log_trial)
        save_sklearn_member(OUT / part.name, member.estimator, member.prep)
        chosen[part.name] = member.hyperparameters
        neighbours = member.hyperparameters.get("n_neighbors") if config.model == "knn_tanimoto" else None
        if neighbours is not None and neighbours >= len(part.train):
            print(f"baseline {part.name}: warning: knn_tanimoto.n_neighbors {neighbours} is not below the "
                  f"{len(part.train)} training molecules: every prediction is their (weighted) mean")
        leaf = member.hyperparameters.get("min_samples_leaf") if config.model in TREES else None
        if isinstance(leaf, int) and 2 * leaf > len(part.train):  # a fraction is never too big
            print(f"baseline {part.name}: warning: {config.model}.min_samples_leaf {leaf} leaves the trees no "
                  f"split on {len(part.train)} training molecules (a split needs 2 x {leaf}): every prediction "
                  "is their mean; lower it")
        tracking.log_params(member.hyperparameters, f"{part.name}.chosen.")
        summary = f"baseline {part.name}: {config.model} {member.hyperparameters}"
        if member.search is not None:
            cv_scores[part.name] = member.search.cv_score
            write_json(OUT / part.name / "search.json", member.search.__dict__)
            tracking.log_metrics({f"{part.name}.cv_{member.search.metric}": member.search.cv_score})
            summary += f", CV {member.search.metric} {member.search.cv_score:.4f}"
            trials_run[part.name] = len(member.search.trials)
            note = timeout_note(config.search, len(member.search.trials))
            if note:
                print(f"baseline {part.name}: note: {note}")
        if len(part.val):
            val_pred = predict_member(member.estimator, member.prep, features.iloc[part.val], task,
                                      len(classes))
            val_scores = score(task, y[part.val], val_pred)
            tracking.log_metrics({f"{part.name}.val_{k}": v for k, v in val_scores.items()})
            prefix = "" if len(parts) == 1 else f"{part.name}_"  # as train's ensemble_validation
            val_metrics |= {f"{prefix}val_{k}": v for k, v in val_scores.items()}
            summary += f", validation {val_scores}"
        print(f"{summary} ({time.perf_counter() - started:.1f} s)")
    extra = {"model": config.model, "hyperparameters": chosen, "cv_score": cv_scores,
             "cv_metric": objective_metric(task)[0] if cv_scores else None,
             # the search settings only where one ran: others would re-run evaluate for nothing
             "search": {k: v for k, v in cfg["search"].items() if k != "space"}
             | {"space": dict(config.search.space), "trials_run": trials_run}
             if config.search.method != "none" else {"method": "none"}}
    used_groups = ["morgan"] if config.model == "knn_tanimoto" else list(config.features)
    card = ModelCard("sklearn", task, used_groups, [p.name for p in parts], classes, extra)
    save_card(OUT, card)
    save_model_context(OUT, validated, np.concatenate([p.train for p in parts]), val_metrics or None)
    tracking.log_model_dir(OUT)


if __name__ == "__main__":
    run_stage(main)
