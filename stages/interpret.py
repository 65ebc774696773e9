"""Stage interpret: why the models predict what they do, and where they fail.

Writes reports/interpret/: index.html (one self-contained page, opens offline),
feature_importance.csv/.png (baseline feature importance: TreeSHAP for trees, linear SHAP for
ridge / logistic regression, permutation importance for any other kind such as k-NN; the
table's method column names it), worst_<model>.csv (worst test predictions with scaffold and
nearest non-test neighbour), maps/<model>_<kind>_<k>.png (atom-contribution maps) and
maps_<model>.png (the maps of one model on one picture).
"""

from __future__ import annotations

# first: Ctrl-C or SIGTERM during the imports below then gets one line, not a traceback
from common import read_params, run_stage

import shutil
from pathlib import Path

import pandas as pd

from molprop.data.tables import class_names, read_aligned, recorded_settings
from molprop.evaluation.predictions import MODELS
from molprop.features.graph_store import has_graphs, load_aligned_graphs
from molprop.features.parallel import WorkerPool
from molprop.interpretation import sections
from molprop.interpretation.baseline_model import load_sklearn_model
from molprop.interpretation.drawing import picture_grid
from molprop.interpretation.errors import with_class_labels
from molprop.interpretation.explain import method_note
from molprop.interpretation.page import render_page
from molprop.interpretation.plots import plot_importance
from molprop.interpretation.run import (InterpretConfig, Molecules, baseline_importance, choose_for_maps,
                                        draw_maps, molecule_table)
from molprop.molecules import parse_validated
from molprop.schema import FEATURIZE_SETTINGS_KEY, MOL_ID, SMILES
from molprop.serialization import SIGNIFICANT

OUT = Path("reports/interpret")
GRAPHS = Path("data/graphs.parquet")
FEATURES = Path("data/features.parquet")
# What the helper process's server imports before the helper forks from it: torch and the
# modules of the network's maps, the picture grids and the importance chart (matplotlib is
# imported by the grid).
HELPER_PRELOAD = ["torch", "molprop.interpretation.attribution", "molprop.interpretation.drawing",
                  "molprop.interpretation.plots"]


def main() -> None:
    params = read_params("data", "featurize", "interpret")
    task = params["data"]["task"]
    # the fingerprints' settings as featurize recorded them (params.yaml's may have changed since)
    # (without fingerprints, `morgan.enabled: false`, featurize records no radius or bit count)
    morgan = (recorded_settings(FEATURES, FEATURIZE_SETTINGS_KEY) or params["featurize"])["morgan"]
    config = InterpretConfig(radius=morgan.get("radius"), n_bits=morgan.get("n_bits"), **params["interpret"])
    # The network's maps (torch, integrated gradients) are drawn in a helper process on another
    # core while this one explains the baseline; the helper's server imports torch meanwhile.
    with WorkerPool(1, draw_maps, HELPER_PRELOAD) as helper:
        validated, features, split = read_aligned(
            "data/validated.parquet", "data/features.parquet", "data/split.parquet"
        )
        predictions = pd.read_parquet("data/predictions.parquet")
        classes = class_names(validated, task)
        mols = parse_validated(validated[SMILES], validated[MOL_ID], "molecule", "data/validated.parquet")
        graphs = load_aligned_graphs(GRAPHS, validated[MOL_ID].tolist()) if has_graphs(GRAPHS) else None
        data = Molecules(mols, molecule_table(validated, split), features, graphs)
        neighbours = data.neighbours()
        requests = {name: choose_for_maps(name, predictions, data, neighbours, task, config) for name in MODELS}
        network = {name: helper.submit(draw_maps, str(Path("models") / name), requests[name], config)
                   for name in MODELS if name != "baseline"}
        shutil.rmtree(OUT, ignore_errors=True)
        (OUT / "maps").mkdir(parents=True)

        baseline = load_sklearn_model("models/baseline")
        found = baseline_importance(baseline, data, predictions[MOL_ID], config)
        found.importance.to_csv(OUT / "feature_importance.csv", index=False, float_format=SIGNIFICANT)
        top = found.importance.dropna(subset=["importance"]).head(config.n_top_features)
        chart_args = (top, OUT / "feature_importance.png", f"Baseline ({baseline.name}): {found.method} "
                      f"over {found.n_explained} test molecules", f"{found.measure} ({found.output_name})",
                      found.direction_of)
        # the helper draws the chart if it is done with the network's maps, while this process
        # draws the baseline's; its page section is made once the chart is there
        chart = helper.submit(plot_importance, *chart_args) if all(f.done() for f in network.values()) else None
        if chart is None:
            plot_importance(*chart_args)
        if found.n_explained < found.n_test:
            print(f"interpret: baseline importance over {found.explained}")
        page = []

        by_id = dict(zip(validated[MOL_ID], mols))
        headings = {"baseline": f"Baseline ({baseline.name})", "model": "Model (neural network)"}
        grids = []
        for position, name in enumerate(MODELS, 1):
            model = baseline if name == "baseline" else Path("models") / name
            output = baseline.output_name() if name == "baseline" else (
                "probability of the predicted class" if classes else "prediction")
            result = (draw_maps(baseline, requests[name], config, data.learned_features(), found)
                      if name == "baseline" else network[name].result())
            with_class_labels(result.worst, classes).to_csv(OUT / f"worst_{name}.csv", index=False,
                                                            float_format=SIGNIFICANT)
            titles, groups, captions = sections.model_cards(result.chosen, result.explanations, result.pictures,
                                                            classes)
            for title, png in zip(titles, result.pictures):
                (OUT / "maps" / f"{name}_{title.replace(' #', '_')}.png").write_bytes(png)
            grid_args = (result.pictures, captions, OUT / f"maps_{name}.png",
                         f"{headings[name]}: atom contributions (green raises, pink lowers the {output})")
            # a model's grid of maps is drawn in the helper while this process goes on; the
            # last model's here, while the helper finishes the ones before (none: no maps asked for)
            if result.pictures and position < len(MODELS):
                grids.append(helper.submit(picture_grid, *grid_args))
            elif result.pictures:
                picture_grid(*grid_args)
            if result.permutation != config.permutation:
                print(f"interpret {name}: permutation SHAP cut to interpret.permutation.max_seconds: "
                      f"{result.permutation.n_permutations} ordering(s), {result.permutation.n_background} "
                      "background molecules")
            note = (f"{method_note(model, config.ig_steps, result.permutation)} Green raises the {output}, pink "
                    f"lowers it; one colour scale for all maps of this model (full colour = {result.scale:.3g})."
                    if result.pictures else "No maps drawn: interpret.n_maps_worst and interpret.n_maps_typical are 0.")
            page.append((f"{headings[name]}: atom contributions", sections.maps_section(note, groups)))
            page.append((f"{headings[name]}: worst predictions and their nearest non-test molecules",
                         sections.errors_section(result.worst, by_id, classes)))
            print(f"interpret {name}: worst error {sections.num(result.worst['error'].iloc[0])} "
                  f"({result.worst[SMILES].iloc[0]})")
        if chart is not None:
            chart.result()
        note = sections.importance_note(found.method, baseline.name, found.explained, found.output_name,
                                        found.importance, config.permutation.n_repeats, found.direction_of)
        page.insert(0, (f"Baseline: which features matter ({found.method})", sections.importance_section(
            (OUT / "feature_importance.png").read_bytes(), found.importance, config.n_top_bits, found.bits,
            mols, config.n_bit_examples, note, found.measure)))
        for grid in grids:
            grid.result()

    intro = (f"Test-set explanations of the baseline and the model ({task}, "
             f"{len(predictions)} test molecules). Generated by the interpret stage of the molprop pipeline.")
    (OUT / "index.html").write_text(render_page("molprop: model interpretation", intro, page))
    if found.importance["importance"].fillna(0).eq(0).all():  # e.g. one test molecule: nothing to shuffle among
        print(f"interpret: warning: every feature's importance is 0 over {found.explained}: the chart ranks "
              "nothing (too few molecules explained, or one target value for all training molecules?)")
    else:
        print(f"interpret: baseline {baseline.name} explained by {found.method}; top features "
              f"{found.importance.feature.head(5).tolist()}")


if __name__ == "__main__":
    run_stage(main)
