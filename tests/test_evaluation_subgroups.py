"""Subgroup errors with flags, and the applicability domain."""

import numpy as np
import pytest
from rdkit import Chem

from molprop.evaluation.bootstrap import BootstrapConfig
from molprop.evaluation.domain import domain_report, max_train_similarity
from molprop.evaluation.subgroups import (
    ACYCLIC,
    OTHER,
    FlagRule,
    Grouping,
    binned_grouping,
    class_grouping,
    group_table,
    heavy_atoms,
    quantile_grouping,
    scaffold_grouping,
    summarize,
)

CONFIG = BootstrapConfig(n_resamples=300, seed=0)


def _mols(*smiles):
    return [Chem.MolFromSmiles(s) for s in smiles]


def test_scaffold_groups_pool_small_scaffolds_and_name_acyclic():
    mols = _mols("c1ccccc1C", "c1ccccc1O", "c1ccccc1CC", "CCO", "CCCC", "c1ccncc1C", "C1CCCCC1")
    exact = scaffold_grouping(mols, 2, generic=False)
    assert exact.labels.tolist() == ["c1ccccc1"] * 3 + [ACYCLIC] * 2 + [OTHER] * 2
    assert exact.order == ["c1ccccc1", ACYCLIC, OTHER]
    generic = scaffold_grouping(mols, 2, generic=True)  # benzene, pyridine, cyclohexane: one shape
    assert generic.labels.tolist() == ["C1CCCCC1"] * 3 + [ACYCLIC] * 2 + ["C1CCCCC1"] * 2
    assert generic.order == ["C1CCCCC1", ACYCLIC]


def test_binned_groups_close_the_last_bin_and_report_only_used_bins():
    grouping = binned_grouping("similarity", np.array([0.1, 0.35, 1.0, 0.3]), [0.0, 0.3, 0.6, 1.0])
    assert grouping.labels.tolist() == ["[0, 0.3)", "[0.3, 0.6)", "[0.6, 1]", "[0.3, 0.6)"]
    assert grouping.order == ["[0, 0.3)", "[0.3, 0.6)", "[0.6, 1]"]


def test_quantile_groups_are_about_equally_full_and_merge_tied_edges():
    values = np.arange(100.0)
    grouping = quantile_grouping("target", values, 4)
    counts = [int(np.sum(grouping.labels == g)) for g in grouping.order]
    assert counts == [25, 25, 25, 25]
    tied = quantile_grouping("size", np.array([5.0] * 8 + [9.0, 12.0]), 5)
    assert len(tied.order) < 5 and sum(np.sum(tied.labels == g) for g in tied.order) == 10
    single = quantile_grouping("size", np.full(4, 3.0), 5)
    assert single.order == ["[3, 3]"]
    # heavy-atom counts whose interpolated edge was 23.000000000000004: 23 went to "[20, 23)"
    sizes = np.array([7, 8, 10, 10, 11, 13, 14, 16, 17, 18, 18, 19, 20, 20, 20, 20, 21, 21, 22, 22, 23, 23, 24, 24,
                      24, 25, 26, 27, 29, 29, 32, 33, 35, 45, 46, 58], dtype=float)
    grouping = quantile_grouping("size", sizes, 5)
    for label in grouping.order:
        low, high = (float(x) for x in label[1:-1].split(", "))
        inside = sizes[grouping.labels == label]
        assert inside.min() >= low and (inside.max() <= high if label.endswith("]") else inside.max() < high)


def test_bins_of_close_values_keep_labels_of_their_own():
    # targets of ~1e6 with a spread of 100: every "[1e+06, 1e+06)" was one label, and each
    # such group was given the molecules of all of them (70 counted for 50 molecules)
    values = 1e6 + np.random.default_rng(0).random(50) * 100
    grouping = quantile_grouping("target", values, 5)
    assert len(set(grouping.order)) == len(grouping.order) == 5
    rows = group_table(grouping, {"model": np.abs(values - 1e6)}, FlagRule(), CONFIG, seed=0)
    assert sum(row["n"] for row in rows) == 50


def test_class_groups_use_class_names():
    grouping = class_grouping(np.array([1, 0, 1]), ["(A) low", "(B) high"])
    assert grouping.labels.tolist() == ["(B) high", "(A) low", "(B) high"]
    assert grouping.order == ["(A) low", "(B) high"]


def test_heavy_atoms():
    assert heavy_atoms(_mols("CCO", "c1ccccc1[O-]")).tolist() == [3.0, 7.0]


def _two_groups(bad_error, n_bad=20, n_good=80, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.array(["good"] * n_good + ["bad"] * n_bad, dtype=object)
    errors = np.concatenate([rng.uniform(0, 1, n_good), rng.uniform(0, 2 * bad_error, n_bad)])
    return Grouping("g", labels, ["good", "bad"]), errors


def test_a_much_worse_group_is_flagged_and_an_average_one_is_not():
    grouping, errors = _two_groups(bad_error=3.0)
    rows = group_table(grouping, {"model": errors}, FlagRule(5, 1.5), CONFIG, seed=0)
    good, bad = rows
    assert (good["group"], good["n"], bad["n"]) == ("good", 80, 20)
    assert bad["model_flagged"] and not good["model_flagged"]
    assert bad["model_ratio"] > 1.5 and bad["model_ci_low"] > np.mean(errors)
    summary = summarize(rows, ["model"], FlagRule(5, 1.5))
    assert summary == {"n_groups": 2, "model_n_flagged": 1, "model_worst_ratio": bad["model_ratio"]}


def test_no_flag_for_groups_alike_small_groups_or_a_factor_not_reached():
    grouping, errors = _two_groups(bad_error=0.5)  # same distribution
    rows = group_table(grouping, {"model": errors}, FlagRule(5, 1.5), CONFIG, seed=0)
    assert not any(r["model_flagged"] for r in rows)
    grouping, errors = _two_groups(bad_error=3.0, n_bad=3)  # too small: no interval, no flag
    small = group_table(grouping, {"model": errors}, FlagRule(5, 1.5), CONFIG, seed=0)[1]
    assert small["model_ci_low"] is None and not small["model_flagged"]
    grouping, errors = _two_groups(bad_error=1.0)  # significantly worse but < 1.5x overall
    rows = group_table(grouping, {"model": errors}, FlagRule(5, 3.0), CONFIG, seed=0)
    assert rows[1]["model_ci_low"] > np.mean(errors) and not rows[1]["model_flagged"]
    assert group_table(grouping, {"model": errors}, FlagRule(5, 1.0), CONFIG, 0)[1]["model_flagged"]


def test_group_intervals_are_seeded():
    grouping, errors = _two_groups(bad_error=2.0)
    first = group_table(grouping, {"model": errors}, FlagRule(), CONFIG, seed=0)
    assert first == group_table(grouping, {"model": errors}, FlagRule(), CONFIG, seed=0)
    assert first != group_table(grouping, {"model": errors}, FlagRule(), CONFIG, seed=1)


def test_max_train_similarity_is_one_for_a_training_molecule_and_lower_otherwise():
    train = _mols("CCO", "c1ccccc1O")
    sims = max_train_similarity(_mols("CCO", "c1ccccc1N", "C1CCCCC1CCCCBr"), train)
    assert sims[0] == 1.0 and 0.2 < sims[1] < 1.0 and sims[2] < sims[1]


def test_domain_report_finds_error_falling_with_similarity():
    rng = np.random.default_rng(4)
    similarity = rng.uniform(0.1, 1.0, 300)
    errors = {"model": (1.0 - similarity) * rng.uniform(0.5, 1.5, 300),
              "baseline": rng.uniform(size=300)}
    report = domain_report(similarity, errors, CONFIG)
    assert report["similarity"]["n"] == 300
    model = report["model"]
    assert model["error_similarity_spearman"] < -0.5
    assert model["error_similarity_spearman_ci"]["high"] < 0
    baseline_ci = report["baseline"]["error_similarity_spearman_ci"]
    assert baseline_ci["low"] < 0 < baseline_ci["high"]


def test_a_group_worse_on_average_from_one_molecule_is_not_flagged():
    from molprop.evaluation.bootstrap import BootstrapConfig
    from molprop.evaluation.subgroups import FlagRule, Grouping, group_table
    errors = np.concatenate([np.full(40, 1.0), [0.0] * 9 + [40.0]])  # group b: mean 4 (ratio ~2.9) from one molecule
    labels = np.array(["a"] * 40 + ["b"] * 10)
    grouping = Grouping("g", labels, ["a", "b"])
    rows = group_table(grouping, {"model": errors}, FlagRule(5, 1.5), BootstrapConfig(), 0)
    b = rows[1]
    assert b["model_ratio"] > 1.5 and b["model_ci_low"] <= np.mean(errors)
    assert not b["model_flagged"]


def test_the_worst_ratio_ignores_groups_below_the_minimum_size():
    """Catches the slip (subgroups.py summarize: every group eligible): docs say the worst ratio is
    among groups of at least min_group_size molecules; a 2-molecule group set it."""
    from molprop.evaluation.bootstrap import BootstrapConfig
    from molprop.evaluation.subgroups import FlagRule, Grouping, group_table, summarize

    labels = np.array(["big"] * 20 + ["tiny"] * 2, dtype=object)
    errors = np.concatenate([np.full(20, 1.0), np.full(2, 10.0)])
    rule = FlagRule(5, 1.5)
    rows = group_table(Grouping("g", labels, ["big", "tiny"]), {"model": errors}, rule,
                       BootstrapConfig(n_resamples=50), seed=0)
    summary = summarize(rows, ["model"], rule)
    assert summary["model_worst_ratio"] == pytest.approx(rows[0]["model_ratio"])
    assert summary["model_worst_ratio"] < 1.0
