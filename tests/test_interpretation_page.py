"""The interpretation page and its pictures: self-contained, escaped, repeatable bytes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molprop.interpretation.drawing import (environment_svg, grid_figure, molecule_svg, picture_grid,
                                            similarity_map_png)
from molprop.interpretation.explain import MoleculeExplanation
from molprop.interpretation.page import card, png_img, render_page, table_html
from molprop.interpretation.sections import errors_section, importance_section, map_card, value_text

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_similarity_maps_are_png_and_repeat_byte_for_byte():
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    weights = np.linspace(-1, 1, mol.GetNumAtoms())
    first = similarity_map_png(mol, weights, scale=1.0)
    assert first.startswith(PNG_MAGIC) and first == similarity_map_png(mol, weights, scale=1.0)
    assert first != similarity_map_png(mol, -weights, scale=1.0)


def test_single_atom_molecules_are_drawn_too():
    assert similarity_map_png(Chem.MolFromSmiles("C"), [0.5], scale=1.0).startswith(PNG_MAGIC)
    assert similarity_map_png(Chem.MolFromSmiles("[Na+]"), [0.0], scale=0.0).startswith(PNG_MAGIC)


def test_svgs_are_ready_to_inline():
    mol = Chem.MolFromSmiles("c1ccccc1O")
    for svg in (environment_svg(mol, 6, 1, "phenol OH"), molecule_svg(mol, "phenol")):
        assert svg.startswith("<svg") and svg.endswith("</svg>") and "<?xml" not in svg


def test_picture_grid_repeats_byte_for_byte(tmp_path):
    mol = Chem.MolFromSmiles("CCO")
    pictures = [similarity_map_png(mol, [0.1, -0.2, 0.3], 0.3)] * 2
    picture_grid(pictures, ["a", "b"], tmp_path / "one.png", "title", columns=2)
    picture_grid(pictures, ["a", "b"], tmp_path / "two.png", "title", columns=2)
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()


@pytest.mark.parametrize("n_maps", [3, 9, 15])
def test_the_grid_s_title_stays_above_the_captions(n_maps):
    import matplotlib.pyplot as plt

    pictures = [similarity_map_png(Chem.MolFromSmiles("CCO"), [0.1, -0.2, 0.3], 0.3)] * n_maps
    fig = grid_figure(pictures, [f"worst #{i}\nerror 1.23" for i in range(n_maps)], "Model: atom contributions")
    renderer = fig.canvas.get_renderer()
    title_bottom = fig._suptitle.get_window_extent(renderer).y0
    captions_top = max(ax.title.get_window_extent(renderer).y1 for ax in fig.axes if ax.get_title())
    plt.close(fig)
    assert title_bottom > captions_top


def test_page_is_self_contained_and_escapes_text():
    png = similarity_map_png(Chem.MolFromSmiles("CCO"), [0.1, -0.2, 0.3], 0.3)
    rows = [{"smiles": "C<O>&", "picture": png_img(png, "map")}]
    page = render_page("t <1>", "intro & more", [("section", table_html(rows, ["smiles", "picture"],
                                                                          markup=["picture"]))])
    assert "C&lt;O&gt;&amp;" in page and "t &lt;1&gt;" in page
    assert 'src="data:image/png;base64,' in page


@pytest.mark.parametrize("bad", ['<img src="https://cdn.example/x.png">', "<script src=x.js></script>",
                                 '<link href="style.css">', "<style>@import 'x.css';</style>",
                                 '<div style="background: url(http://x/y.png)"></div>'])
def test_page_refuses_anything_loaded_from_outside(bad):
    with pytest.raises(ValueError, match="outside resource"):
        render_page("t", "i", [("s", bad)])


def test_page_accepts_fragments_and_data_uris():
    body = '<a href="#top">top</a><svg><rect fill="url(#g)"/></svg><img src="data:image/png;base64,AA==">'
    assert "#top" in render_page("t", "i", [("s", body)])


def test_map_card_shows_values_and_how_the_output_splits():
    e = MoleculeExplanation(base=-3.0, output=-5.5, atoms=np.array([-1.0, -0.5]), other_total=-1.0,
                            top_other=[("desc_BertzCT", -0.75)])
    row = {"smiles": "CO", "measured": -5.0, "predicted": -5.5, "error": 0.5}
    html = map_card(b"\x89PNG", "worst #1", row, e, [], "other")
    assert "measured -5, predicted -5.5, error 0.5" in html
    assert "baseline -3 + atoms -1.5 + other -1" in html and "desc_BertzCT -0.75" in html
    # targets in small units keep their digits (two decimals showed "measured -0.00")
    tiny = MoleculeExplanation(base=-3e-6, output=-5.5e-6, atoms=np.array([-1e-6, -0.5e-6]), other_total=-1e-6,
                               top_other=[])
    html = map_card(b"\x89PNG", "worst #1", {"smiles": "CO", "measured": -5.1234e-6, "predicted": -5.5e-6,
                                              "error": 3.766e-7}, tiny, [], "other")
    assert "measured -5.123e-06, predicted -5.5e-06, error 3.766e-07" in html and "atoms -1.5e-06" in html


def test_value_text_names_classes():
    assert value_text(1, ["inactive", "active"]) == "active" and value_text(-1.23456, []) == "-1.235"


def test_errors_section_draws_both_molecules():
    mols = {"q": Chem.MolFromSmiles("CCO"), "t": Chem.MolFromSmiles("CCCO")}
    described = pd.DataFrame([{"mol_id": "q", "row": 7, "smiles": "CCO", "measured": 1.0, "predicted": 2.0,
                               "error": 1.0, "scaffold": "", "n_nontest_same_scaffold": 3,
                               "neighbour_id": "t", "neighbour_smiles": "CCCO",
                               "neighbour_similarity": 0.5, "neighbour_measured": 1.5,
                               "neighbour_split": "train"}])
    html = errors_section(described, mols, [])
    assert html.count("<svg") == 2 and "(acyclic)" in html
    assert "<td class=\"num\">7</td>" in html and "<code>CCCO</code> (train)" in html


def test_errors_section_without_a_neighbour():
    described = pd.DataFrame([{"mol_id": "q", "row": 7, "smiles": "[Xe]", "measured": 1.0, "predicted": 2.0,
                               "error": 1.0, "scaffold": "", "n_nontest_same_scaffold": 0,
                               "neighbour_id": None, "neighbour_smiles": None, "neighbour_similarity": 0.0,
                               "neighbour_measured": float("nan"), "neighbour_split": None}])
    html = errors_section(described, {"q": Chem.MolFromSmiles("[Xe]")}, [])
    assert html.count("<svg") == 1 and "none: no Morgan environment in common" in html


def test_card_escapes_caption_lines():
    assert "a&lt;b" in card("<img>", ["a<b"])


def test_no_fingerprint_table_says_why():
    """interpret.n_top_bits 0 made the page say the baseline used no fingerprint, though it did."""
    importance = pd.DataFrame({"feature": ["desc_TPSA", "fp_7"], "importance": [1.0, 0.5],
                               "direction": [0.5, -0.5]})
    png = b"\x89PNG\r\n\x1a\n"
    shown = importance_section(png, importance, 0, {}, [], 3, "note", "mean |SHAP|")
    assert "interpret.n_top_bits is 0" in shown and "no fingerprint." not in shown
    shown = importance_section(png, importance.iloc[:1], 20, {}, [], 3, "note", "mean |SHAP|")
    assert "The baseline uses no fingerprint." in shown
