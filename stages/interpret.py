"""Stage interpret: why the models predict what they do, and where they fail.

Writes reports/interpret/: index.html (one self-contained page, opens offline),
feature_importance.csv/.png (baseline SHAP), worst_<model>.csv (worst test predictions with
scaffold and nearest training neighbour), maps/<model>_<kind>_<k>.png (atom-contribution
maps) and maps_<model>.png (the maps of one model on one picture).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from common import read_params

from molprop.data.tables import class_names, read_aligned
from molprop.evaluation.predictions import MODELS
from molprop.features.graph_store import has_graphs, load_aligned_graphs
from molprop.interpretation import sections
from molprop.interpretation.drawing import picture_grid
from molprop.interpretation.explain import method_note
from molprop.interpretation.page import render_page
from molprop.interpretation.plots import plot_importance
from molprop.interpretation.run import (InterpretConfig, Molecules, baseline_importance, explain_model,
                                        molecule_table)
from molprop.molecules import parse_validated
from molprop.schema import MOL_ID, SMILES

OUT = Path("reports/interpret")
GRAPHS = Path("data/graphs.parquet")
TITLES = {"baseline": "Baseline (random forest)", "model": "Model (neural network)"}


def main() -> None:
    params = read_params("data", "featurize", "interpret")
    task = params["data"]["task"]
    morgan = params["featurize"]["morgan"]
    config = InterpretConfig(radius=morgan["radius"], n_bits=morgan["n_bits"], **params["interpret"])
    validated, features, split = read_aligned(
        "data/validated.parquet", "data/features.parquet", "data/split.parquet"
    )
    predictions = pd.read_parquet("data/predictions.parquet")
    classes = class_names(validated, task)
    mols = parse_validated(validated[SMILES], validated[MOL_ID], "molecule", "data/validated.parquet")
    graphs = load_aligned_graphs(GRAPHS, validated[MOL_ID].tolist()) if has_graphs(GRAPHS) else None
    data = Molecules(mols, molecule_table(validated, split), features, graphs)
    neighbours = data.neighbours()
    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "maps").mkdir(parents=True)

    found = baseline_importance("models/baseline", data, predictions[MOL_ID], config)
    found.importance.round(8).to_csv(OUT / "feature_importance.csv", index=False)
    top = found.importance.head(config.n_top_features)
    output = "probability of the predicted class" if classes else "prediction"
    plot_importance(top, OUT / "feature_importance.png", f"Baseline: mean |SHAP| over "
                    f"{found.n_explained} test molecules", f"mean |SHAP| ({output})")
    page = [("Baseline: which features matter", sections.importance_section(
        (OUT / "feature_importance.png").read_bytes(), found.importance, config.n_top_bits, found.bits,
        mols, config.n_bit_examples,
        f"{found.n_explained} test molecules"))]

    by_id = dict(zip(validated[MOL_ID], mols))
    for name in MODELS:
        result = explain_model(name, Path("models") / name, predictions, data, neighbours, task, config)
        result.worst.round(6).to_csv(OUT / f"worst_{name}.csv", index=False)
        cards, captions, groups = [], [], []
        for k, (row, e, png) in enumerate(zip(result.chosen.to_dict("records"), result.explanations,
                                              result.pictures)):
            rank = k + 1 if row["kind"] == "worst" else k + 1 - config.n_maps_worst
            title = f"{row['kind']} #{rank}"
            (OUT / "maps" / f"{name}_{row['kind']}_{rank}.png").write_bytes(png)
            cards.append((row["kind"], sections.map_card(png, title, row, e, classes, "other")))
            captions.append(f"{title}: {row[SMILES][:40]}\nmeasured "
                            f"{sections.value_text(row['measured'], classes)}, predicted "
                            f"{sections.value_text(row['predicted'], classes)}\n"
                            f"atoms {e.atoms_total:+.2f}, other {e.other_total:+.2f}")
        for kind, heading in (("worst", "Worst-predicted test molecules"), ("typical", "Typical errors")):
            groups.append((heading, [c for k, c in cards if k == kind]))
        picture_grid(result.pictures, captions, OUT / f"maps_{name}.png",
                     f"{TITLES[name]}: atom contributions (green raises, pink lowers the {output})")
        note = (f"{method_note(Path('models') / name, config.ig_steps)} Green raises the {output}, pink lowers it; one colour scale for all "
                f"maps of this model (full colour = {result.scale:.3g}).")
        page.append((f"{TITLES[name]}: atom contributions", sections.maps_section(note, groups)))
        page.append((f"{TITLES[name]}: worst predictions and their nearest training molecules",
                     sections.errors_section(result.worst, by_id, classes)))
        print(f"interpret {name}: worst error {result.worst['error'].iloc[0]:.3f} "
              f"({result.worst[SMILES].iloc[0]})")

    intro = (f"Test-set explanations of the baseline and the model ({task}, "
             f"{len(predictions)} test molecules). Generated by the interpret stage of the molprop pipeline.")
    (OUT / "index.html").write_text(render_page("molprop: model interpretation", intro, page))
    print(f"interpret: top features {found.importance.feature.head(5).tolist()}")


if __name__ == "__main__":
    main()
