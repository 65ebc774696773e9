"""The split report's numbers on hand-made examples, and k-fold assignment."""

import numpy as np
import pandas as pd
import pytest

from molprop.data.builtin import load_builtin
from molprop.splits.chem import morgan_fingerprints, murcko_scaffolds, to_mols
from molprop.splits.config import SplitConfig
from molprop.splits.kfold import assign_folds
from molprop.splits.report import (class_balance_warnings, constant_target_training_parts, fraction_warnings,
                                   similarity_histogram, split_report, target_summary)
from molprop.splits.run import make_split

# Hand-made example. Scaffolds: toluene and phenol -> benzene, cyclohexane -> itself, the rest
# are acyclic -> "". The two butan-2-ol enantiomers have the same (achiral) Morgan bits, so
# test molecule 5 has similarity 1 to training molecule 4; neon and argon share no bit with
# anything in train, so their max similarity is 0.
HAND_SMILES = ["Cc1ccccc1", "Oc1ccccc1", "C1CCCCC1", "CCO", "C[C@H](O)CC", "C[C@@H](O)CC",
               "[Ne]", "[Ar]"]
HAND_Y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
HAND_SPLIT = np.array(["train", "train", "train", "val", "train", "test", "test", "test"])


@pytest.fixture(scope="module")
def hand():
    mols = to_mols(HAND_SMILES)
    return murcko_scaffolds(mols), morgan_fingerprints(mols)


def test_hand_example_regression_report(hand):
    scaffolds, fps = hand
    assert scaffolds[:3] == ["c1ccccc1", "c1ccccc1", "C1CCCCC1"] and set(scaffolds[3:]) == {""}
    report, sims = split_report(HAND_SPLIT, np.full(8, -1), HAND_Y, "regression", scaffolds, fps)
    assert sims.tolist() == [1.0, 0.0, 0.0]
    train, val, test = (report["parts"][p] for p in ("train", "val", "test"))
    assert (train["n"], val["n"], test["n"]) == (4, 1, 3)
    assert (train["fraction"], val["fraction"], test["fraction"]) == (0.5, 0.125, 0.375)
    assert (train["n_scaffolds"], val["n_scaffolds"], test["n_scaffolds"]) == (3, 1, 1)
    # train y = 1, 2, 3, 5: mean 2.75, sample variance 8.75 / 3.
    assert train["target"] == {"mean": 2.75, "std": round((8.75 / 3) ** 0.5, 6), "min": 1.0,
                               "max": 5.0}
    assert val["target"] == {"mean": 4.0, "std": None, "min": 4.0, "max": 4.0}
    assert test["target"] == {"mean": 7.0, "std": 1.0, "min": 6.0, "max": 8.0}
    # the parts share only acyclic molecules (the empty scaffold), which share no ring system
    assert report["shared_scaffolds"] == {"train_val": 0, "train_test": 0, "val_test": 0}
    assert report["test_similarity_to_train"] == {
        "n": 3, "mean": 0.333333, "median": 0.0, "min": 0.0, "max": 1.0,
        "q05": 0.0, "q25": 0.0, "q75": 0.5, "q95": 0.9,
    }
    assert "folds" not in report


def test_hand_example_histogram():
    table = similarity_histogram(np.array([1.0, 0.0, 0.0, 0.35, 0.1]))
    assert table["similarity_bin"].tolist()[:2] == ["0.0-0.1", "0.1-0.2"]
    assert table["similarity_bin"].tolist()[-1] == "0.9-1.0"
    assert table["count"].tolist() == [2, 1, 0, 1, 0, 0, 0, 0, 0, 1]


def test_histogram_puts_exact_tenths_in_the_bin_they_open():
    # np.linspace's edges are 0.30000000000000004, 0.6000000000000001, ...: a similarity of
    # exactly 3/10 (in domain at predict's default threshold 0.3) was counted in "0.2-0.3".
    table = similarity_histogram(np.array([3 / 10, 6 / 10, 7 / 10, 0.2, 0.4]))
    assert table["count"].tolist() == [0, 0, 1, 1, 1, 0, 1, 1, 0, 0]


def test_classification_counts_include_absent_classes():
    y = np.array([0, 0, 1, 2, 2, 2])
    assert target_summary(y[:3], "classification", classes=[0, 1, 2]) == {
        "class_counts": {"0": 2, "1": 1, "2": 0}}


def test_hand_example_folds_report(hand):
    scaffolds, fps = hand
    split = np.array(["train"] * 5 + ["test"] * 3)
    folds = np.array([0, 0, 1, 1, 1, -1, -1, -1])
    report, _ = split_report(split, folds, HAND_Y, "regression", scaffolds, fps)
    fold0, fold1 = report["folds"]
    assert (fold0["train"]["n"], fold0["val"]["n"], fold1["train"]["n"], fold1["val"]["n"]) == (
        3, 2, 2, 3)
    assert fold0["val"]["target"]["mean"] == 1.5 and fold1["val"]["target"]["mean"] == 4.0
    assert fold0["shared_scaffolds_train_val"] == 0  # {benzene} vs {cyclohexane, ""}
    assert fold1["shared_scaffolds_train_val"] == 0
    # fold 1 val = cyclohexane, ethanol, (R)-butan-2-ol vs train = toluene, phenol.
    assert fold1["val_similarity_to_train"]["n"] == 3


@pytest.fixture(scope="module")
def freesolv():
    table = load_builtin("data/builtin/freesolv.yaml")
    return table["smiles"].tolist(), table["expt"].to_numpy(dtype=np.float64)


def test_kfold_scaffold_grouped(freesolv):
    smiles, y = freesolv
    result = make_split(smiles, y, "regression", SplitConfig(method="scaffold", n_folds=5))
    split, fold = result.split, result.fold
    assert fold.dtype == np.int32
    assert set(split) == {"train", "test"}
    assert np.array_equal(fold == -1, split == "test")
    assert set(fold[split == "train"]) == {0, 1, 2, 3, 4}
    assert abs((split == "test").mean() - 0.1) < 0.02
    scaffolds = np.array(murcko_scaffolds(to_mols(smiles)), dtype=object)
    ringed = (fold >= 0) & (scaffolds != "")
    non_test = pd.Series(fold[ringed]).groupby(scaffolds[ringed])
    assert (non_test.nunique() == 1).all()  # no ring scaffold spans two folds
    sizes = np.bincount(fold[fold >= 0])  # acyclic molecules spread over the folds, not one fold
    assert sizes.max() < 1.5 * sizes.min() and len(set(fold[(fold >= 0) & (scaffolds == "")])) > 1
    assert [f["shared_scaffolds_train_val"] for f in result.report["folds"]] == [0] * 5
    assert result.report["shared_scaffolds"]["train_test"] == 0


def test_kfold_ungrouped_random_is_balanced_and_seeded(freesolv):
    smiles, y = freesolv
    config = SplitConfig(method="random", n_folds=4, group_folds_by_scaffold=False)
    result = make_split(smiles, y, "regression", config)
    counts = np.bincount(result.fold[result.fold >= 0])
    assert counts.max() - counts.min() <= 1 and len(counts) == 4
    again = make_split(smiles, y, "regression", config)
    assert np.array_equal(result.fold, again.fold)
    other = make_split(smiles, y, "regression", SplitConfig(
        method="random", n_folds=4, group_folds_by_scaffold=False, seed=1))
    assert not np.array_equal(result.fold, other.fold)


def test_assign_folds_stratified_and_errors():
    strata = np.array([0] * 30 + [1] * 10)
    folds = assign_folds(40, 5, 0, strata_of=strata)
    assert all(np.bincount(folds[strata == 1]) == 2)
    with pytest.raises(ValueError, match="from 2 scaffold"):
        assign_folds(6, 3, 0, groups=["a", "a", "b", "b", "b", "a"])
    with pytest.raises(ValueError, match="from 2 non-test"):
        assign_folds(2, 3, 0)


def test_parts_without_a_class_are_warned_about() -> None:
    """A test part without positives has an undefined ROC-AUC; a training part without a class
    gives models that never predict it. Empty parts (no validation part) are not warned about."""
    smiles = ["CCO", "CCN", "c1ccccc1", "c1ccccc1O", "C1CCCCC1", "CCCl", "CCBr", "CC(=O)O"]
    y = np.array([0, 0, 0, 1, 0, 0, 1, 0])
    labels = np.array(["train", "train", "train", "train", "test", "test", "train", "train"])
    mols = to_mols(smiles)
    report, _ = split_report(labels, np.full(len(smiles), -1), y, "classification",
                             murcko_scaffolds(mols), morgan_fingerprints(mols))
    assert class_balance_warnings(report, {"0": "inactive", "1": "active"}) == [
        "the test part has no molecule of class 'active' (2 in all): ROC-AUC and PR-AUC there are undefined"]
    labels[[3, 6]] = "test"  # every active in test: the training part lacks the class
    report, _ = split_report(labels, np.full(len(smiles), -1), y, "classification",
                             murcko_scaffolds(mols), morgan_fingerprints(mols))
    assert class_balance_warnings(report) == ["the train part has no molecule of class '1' (2 in all): no model learns it"]
    # three classes, one missing from the test part: the AUCs average over the other two
    y = np.array([0, 0, 2, 1, 0, 2, 1, 2])
    labels = np.array(["train", "train", "train", "train", "train", "test", "test", "train"])
    report, _ = split_report(labels, np.full(len(smiles), -1), y, "classification",
                             murcko_scaffolds(mols), morgan_fingerprints(mols))
    assert class_balance_warnings(report) == [
        "the test part has no molecule of class '0' (3 in all): ROC-AUC and PR-AUC there average over the "
        "other classes only"]


def test_parts_far_from_their_fractions_are_warned_about() -> None:
    """One scaffold group too big for train or val (all acyclic molecules share one) went whole
    to test: val 1 molecule where 25% was asked, without a word."""
    config = {"method": "scaffold", "train": 0.5, "val": 0.25, "test": 0.25, "n_folds": 0}
    report = {"config": config, "parts": {"train": {"n": 221}, "val": {"n": 1}, "test": {"n": 277}}}
    warnings = fraction_warnings(report)
    assert [w.split(":")[0] for w in warnings] == [
        "the val part holds 1 of 499 molecules (0%), where split.fractions.val asks for 25%",
        "the test part holds 277 of 499 molecules (56%), where split.fractions.test asks for 25%"]
    assert "the acyclic molecules all share the empty scaffold" in warnings[0]
    near = {"train": {"n": 520}, "val": {"n": 60}, "test": {"n": 62}}  # FreeSolv's scaffold split
    assert fraction_warnings({"config": config | {"train": 0.8, "val": 0.1, "test": 0.1}, "parts": near}) == []
    tiny = {"train": {"n": 14}, "val": {"n": 0}, "test": {"n": 1}}  # 1% of 15 molecules rounds to none
    assert fraction_warnings({"config": config | {"train": 0.98, "val": 0.01, "test": 0.01}, "parts": tiny}) == []
    leftover = {"train": {"n": 577}, "val": {"n": 64}, "test": {"n": 1}}  # a group fitting neither train nor val
    assert [w.split(":")[0] for w in fraction_warnings(
        {"config": config | {"train": 0.9, "val": 0.1, "test": 0.0}, "parts": leftover})] == [
        "the test part holds 1 molecule(s), where split.fractions.test asks for none"]
    kfold = {"train": {"n": 400}, "test": {"n": 99}}
    assert fraction_warnings({"config": config | {"n_folds": 5}, "parts": kfold}) == []


def test_a_fold_far_from_its_share_is_warned_about() -> None:
    """Bug fixed: one scaffold of 60% of the molecules made scaffold-grouped folds of 152 / 37 / 38
    (fold 0's models trained on 75 molecules), without a word."""
    config = {"method": "scaffold", "train": 0.9, "val": 0.0, "test": 0.1, "n_folds": 3,
              "group_folds_by_scaffold": True}
    parts = {"train": {"n": 227}, "val": {"n": 0}, "test": {"n": 26}}
    folds = [{"fold": f, "val": {"n": n}} for f, n in enumerate((152, 37, 38))]
    warnings = fraction_warnings({"config": config, "parts": parts, "folds": folds})
    assert warnings == [
        "the 3 folds hold 152 / 37 / 38 of the 227 non-test molecules, where each should hold ~76; the models "
        "of fold 0 learn from 75 only: each scaffold group stays whole in one fold, and whole groups cannot "
        "always be spread evenly (one of more than 1/k of the molecules never can); "
        "split.group_folds_by_scaffold: false spreads them over the folds"]
    even = [{"fold": f, "val": {"n": n}} for f, n in enumerate((80, 74, 73))]
    assert fraction_warnings({"config": config, "parts": parts, "folds": even}) == []


def test_a_class_scarce_in_the_training_part_is_warned_about() -> None:
    """5% actives overall but 1 in 17 training molecules kept twice as rare: warned, with both
    shares; a class at its usual share is not."""
    report = {"parts": {"train": {"n": 34, "target": {"class_counts": {"0": 33, "1": 1}}},
                        "val": {"n": 3, "target": {"class_counts": {"0": 1, "1": 2}}},
                        "test": {"n": 3, "target": {"class_counts": {"0": 2, "1": 1}}}}}
    assert class_balance_warnings(report, {"1": "active"}) == [
        "the train part holds 1 of the 4 molecules of class 'active' (2.9% of it, against 10.0% of all "
        "molecules): the models learn it from few examples and may never predict it"]
    report["parts"]["train"]["target"]["class_counts"] = {"0": 31, "1": 3}
    report["parts"]["val"]["target"]["class_counts"] = {"0": 3, "1": 0}
    assert class_balance_warnings(report) == [
        "the val part has no molecule of class '1' (4 in all): ROC-AUC and PR-AUC there are undefined"]


def test_a_fold_is_measured_against_its_own_molecules():
    """When the test part took most of a class, every fold's train part warned too, though no
    fold can spread what test took; a fold that does hold the class unevenly still warns."""
    part = lambda n0, n1: {"n": n0 + n1, "target": {"class_counts": {"0": n0, "1": n1}}}  # noqa: E731
    report = {"parts": {"train": part(80, 2), "val": part(0, 0), "test": part(10, 8)},
              "folds": [{"fold": k, "train": part(60, 2 if k else 0), "val": part(20, 0 if k else 2)}
                        for k in range(2)]}
    warnings = class_balance_warnings(report)
    assert [w.split(" holds")[0] for w in warnings if "holds" in w] == ["the train part"]
    # a class missing from a fold part: counted among the fold's molecules (2), not all (10)
    assert "the fold 0 train part has no molecule of class '1' (2 in the fold): no model learns it" in warnings
    report["folds"][1] = {"fold": 1, "train": part(60, 1), "val": part(5, 6)}  # this fold's val took them
    assert "the fold 1 train part holds 1 of the 7 molecules of class '1' (1.6% of it, against 9.7% of the " \
           "fold's molecules)" in " ".join(class_balance_warnings(report))


def test_stratified_folds_with_a_class_rarer_than_the_folds_print_no_raw_warning():
    """scikit-learn's "least populated class" UserWarning came out beside molprop's own, clearer
    warnings about the folds that lack the class."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        folds = assign_folds(22, 4, 0, None, np.array([0] * 20 + [1] * 2))
    assert sorted(set(folds)) == [0, 1, 2, 3]


def test_test_similarity_is_to_the_training_part_only_not_val():
    from molprop.splits.chem import morgan_fingerprints, murcko_scaffolds, to_mols
    from molprop.splits.report import split_report
    smiles = ["c1ccccc1", "CCCCCCO", "CCCCCCCO"]  # val is the test molecule's near-twin
    mols = to_mols(smiles)
    labels = np.array(["train", "val", "test"])
    _, sims = split_report(labels, np.full(3, -1), np.array([1.0, 2.0, 3.0]), "regression",
                           murcko_scaffolds(mols), morgan_fingerprints(mols))
    assert sims[0] == 0.0


def test_a_training_part_of_one_target_value_is_warned_about():
    """Bug fixed: train and val all -3, test all -8: baseline and train ran without a word and
    interpret blamed 'too few molecules explained'. Targets in small units are no such case."""
    y = np.where(HAND_SPLIT == "test", -8.0, -3.0)
    assert constant_target_training_parts(y, HAND_SPLIT, np.full(8, -1)) == [
        "every target of the train part is -3 (4 molecules): the models have nothing to learn and predict that "
        "value for every molecule; check data.target_column and the data, or split another way (split.method)"]
    split = np.array(["train"] * 5 + ["test"] * 3)
    folds = np.array([0, 0, 1, 1, 1, -1, -1, -1])
    y = np.array([1.0, 2.0, 5.0, 5.0, 5.0 + 1e-14, 6.0, 7.0, 8.0])  # fold 0 trains on molecules 2-4 only
    assert [w.split(" (")[0] for w in constant_target_training_parts(y, split, folds)] == [
        "every target of the fold 0 train part is 5"]
    assert constant_target_training_parts(HAND_Y * 4e-8, HAND_SPLIT, np.full(8, -1)) == []  # tiny units: they vary
    assert constant_target_training_parts(HAND_Y, HAND_SPLIT, np.full(8, -1)) == []
