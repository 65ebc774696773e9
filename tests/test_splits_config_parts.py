"""Split configuration checks, part sizes and whole-group filling."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from molprop.splits.config import SplitConfig
from molprop.splits.parts import fill_groups, groups_of, part_sizes

REPO = Path(__file__).resolve().parents[1]


def test_params_yaml_defaults():
    section = yaml.safe_load((REPO / "params.yaml").read_text())["split"]
    config = SplitConfig.from_params(section)
    assert config == SplitConfig()
    assert (config.method, config.fractions, config.seed, config.n_folds) == (
        "scaffold", (0.8, 0.1, 0.1), 0, 0)
    assert config.group_folds_by_scaffold and config.cluster_method == "butina"
    assert config.cluster_distance_cutoff == 0.6 and config.stratify_bins == 5


def test_fractions_must_sum_to_one():
    with pytest.raises(ValueError, match="sum to 1.1, not 1"):
        SplitConfig(train=0.8, val=0.2, test=0.1)
    with pytest.raises(ValueError, match="split.fractions.val"):
        SplitConfig(train=0.8, val=-0.1, test=0.3)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"method": "butterfly"}, "split.method"),
        ({"n_folds": 1}, "split.n_folds"),
        ({"cluster": {"method": "dbscan"}}, "split.cluster.method"),
        ({"cluster": {"radius": 3}}, "radius under split.cluster"),
        ({"fractions": {"train": 0.9, "holdout": 0.1}}, "holdout under split.fractions"),
        ({"sead": 1}, "sead under split"),
        ({"seed": 1.5}, "split.seed"),
    ],
)
def test_bad_params_name_the_key(section, message):
    with pytest.raises(ValueError, match=message):
        SplitConfig.from_params(section)


def test_from_params_reads_nested_keys():
    config = SplitConfig.from_params(
        {"method": "cluster", "fractions": {"train": 0.7, "val": 0.1, "test": 0.2}, "seed": 3,
         "cluster": {"method": "kmeans", "n_clusters": 7, "distance_cutoff": 0.5}, "n_folds": 4}
    )
    assert config.fractions == (0.7, 0.1, 0.2) and config.seed == 3 and config.kfold
    assert (config.cluster_method, config.n_clusters, config.cluster_distance_cutoff) == (
        "kmeans", 7, 0.5)


def test_a_seed_that_changes_nothing_is_warned_about():
    """Bug fixed: `split.seed` was echoed ("split (scaffold, seed 1, ...)") though method
    scaffold ignores it, so a sweep over split seeds silently repeated one split."""
    assert not SplitConfig(method="scaffold", seed=1).uses_seed
    assert "split.seed 1 changes nothing" in SplitConfig(method="scaffold", seed=1).seed_warnings()[0]
    assert SplitConfig(method="scaffold").seed_warnings() == []  # the default: nothing to say
    grouped = SplitConfig(method="scaffold", seed=2, n_folds=3).seed_warnings()
    assert "its folds are grouped by scaffold" in grouped[0]
    assert SplitConfig(method="scaffold", seed=2, n_folds=3, group_folds_by_scaffold=False).uses_seed
    for method in ("random", "scaffold_balanced", "stratified", "cluster"):
        assert SplitConfig(method=method, seed=5).uses_seed and SplitConfig(method=method, seed=5).seed_warnings() == []



@pytest.mark.parametrize("n", [3, 4, 7, 10, 20, 33, 642, 1001])
def test_part_sizes_sum_and_nonempty(n):
    sizes = part_sizes(n, (0.8, 0.1, 0.1))
    assert sizes.sum() == n and (sizes >= 1).all()
    if n >= 10:
        assert np.all(np.abs(sizes - np.array([0.8, 0.1, 0.1]) * n) <= 1.0)


def test_part_sizes_zero_fraction_and_too_few():
    assert part_sizes(10, (0.9, 0.0, 0.1)).tolist() == [9, 0, 1]
    assert part_sizes(3, (0.8, 0.1, 0.1)).tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="cannot split 2 molecule"):
        part_sizes(2, (0.8, 0.1, 0.1))


def test_groups_of_first_occurrence_order():
    groups = groups_of(["b", "a", "b", "c", "a"])
    assert [g.tolist() for g in groups] == [[0, 2], [1, 4], [3]]


def test_fill_groups_chemprop_rule():
    groups = [np.array(g) for g in ([0, 1, 2, 3, 4], [5, 6, 7, 8], [9, 10], [11], [12])]
    labels = fill_groups(groups, 13, (0.8, 0.1, 0.1))
    # n = 13: train cap 10.4, val cap 1.3. Group of 5 -> train (5); 4 -> train (9); 2: train
    # would be 11, val 2 > 1.3 -> test; 1 -> train (10); 1: train would be 11 -> val (1).
    assert labels.tolist() == ["train"] * 9 + ["test"] * 2 + ["train", "val"]


def test_fill_groups_room_rule_bounds_error():
    groups = [np.arange(i * 10, i * 10 + 10) for i in range(10)]
    labels = fill_groups(groups, 100, (0.7, 0.2, 0.1), rule="room")
    counts = {p: int((labels == p).sum()) for p in ("train", "val", "test")}
    assert counts == {"train": 70, "val": 20, "test": 10}


def test_fill_groups_repairs_empty_part_and_errors_when_impossible():
    # One big group, then small ones: val stays empty under the rule (sizes 2 > val cap 1).
    groups = [np.arange(0, 8), np.arange(8, 10), np.arange(10, 12)]
    labels = fill_groups(groups, 12, (0.8, 0.1, 0.1))
    assert {p: int((labels == p).sum()) for p in ("train", "val", "test")} == {
        "train": 8, "val": 2, "test": 2}
    with pytest.raises(ValueError, match="non-empty train part: the 20 molecules form only 1"):
        fill_groups([np.arange(0, 20)], 20, (0.8, 0.1, 0.1))


# The tests below each failed on a one-line mistake that the others let through (a hand
# mutation round, 2026-12-07).
def test_the_chemprop_rule_takes_a_group_that_exactly_fills_train():
    """0.8 * 10 = 8: groups of 4 and 4 fill train exactly (Chemprop: ``len(train) + len(group)
    <= train_size``); with ``<`` the second went to val."""
    groups = [np.arange(0, 4), np.arange(4, 8), np.array([8]), np.array([9])]
    assert fill_groups(groups, 10, (0.8, 0.1, 0.1)).tolist() == ["train"] * 8 + ["val", "test"]


def test_part_size_remainders_tie_to_the_earlier_part():
    assert part_sizes(10, (0.45, 0.45, 0.1)).tolist() == [5, 4, 1]


def test_the_room_rule_ties_to_the_earlier_part():
    groups = [np.arange(0, 10), np.arange(10, 15), np.arange(15, 20)]
    labels = fill_groups(groups, 20, (0.5, 0.25, 0.25), rule="room")
    assert labels.tolist() == ["train"] * 10 + ["val"] * 5 + ["test"] * 5
