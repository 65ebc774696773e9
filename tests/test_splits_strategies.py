"""Each split strategy on FreeSolv / Huuskonen: sizes, coverage, determinism, seeds, groups."""

import random
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem.Scaffolds import MurckoScaffold

from molprop.data.builtin import load_builtin
from molprop.splits import strategies
from molprop.splits.chem import morgan_fingerprints, murcko_scaffolds, to_mols
from molprop.splits.clustering import butina_clusters, kmeans_clusters
from molprop.splits.config import SplitConfig
from molprop.splits.run import make_split

FRACTIONS = (0.8, 0.1, 0.1)
PARTS = ("train", "val", "test")


@pytest.fixture(scope="module")
def freesolv():
    table = load_builtin("data/builtin/freesolv.yaml")
    smiles = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in table["smiles"]]
    return smiles, table["expt"].to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def freesolv_chem(freesolv):
    mols = to_mols(freesolv[0])
    return murcko_scaffolds(mols), morgan_fingerprints(mols)


def sizes(labels):
    return np.array([(labels == p).sum() for p in PARTS])


def check_sizes(labels, n, tolerance):
    assert len(labels) == n and set(labels) <= set(PARTS)  # every row exactly one part
    assert np.all(np.abs(sizes(labels) / n - np.array(FRACTIONS)) <= tolerance), sizes(labels)


def shared(labels, scaffolds, a, b):
    scaffolds = np.asarray(scaffolds, dtype=object)
    return set(scaffolds[labels == a]) & set(scaffolds[labels == b])


def test_random_split(freesolv):
    n = len(freesolv[0])
    labels = strategies.random_split(n, FRACTIONS, seed=0)
    assert sizes(labels).tolist() == [514, 64, 64]
    assert np.array_equal(labels, strategies.random_split(n, FRACTIONS, seed=0))
    assert not np.array_equal(labels, strategies.random_split(n, FRACTIONS, seed=1))


def test_scaffold_split_deterministic_and_disjoint(freesolv_chem):
    scaffolds, _ = freesolv_chem
    labels = strategies.scaffold_split(scaffolds, FRACTIONS)
    check_sizes(labels, len(scaffolds), tolerance=0.02)
    assert np.array_equal(labels, strategies.scaffold_split(list(scaffolds), FRACTIONS))
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        assert not shared(labels, scaffolds, a, b)


def _independent_scaffold_split(smiles, fractions, balanced=False, seed=0):
    """The Chemprop procedure written out again, straight from SMILES strings."""
    by_scaffold = defaultdict(list)
    for index, text in enumerate(smiles):
        by_scaffold[MurckoScaffold.MurckoScaffoldSmiles(smiles=text, includeChirality=False)].append(
            index)
    n = len(smiles)
    train_size, val_size, test_size = (f * n for f in fractions)
    sets = list(by_scaffold.values())
    if balanced:
        big = [s for s in sets if len(s) > val_size / 2 or len(s) > test_size / 2]
        small = [s for s in sets if not (len(s) > val_size / 2 or len(s) > test_size / 2)]
        shuffler = random.Random(seed)
        shuffler.shuffle(big)
        shuffler.shuffle(small)
        sets = big + small
    else:
        sets = sorted(sets, key=len, reverse=True)
    train, val, test = [], [], []
    for members in sets:
        if len(train) + len(members) <= train_size:
            train += members
        elif len(val) + len(members) <= val_size:
            val += members
        else:
            test += members
    labels = np.empty(n, dtype=object)
    labels[train], labels[val], labels[test] = "train", "val", "test"
    return labels


@pytest.mark.parametrize("method, seed", [("scaffold", 0), ("scaffold_balanced", 0),
                                          ("scaffold_balanced", 5)])
def test_scaffold_split_matches_independent_recomputation(freesolv, method, seed):
    smiles, y = freesolv
    result = make_split(smiles, y, "regression", SplitConfig(method=method, seed=seed))
    expected = _independent_scaffold_split(smiles, FRACTIONS, method == "scaffold_balanced", seed)
    assert result.split.tolist() == expected.tolist()
    assert result.report["shared_scaffolds"]["train_test"] == 0


def test_scaffold_balanced_seeded(freesolv_chem):
    scaffolds, _ = freesolv_chem
    labels = strategies.scaffold_balanced_split(scaffolds, FRACTIONS, seed=0)
    check_sizes(labels, len(scaffolds), tolerance=0.02)
    assert np.array_equal(labels, strategies.scaffold_balanced_split(scaffolds, FRACTIONS, 0))
    assert not np.array_equal(labels, strategies.scaffold_balanced_split(scaffolds, FRACTIONS, 1))
    assert not shared(labels, scaffolds, "train", "test")


@pytest.mark.parametrize("fractions", [(0.9, 0.0, 0.1), (0.9, 0.1, 0.0)])
def test_scaffold_balanced_with_an_empty_part_keeps_the_big_groups_first(freesolv_chem, fractions):
    # A fraction of 0 (val in k-fold mode) made every group "big": FreeSolv's 320 acyclic
    # molecules, shuffled in with the rest, often arrived with train full and went to test.
    scaffolds, _ = freesolv_chem
    n = len(scaffolds)
    for seed in range(12):
        labels = strategies.scaffold_balanced_split(scaffolds, fractions, seed)
        assert np.all(np.abs(sizes(labels) / n - np.array(fractions)) <= 0.02), (seed, sizes(labels))


def test_cluster_split_with_an_empty_part_still_shuffles_the_small_clusters():
    # a part of fraction 0 made every cluster "big", so all went in order of size: small
    # clusters of distinct sizes were placed the same way whatever split.seed
    sizes_ = [40, 30, 1, 2, 3, 4, 5, 6]
    clusters = np.repeat(np.arange(len(sizes_)), sizes_)
    splits = {tuple(strategies.cluster_split(clusters, (0.8, 0.0, 0.2), seed)) for seed in range(8)}
    assert len(splits) > 1
    assert all(set(labels[:70]) == {"train"} for labels in splits)  # the two big clusters still come first


def test_scaffold_split_disjointness_is_asserted_in_code(freesolv, monkeypatch):
    smiles, y = freesolv
    leaky = lambda scaffolds, fractions: strategies.random_split(len(scaffolds), fractions, 0)  # noqa: E731
    monkeypatch.setattr(strategies, "scaffold_split", leaky)
    with pytest.raises(AssertionError, match="shares scaffolds"):
        make_split(smiles, y, "regression", SplitConfig(method="scaffold"))


def test_stratified_keeps_class_proportions():
    rng = np.random.default_rng(1)
    y = rng.choice([0, 1, 2], size=500, p=[0.6, 0.3, 0.1])
    labels = strategies.stratified_split(strategies.strata(y, "classification", 5), FRACTIONS, 3)
    check_sizes(labels, 500, tolerance=0.002)
    for c in (0, 1, 2):
        n_c = (y == c).sum()
        for p, fraction in zip(PARTS, FRACTIONS):
            assert abs(((y == c) & (labels == p)).sum() - n_c * fraction) <= 2
    assert np.array_equal(labels, strategies.stratified_split(y, FRACTIONS, 3))
    assert not np.array_equal(labels, strategies.stratified_split(y, FRACTIONS, 4))


def test_stratified_regression_bins(freesolv):
    _, y = freesolv
    bins = strategies.strata(y, "regression", 5)
    assert sorted(pd.Series(bins).value_counts().tolist()) == pytest.approx([128] * 5, abs=3)
    labels = strategies.stratified_split(bins, FRACTIONS, 0)
    for b in np.unique(bins):
        in_bin = bins == b
        assert abs((in_bin & (labels == "test")).sum() - in_bin.sum() * 0.1) <= 2


@pytest.mark.parametrize("how", ["butina", "kmeans"])
def test_cluster_split_keeps_each_cluster_in_one_part(freesolv_chem, how):
    _, fps = freesolv_chem
    clusters = butina_clusters(fps, 0.6) if how == "butina" else kmeans_clusters(fps, 10, 0)
    labels = strategies.cluster_split(clusters, FRACTIONS, seed=0)
    parts_per_cluster = pd.Series(labels).groupby(clusters).nunique()
    assert (parts_per_cluster == 1).all()
    check_sizes(labels, len(fps), tolerance=0.02 if how == "butina" else 0.1)
    assert np.array_equal(labels, strategies.cluster_split(clusters, FRACTIONS, seed=0))
    if how == "butina":
        assert not np.array_equal(labels, strategies.cluster_split(clusters, FRACTIONS, seed=1))


def test_butina_clusters_respect_cutoff(freesolv_chem):
    fps = freesolv_chem[1][:150]
    clusters = butina_clusters(fps, 0.6)
    assert clusters.min() == 0 and len(set(clusters.tolist())) > 10
    for number in set(clusters.tolist()):
        members = [fps[i] for i in np.flatnonzero(clusters == number)]
        # Some member (the centroid) is within distance 0.6 of every member of its cluster.
        assert any(
            min(DataStructs.BulkTanimotoSimilarity(centre, members)) >= 0.4 - 1e-12
            for centre in members
        )


@pytest.mark.parametrize("cutoff", [0.3, 0.6, 1.0])
def test_butina_clusters_are_numbered_as_rdkit_numbers_them(freesolv_chem, cutoff):
    """The row-by-row neighbour lists (RDKit's ClusterData held an n x n matrix: 4.5 GB for
    10,000 molecules) give RDKit's clusters in RDKit's order."""
    from rdkit.ML.Cluster import Butina

    fps = freesolv_chem[1]
    distances = [1.0 - s for i in range(1, len(fps)) for s in DataStructs.BulkTanimotoSimilarity(fps[i], fps[:i])]
    expected = np.full(len(fps), -1)
    for number, members in enumerate(Butina.ClusterData(distances, len(fps), cutoff, isDistData=True)):
        expected[list(members)] = number
    assert np.array_equal(butina_clusters(fps, cutoff), expected)
    # a fingerprint without bits (Tanimoto 0 to itself) is its own neighbour, as in RDKit's matrix
    mixed = [*fps[:10], DataStructs.ExplicitBitVect(2048), *fps[10:20]]
    distances = [1.0 - s for i in range(1, 21) for s in DataStructs.BulkTanimotoSimilarity(mixed[i], mixed[:i])]
    expected = np.full(21, -1)
    for number, members in enumerate(Butina.ClusterData(distances, 21, cutoff, isDistData=True)):
        expected[list(members)] = number
    assert np.array_equal(butina_clusters(mixed, cutoff), expected)


TINY_METHODS = [
    SplitConfig(method="random"),
    SplitConfig(method="scaffold"),
    SplitConfig(method="scaffold_balanced"),
    SplitConfig(method="stratified"),
    SplitConfig(method="cluster"),
    SplitConfig(method="cluster", cluster_method="kmeans", n_clusters=4),
]


@pytest.mark.parametrize("config", TINY_METHODS, ids=lambda c: f"{c.method}-{c.cluster_method}")
def test_twenty_molecules_give_three_nonempty_parts(freesolv, config):
    smiles, y = freesolv
    result = make_split(smiles[:20], y[:20], "regression", config)
    assert (sizes(result.split) >= 1).all()


def test_tiny_acyclic_scaffold_split_is_a_clear_error():
    smiles = ["C" * k for k in range(1, 21)]  # all share the empty scaffold
    with pytest.raises(ValueError, match="only 1 group"):
        make_split(smiles, np.arange(20.0), "regression", SplitConfig(method="scaffold"))


def test_unreadable_smiles_names_the_row():
    with pytest.raises(ValueError, match="row 1 .*'C1CC'"):
        make_split(["CCO", "C1CC", "CCN"], [1.0, 2.0, 3.0], "regression", SplitConfig())


def test_one_scaffold_group_names_the_acyclic_case():
    """All-acyclic data (one empty scaffold) had been told only that it formed 1 group."""
    smiles = ["CCO", "CCCO", "CCN", "CCCCCl", "OCCO", "CC(C)O"]
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    with pytest.raises(ValueError, match="acyclic molecules in one group: the empty scaffold"):
        strategies.scaffold_split(murcko_scaffolds(mols), (0.8, 0.1, 0.1))


def test_stratified_kfold_split_keeps_class_shares_per_fold_and_follows_the_seed():
    from molprop.splits.config import SplitConfig
    from molprop.splits.run import make_split
    smiles = ["C" * (i + 1) + "O" for i in range(60)]
    y = np.array([1] * 12 + [0] * 48)
    cfgs = [SplitConfig(method="stratified", n_folds=4, seed=s, train=0.7, val=0.1, test=0.2,
                        group_folds_by_scaffold=False)
            for s in (0, 1)]
    r0, r1 = (make_split(smiles, y, "classification", c) for c in cfgs)
    rest = r0.fold >= 0
    per_fold = pd.crosstab(r0.fold[rest], y[rest])
    assert (per_fold[1].max() - per_fold[1].min()) <= 1
    assert not np.array_equal(r0.fold, r1.fold)


def test_stratified_folds_follow_the_seed():
    from molprop.splits.kfold import assign_folds
    strata = np.array([0, 1] * 20)
    assert not np.array_equal(assign_folds(40, 5, 0, strata_of=strata), assign_folds(40, 5, 1, strata_of=strata))


def test_stratified_regression_with_one_target_value_left_is_one_stratum():
    """The non-test targets of a k-fold split can all be equal (bug fixed: NaN strata, and
    scikit-learn's 'Input y contains NaN')."""
    assert strategies.strata(np.full(7, 0.5), "regression", 5).tolist() == [0] * 7
    smiles = ["C" * (i + 1) + "O" for i in range(30)]
    y = np.array([0.0] * 29 + [5.0])
    config = SplitConfig(method="stratified", n_folds=3, seed=0, train=0.8, val=0.1, test=0.1,
                         group_folds_by_scaffold=False)
    result = make_split(smiles, y, "regression", config)
    assert sorted(set(result.fold[result.fold >= 0].tolist())) == [0, 1, 2]


def test_balanced_big_groups_are_those_above_half_the_val_or_test_size():
    """n = 100, val = test = 10: a group of 7 (> 5) is big and placed before every singleton,
    so it is always in train; with the threshold at the full size it was shuffled in with them."""
    scaffolds = ["big"] * 7 + [f"s{i}" for i in range(93)]
    for seed in range(20):
        assert set(strategies.scaffold_balanced_split(scaffolds, (0.8, 0.1, 0.1), seed)[:7]) == {"train"}, seed


def test_a_stratified_split_shuffles_the_molecules_within_a_stratum():
    tests = {tuple(np.flatnonzero(strategies.stratified_split(np.zeros(30), (0.8, 0.1, 0.1), seed) == "test"))
             for seed in range(5)}
    assert len(tests) > 1


def test_plain_folds_are_shuffled_by_the_seed():
    """Not blocks in input order (a file sorted by target would give target-sorted folds)."""
    from molprop.splits.kfold import assign_folds

    first, second = assign_folds(20, 5, seed=0), assign_folds(20, 5, seed=1)
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.repeat(np.arange(5), 4))
