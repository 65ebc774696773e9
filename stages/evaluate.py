"""Stage evaluate: test-set metrics of the baseline and the model.

The only stage that predicts the test part. Writes metrics/evaluate.json (DVC metrics),
data/predictions.parquet (per-molecule predictions) and plots/pred_vs_measured.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from common import read_params

from molprop.data.tables import read_aligned
from molprop.evaluation.metrics import score, summarize_members
from molprop.evaluation.predictions import MODELS, plot_table, prediction_table
from molprop.features.graph_store import has_graphs, load_aligned_graphs
from molprop.models.predictor import predict_saved
from molprop.schema import MOL_ID, SPLIT, TARGET
from molprop.serialization import write_json

GRAPHS = Path("data/graphs.parquet")


def main() -> None:
    params = read_params("data", "evaluate")
    task, cfg = params["data"]["task"], params["evaluate"]
    validated, features, split = read_aligned(
        "data/validated.parquet", "data/features.parquet", "data/split.parquet"
    )
    test = np.flatnonzero(split[SPLIT].to_numpy() == "test")
    if len(test) == 0:
        raise SystemExit("evaluate: the split has no test molecules; raise split test fraction.")
    y = validated[TARGET].to_numpy()[test]
    graphs = None
    if has_graphs(GRAPHS):
        every = load_aligned_graphs(GRAPHS, validated[MOL_ID].tolist())
        graphs = [every[i] for i in test]
    predictions = {
        name: predict_saved(Path("models") / name, features.iloc[test], cfg["device"], graphs)
        for name in MODELS
    }
    metrics: dict = {"task": task, "n_test": int(len(test))}
    for name, pred in predictions.items():
        metrics[name] = score(task, y, pred.mean)
        if len(pred.names) > 1:
            metrics[f"{name}_members"] = summarize_members([score(task, y, m) for m in pred.members])
    table = prediction_table(validated.iloc[test], predictions, task)
    Path("plots").mkdir(exist_ok=True)
    plot_table(table).to_csv("plots/pred_vs_measured.csv", index=False)
    table.to_parquet("data/predictions.parquet", index=False)
    write_json("metrics/evaluate.json", metrics)
    print(f"evaluate: {metrics}")


if __name__ == "__main__":
    main()
