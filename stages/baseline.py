"""Stage baseline: a scikit-learn random forest on the molecular features.

Fits one forest on the training part (or one per fold in k-fold mode), saves it under
models/baseline (skops + JSON, no pickle) and logs params, validation metrics and the model
to MLflow. The test part is not touched here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from common import read_params

from molprop import tracking
from molprop.data.tables import class_names, read_aligned
from molprop.evaluation.metrics import score
from molprop.models.baseline import ForestConfig, fit_random_forest
from molprop.models.matrix import Preprocessor, select_feature_columns
from molprop.models.partitions import partitions
from molprop.models.store import ModelCard, predict_sklearn, save_card, save_sklearn_member
from molprop.schema import TARGET
from molprop.seeding import seed_everything

OUT = Path("models/baseline")


def main() -> None:
    params = read_params("data", "baseline")
    task, cfg = params["data"]["task"], params["baseline"]
    seed_everything(cfg["seed"])
    validated, features, split = read_aligned(
        "data/validated.parquet", "data/features.parquet", "data/split.parquet"
    )
    columns = select_feature_columns(list(features.columns), cfg["features"])
    y = validated[TARGET].to_numpy()
    forest = ForestConfig(
        n_estimators=cfg["n_estimators"],
        max_features=cfg["max_features"],
        min_samples_leaf=cfg["min_samples_leaf"],
        seed=cfg["seed"],
        n_jobs=cfg["n_jobs"],
    )
    parts = partitions(split)
    classes = class_names(validated, task)
    shutil.rmtree(OUT, ignore_errors=True)
    with tracking.mlflow_run("molprop", "baseline", params):
        for part in parts:
            prep = Preprocessor.fit(features.iloc[part.train], columns, scale=False)
            model = fit_random_forest(prep.transform(features.iloc[part.train]), y[part.train], task, forest)
            save_sklearn_member(OUT / part.name, model, prep)
            if len(part.val):
                val_pred = predict_sklearn(OUT / part.name, features.iloc[part.val], task, len(classes))
                val_scores = score(task, y[part.val], val_pred)
                tracking.log_metrics({f"{part.name}.val_{k}": v for k, v in val_scores.items()})
                print(f"baseline {part.name}: validation {val_scores}")
        save_card(OUT, ModelCard("sklearn", task, cfg["features"], [p.name for p in parts], classes))
        tracking.log_model_dir(OUT)


if __name__ == "__main__":
    main()
