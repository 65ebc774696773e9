"""The sections of the interpretation page (HTML fragments built from computed results)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import pandas as pd
from rdkit import Chem

from molprop.interpretation.drawing import environment_svg, molecule_svg
from molprop.interpretation.explain import MoleculeExplanation
from molprop.interpretation.morgan_bits import BitExample
from molprop.interpretation.page import card, png_img, table_html, text
from molprop.schema import MOL_ID, SMILES


def num(value: float, sign: str = "") -> str:
    """A value as shown to a reader: 4 significant digits whatever the units (two decimals
    showed targets of ~1e-6 as -0.00); ``sign="+"`` always writes the sign."""
    return f"{value:{sign}.4g}"


def value_text(value: float, classes: Sequence[str]) -> str:
    """A measured or predicted value as shown to a reader: a class name or :func:`num`."""
    if classes:
        return str(classes[int(value)])
    return num(value)


def importance_note(method: str, model_name: str, explained: str, output_name: str,
                    importance: pd.DataFrame, n_repeats: int, direction_of: str | None = None) -> str:
    """How the baseline's feature importance was computed, for a reader of the chart;
    ``direction_of``: what a positive direction raises (None: no direction, 3+ classes)."""
    if direction_of is None:
        direction = ("Direction: none (grey) with more than two classes: each molecule's {} is toward its own "
                     "predicted class, so no one sign holds for all.")
    elif direction_of == output_name:
        direction = ("Direction: correlation of the feature's value with its {} (+: a larger value raises "
                     f"the {output_name}).")
    else:  # two classes: each molecule's values turned toward class 1
        direction = ("Direction: correlation of the feature's value with its {} toward one class (for a "
                     "molecule predicted as the other class, the negative of its own), +: a larger value "
                     f"raises the {direction_of}.")
    if method == "permutation importance":
        unranked = int(importance["importance"].isna().sum())
        shuffled = (f"Of the columns that vary among these molecules, those varying most were shuffled; "
                    f"{unranked} others were not (unranked, empty in the table)" if unranked else
                    "Every column that varies among these molecules was shuffled")
        return (f"Method: permutation importance of the {model_name} on {explained} (model-agnostic: the "
                f"{model_name} has no exact SHAP algorithm). Each feature column is shuffled among these "
                f"molecules ({n_repeats} seeded shuffles); bars: the mean |change| of the {output_name} it "
                f"causes, in the units of the {output_name}. {shuffled}; columns constant over these "
                "molecules score 0. " + direction.format("change"))
    how = {"TreeSHAP": "TreeSHAP: exact SHAP values of the tree ensemble",
           "linear SHAP": "linear SHAP: exact SHAP values, coefficient x (input - mean input over the "
                          "non-test molecules)"}.get(method, method)
    return (f"Method: {how}, of the {model_name} on {explained}; bars: mean |SHAP| (how much a feature "
            f"moves the {output_name}, in its units). " + direction.format("SHAP value"))


def importance_section(chart_png: bytes, importance: pd.DataFrame, n_top_bits: int,
                       bits: Mapping[int, list[BitExample]], mols: Sequence[Chem.Mol], n_examples: int,
                       note: str, measure: str) -> str:
    """The bar chart of the top features under ``note`` (how the importance was computed),
    then a table of the most important fingerprint positions (their ``importance`` headed
    ``measure``) with the substructures that set them in the dataset (more than one: a hash
    collision)."""
    rows = []
    fingerprint = importance[importance["feature"].str.startswith("fp_")].head(n_top_bits)
    for item in fingerprint.itertuples():
        examples = bits.get(int(item.feature[3:]), [])
        pictures = "".join(environment_svg(mols[e.example], *e.environment, f"{e.smiles} · {e.n_molecules} mol.")
                           for e in examples[:n_examples])
        if len(examples) > n_examples:
            pictures += text(f" + {len(examples) - n_examples} more substructures")
        rows.append({"rank": item.Index + 1, "feature": item.feature,
                     measure: "" if pd.isna(item.importance) else num(item.importance),
                     "direction": "" if pd.isna(item.direction) else f"{item.direction:+.2f}",
                     "substructures setting it": pictures})
    columns = ["rank", "feature", measure, "direction", "substructures setting it"]
    note = f'<p class="note">{text(note)}</p>'
    table_note = ("<h3>Most important fingerprint positions</h3><p class=\"note\">Rank among all "
                  "features. Each substructure that sets the position in the dataset is drawn on "
                  "the smallest molecule containing it (blue: centre atom, yellow: aromatic, grey: "
                  "ring), with the number of molecules containing it.</p>")
    if not rows:
        why = ("interpret.n_top_bits is 0: no fingerprint positions are drawn" if n_top_bits == 0 and
               importance["feature"].str.startswith("fp_").any() else "The baseline uses no fingerprint")
        return note + png_img(chart_png, "feature importance") + f"<p>{why}.</p>"
    return (note + png_img(chart_png, "feature importance") + table_note + table_html(
        rows, columns, markup=[columns[-1]], numeric=["rank", measure, "direction"]))


def _leftover(e: MoleculeExplanation) -> str:
    """What the parts leave of the output at the caption's precision: integrated gradients'
    integration error (the SHAP values of the baseline add up exactly)."""
    rest = e.output - e.base - e.atoms_total - e.other_total
    scale = abs(e.base) + abs(e.atoms_total) + abs(e.other_total)
    return f" + integration error {num(rest, '+')}" if abs(rest) >= 5e-4 * scale and rest != 0 else ""


def map_card(png: bytes, title: str, row: Mapping[str, object], explanation: MoleculeExplanation,
             classes: Sequence[str], other_label: str) -> str:
    """One similarity map with what was measured and predicted and how the output splits."""
    e = explanation
    lines = [title, str(row[SMILES]),
             f"measured {value_text(row['measured'], classes)}, predicted "
             f"{value_text(row['predicted'], classes)}, error {num(row['error'])}",
             f"explained output {num(e.output)} = baseline {num(e.base)} + atoms {num(e.atoms_total, '+')}"
             f" + {other_label} {num(e.other_total, '+')}" + _leftover(e)]
    if e.top_other:
        lines.append("largest " + other_label + ": " + ", ".join(f"{n} {num(v, '+')}" for n, v in e.top_other))
    return card(png_img(png, title), lines)


def model_cards(chosen: pd.DataFrame, explanations: Sequence[MoleculeExplanation], pictures: Sequence[bytes],
                classes: Sequence[str]) -> tuple[list[str], list[tuple[str, list[str]]], list[str]]:
    """For the explained molecules of one model (rows of ``chosen`` with their ``kind``):
    picture titles ("worst #1", "typical #2"...), the HTML cards grouped under a heading per
    kind, and short captions for a picture grid."""
    titles, cards, captions, ranks = [], {"worst": [], "typical": []}, [], Counter()
    for row, e, png in zip(chosen.to_dict("records"), explanations, pictures):
        ranks[row["kind"]] += 1
        titles.append(f"{row['kind']} #{ranks[row['kind']]}")
        cards[row["kind"]].append(map_card(png, titles[-1], row, e, classes, "other"))
        smiles = row[SMILES] if len(row[SMILES]) <= 34 else row[SMILES][:33] + "…"
        captions.append(f"{titles[-1]}: {smiles}\nmeasured {value_text(row['measured'], classes)}, "
                        f"predicted {value_text(row['predicted'], classes)}\n"
                        f"atoms {num(e.atoms_total, '+')}, other {num(e.other_total, '+')}")
    groups = [("Worst-predicted test molecules", cards["worst"]), ("Typical errors", cards["typical"])]
    return titles, groups, captions


def maps_section(note: str, groups: Sequence[tuple[str, Sequence[str]]]) -> str:
    """Cards of similarity maps under a note, grouped under sub-headings (a group without
    cards is left out)."""
    body = [f'<p class="note">{text(note)}</p>']
    for heading, cards in (g for g in groups if g[1]):
        body.append(f"<h3>{text(heading)}</h3><div class=\"cards\">{''.join(cards)}</div>")
    return "\n".join(body)


def _neighbour_cell(item: Mapping, mols_by_id: Mapping[str, Chem.Mol]) -> str:
    if pd.isna(item["neighbour_id"]):
        return "none: no Morgan environment in common with any non-test molecule"
    return (molecule_svg(mols_by_id[item["neighbour_id"]])
            + f"<br><code>{text(item['neighbour_smiles'])}</code> ({text(item['neighbour_split'])})")


def errors_section(described: pd.DataFrame, mols_by_id: Mapping[str, Chem.Mol],
                   classes: Sequence[str]) -> str:
    """The worst predictions side by side with the nearest non-test molecule."""
    rows = []
    for item in described.to_dict("records"):
        rows.append({
            "input row": item["row"],
            "test molecule": molecule_svg(mols_by_id[item[MOL_ID]]) + f"<br><code>{text(item[SMILES])}</code>",
            "measured": value_text(item["measured"], classes),
            "predicted": value_text(item["predicted"], classes),
            "error": num(item["error"]),
            "scaffold": item["scaffold"] or "(acyclic)",
            "non-test molecules with this scaffold": item["n_nontest_same_scaffold"],
            "nearest non-test molecule": _neighbour_cell(item, mols_by_id),
            "Tanimoto": f"{item['neighbour_similarity']:.2f}",
            "its measured value": "" if pd.isna(item["neighbour_measured"])
            else value_text(item["neighbour_measured"], classes),
        })
    columns = list(rows[0]) if rows else ["test molecule"]
    numeric = ["input row", "measured", "predicted", "error", "non-test molecules with this scaffold", "Tanimoto",
               "its measured value"]
    note = ("<p class=\"note\">Nearest neighbour: highest Tanimoto similarity (Morgan radius 2, 2048 "
            "bits) among the non-test molecules: the train and validation parts, which both shaped "
            "the models (early stopping, calibration), so it can be closer than the train-part-only "
            "similarity of evaluate (metrics/domain.json). A low similarity or an unseen scaffold means the "
            "model extrapolated; a close neighbour with a very different measured value points to "
            "an activity cliff or a questionable measurement.</p>")
    return note + table_html(rows, columns, markup=["test molecule", "nearest non-test molecule"],
                             numeric=numeric)
