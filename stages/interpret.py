"""Stage interpret: baseline feature importance and the worst-predicted test molecules.

Writes reports/interpret/: feature_importance.csv (+ .png), worst_<model>.csv per model.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from common import read_params

from molprop.evaluation.predictions import MODELS
from molprop.interpretation.errors import worst_predictions
from molprop.interpretation.importance import forest_importance
from molprop.interpretation.plots import plot_importance
from molprop.models.store import load_card

OUT = Path("reports/interpret")


def main() -> None:
    cfg = read_params("interpret")["interpret"]
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    baseline_model = load_card(Path("models/baseline")).extra.get("model", "random_forest")
    if baseline_model == "random_forest":
        importance = forest_importance("models/baseline")
        importance.round(8).to_csv(OUT / "feature_importance.csv", index=False)
        plot_importance(importance.head(cfg["n_top_features"]), OUT / "feature_importance.png")
        print(f"interpret: top features {importance.feature.head(5).tolist()}")
    else:
        print(f"interpret: no feature importance for a {baseline_model} baseline (random_forest only)")
    predictions = pd.read_parquet("data/predictions.parquet")
    for model in MODELS:
        worst = worst_predictions(predictions, model, cfg["n_worst"])
        worst.round(6).to_csv(OUT / f"worst_{model}.csv", index=False)


if __name__ == "__main__":
    main()
