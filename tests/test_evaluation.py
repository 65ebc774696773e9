import numpy as np
import pandas as pd
import pytest

from molprop.evaluation import weighted
from molprop.evaluation.metrics import classification_metrics, regression_metrics, summarize_members
from molprop.evaluation.predictions import plot_table, prediction_table
from molprop.models.predictor import Predictions


def test_regression_metrics_on_hand_computed_values():
    m = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 6.0]))
    assert m["rmse"] == pytest.approx(1.0)
    assert m["mae"] == pytest.approx(0.5)
    assert m["r2"] == pytest.approx(1 - 4 / 5)
    assert m["spearman"] == pytest.approx(1.0)  # same order
    reversed_ = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]))
    assert reversed_["spearman"] == pytest.approx(-1.0)


@pytest.mark.parametrize("seed", range(5))
def test_regression_metrics_equal_scikit_learn_and_scipy_bit_for_bit(seed):
    from scipy import stats
    from sklearn import metrics as skm

    rng = np.random.default_rng(seed)
    for n in (2, 3, 17, 250):
        y = rng.normal(size=n)
        pred = y + rng.normal(size=n)
        for a, b in ((y, pred), (np.round(y, 1), np.round(pred, 1))):  # the second with ties
            m = regression_metrics(a, b)
            assert m["rmse"] == np.sqrt(skm.mean_squared_error(a, b))
            assert m["mae"] == skm.mean_absolute_error(a, b)
            assert m["r2"] == skm.r2_score(a, b)
            assert m["spearman"] == stats.spearmanr(a, b).statistic


def test_r2_of_a_constant_target_follows_scikit_learn():
    assert regression_metrics(np.array([2.0, 2.0]), np.array([2.0, 2.0]))["r2"] == 1.0
    assert regression_metrics(np.array([2.0, 2.0]), np.array([1.0, 2.0]))["r2"] == 0.0
    assert np.isnan(regression_metrics(np.array([2.0]), np.array([1.0]))["r2"])
    # y - mean(y) leaves rounding residue for values like 0.1 (bug fixed: R² was -5e31)
    for n in (3, 6, 7):
        assert regression_metrics(np.full(n, 0.1), np.zeros(n))["r2"] == 0.0
        assert regression_metrics(np.full(n, -3.3), np.full(n, -3.3))["r2"] == 1.0
    y = np.array([0.3] * 11 + [0.1 + 0.2])  # equal but for the last bit (a median of 0.2 and 0.4)
    assert regression_metrics(y, y + 0.01)["r2"] == 0.0
    near_zero = np.array([0.0] * 5 + [np.mean([0.1, 0.2, -0.3])])  # 1.85e-17
    assert regression_metrics(near_zero, near_zero + 0.01)["r2"] == 0.0
    assert regression_metrics(np.array([0.3, 0.3 + 1e-9]), np.array([0.3, 0.3]))["r2"] < 0  # a real spread


def test_the_bootstrap_takes_the_same_constant_target_rule():
    """Bug fixed: the test part's R² was 0 while its resamples' reached -4e29."""
    from molprop.evaluation.bootstrap import BootstrapConfig
    from molprop.evaluation.performance import performance_report

    y = np.array([0.3] * 11 + [0.1 + 0.2])
    report = performance_report("regression", y, {"model": y + 0.01, "baseline": y + 0.02},
                                {"model": np.full(12, 0.01), "baseline": np.full(12, 0.02)},
                                BootstrapConfig(n_resamples=200))
    assert report["model"]["r2"] == 0.0 and report["model_ci"]["r2"] == {"low": 0.0, "high": 0.0}
    assert report["model_vs_baseline"]["difference"]["r2"]["value"] == 0.0


def test_regression_scoring_imports_neither_scikit_learn_nor_scipy_stats():
    import subprocess
    import sys

    code = ("import sys, numpy as np; from molprop.evaluation.metrics import score; "
            "score('regression', np.arange(5.0), np.arange(5.0)[::-1]); "
            "print(sorted(m for m in ('sklearn', 'scipy.stats') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_spearman_of_constant_predictions_is_nan():
    assert np.isnan(regression_metrics(np.array([1.0, 2.0]), np.array([0.5, 0.5]))["spearman"])


def test_targets_in_small_units_are_not_taken_for_rounding_residue():
    """Bug fixed: the rule's floor of 1 made targets of ~1e-13 (SI units) one value: R² 0,
    Spearman null, and split warned that the training part had nothing to learn."""
    from molprop.splits.report import constant_target_training_parts

    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) * 1e-13
    small, scaled = regression_metrics(y, 1.1 * y), regression_metrics(y * 1e13, 1.1 * y * 1e13)
    assert small["r2"] == pytest.approx(scaled["r2"]) and small["spearman"] == pytest.approx(1.0)
    assert constant_target_training_parts(y, np.array(["train"] * 4 + ["test"] * 2), np.full(6, -1)) == []
    assert regression_metrics(np.zeros(3), np.array([0.1, 0.0, -0.1]))["r2"] == 0.0  # all zero: one value


def test_spearman_takes_r2_s_rule_for_values_equal_up_to_rounding():
    """Bug fixed: measured values 1 and 1 + 1e-13 made R² 0 (one value) but Spearman -1, the
    ranks of rounding residue; so did their bootstrap resamples."""
    from molprop.evaluation.bootstrap import BootstrapConfig
    from molprop.evaluation.performance import performance_report

    y = np.array([1.0, 1.0 + 1e-13, 1.0, 1.0 + 1e-13])
    found = regression_metrics(y, np.array([1.1, 0.9, 1.2, 0.8]))
    assert found["r2"] == 0.0 and np.isnan(found["spearman"])
    assert np.isnan(regression_metrics(np.array([1.0, 2.0]), np.array([0.5, 0.5 + 1e-14]))["spearman"])
    assert regression_metrics(np.array([0.3, 0.3 + 1e-9]), np.array([0.1, 0.2]))["spearman"] == pytest.approx(1.0)
    report = performance_report("regression", y, {"model": y + np.array([0.1, -0.1, 0.2, -0.2]), "baseline": y + 0.1},
                                {"model": np.full(4, 0.15), "baseline": np.full(4, 0.1)}, BootstrapConfig(n_resamples=50))
    assert report["model"]["spearman"] is None or np.isnan(report["model"]["spearman"])
    ci = report["model_ci"]["spearman"]
    assert all(v is None or np.isnan(v) for v in (ci["low"], ci["high"]))


def test_binary_classification_metrics():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.35, 0.65], [0.2, 0.8]])
    m = classification_metrics(y, proba)
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["pr_auc"] == pytest.approx((1 / 2) * 1 + (1 / 2) * (2 / 3))  # hits at ranks 1 and 3
    assert m["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 0))  # tp 2, fp 1, fn 0
    assert m["mcc"] == pytest.approx((2 * 1 - 1 * 0) / np.sqrt(3 * 1 * 2 * 2))
    assert m["brier"] == pytest.approx(np.mean([0.01, 0.49, 0.35**2, 0.04]))


def test_multiclass_brier_sums_over_classes_and_f1_is_macro():
    y = np.array([0, 1, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4]])
    m = classification_metrics(y, proba)
    assert m["brier"] == pytest.approx(np.mean([0.06, 0.14, 0.25 + 0.01 + 0.36]))
    assert m["f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)  # class 2 never predicted: F1 0


def test_multiclass_f1_averages_over_the_measured_classes_for_every_model():
    """A class absent from the test part, predicted by one model only, must not add a 0 to that
    model's mean alone (the comparison of two models then measured the class sets)."""
    y = np.array([0, 0, 1, 1])
    # both models get molecule 3 wrong; one calls it class 2, which no test molecule is
    to_class_0, to_class_2 = (np.eye(3)[[0, 0, 1, wrong]] * 0.8 + 0.05 for wrong in (0, 2))
    f1_0, f1_2 = classification_metrics(y, to_class_0)["f1"], classification_metrics(y, to_class_2)["f1"]
    assert f1_0 == pytest.approx((0.8 + 2 / 3) / 2)  # class 0: 2 of 3 called are right; class 1: 1 of 2 found
    assert f1_2 == pytest.approx((1.0 + 2 / 3) / 2)  # never (1 + 2/3 + 0) / 3
    counts = np.ones((1, 4))
    assert weighted.classification(y, to_class_2, counts)["f1"][0] == pytest.approx(f1_2)


def test_multiclass_metrics_are_one_vs_rest_and_perfect_when_ranking_is():
    y = np.array([0, 1, 2, 2])
    proba = np.eye(3)[y] * 0.7 + 0.1
    m = classification_metrics(y, proba)
    assert m["roc_auc"] == pytest.approx(1.0) and m["pr_auc"] == pytest.approx(1.0)


def test_single_class_test_set_gives_nan_auc_not_a_crash():
    m = classification_metrics(np.array([1, 1]), np.array([[0.2, 0.8], [0.6, 0.4]]))
    assert np.isnan(m["roc_auc"]) and m["accuracy"] == 0.5


def test_member_summary_is_mean_and_std():
    s = summarize_members([{"rmse": 1.0}, {"rmse": 3.0}])
    assert s == {"rmse_mean": 2.0, "rmse_std": 1.0}


def test_member_summary_is_nan_where_a_member_leaves_the_metric_undefined():
    """Bug fixed: the mean and std of the members that defined it: on a test part without class 1,
    three members calling no molecule class 1 (F1 undefined) and one calling some (F1 0) gave
    f1_mean 0, f1_std 0, read as every member's."""
    s = summarize_members([{"f1": float("nan"), "accuracy": 1.0}, {"f1": 0.0, "accuracy": 0.9}])
    assert np.isnan(s["f1_mean"]) and np.isnan(s["f1_std"]) and s["accuracy_mean"] == pytest.approx(0.95)


def test_prediction_table_regression_and_plot():
    test = pd.DataFrame({"mol_id": ["a", "b"], "smiles": ["C", "CC"], "y": [1.0, 2.0]})
    preds = {
        "baseline": Predictions(np.array([[1.5, 2.0]]), ["m"]),
        "model": Predictions(np.array([[1.0, 1.0], [1.0, 3.0]]), ["f0", "f1"]),
    }
    table = prediction_table(test, preds, "regression")
    assert table["baseline_error"].tolist() == [0.5, 0.0]
    assert table["model"].tolist() == [1.0, 2.0] and table["model_spread"].tolist() == [0.0, 1.0]
    assert table["model_uncertainty"].tolist() == [0.0, 1.0]  # no calibration: the spread
    assert list(plot_table(table).columns) == ["measured", "baseline", "model"]


def test_k_fold_spread_is_within_the_folds_as_calibrated():
    """Several members per fold: the spread is each fold's own (what the validation molecules,
    predicted by their fold's members, calibrated), not the folds' differences."""
    members = np.array([[1.0, 2.0], [1.2, 2.4], [5.0, 6.0], [5.6, 6.0]])  # folds 0, 0, 1, 1
    names = ["fold_0_member_0", "fold_0_member_1", "fold_1_member_0", "fold_1_member_1"]
    within = Predictions(members, names, 2.0)
    expected = np.sqrt((np.array([0.1, 0.2]) ** 2 + np.array([0.3, 0.0]) ** 2) / 2)
    assert np.allclose(within.spread, expected) and np.allclose(within.uncertainty, 2 * expected)
    one_per_fold = Predictions(members, ["fold_0", "fold_1", "fold_2", "fold_3"])
    plain = Predictions(members, [f"member_{i}" for i in range(4)])
    assert np.allclose(one_per_fold.spread, members.std(axis=0)) and np.allclose(plain.spread, members.std(axis=0))


def test_prediction_table_classification_error_is_one_minus_true_class_probability():
    test = pd.DataFrame({"mol_id": ["a"], "smiles": ["C"], "y": [1]})
    p = Predictions(np.array([[[0.3, 0.7]]]), ["m"])
    table = prediction_table(test, {"baseline": p, "model": p}, "classification")
    assert table["model"].tolist() == [1]
    assert table["model_error"].tolist() == pytest.approx([0.3])


def test_binary_roc_auc_ranks_the_probabilities_not_the_predicted_labels():
    from molprop.evaluation.metrics import classification_metrics
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55], [0.2, 0.8]])  # labels 0,1,1,1
    m = classification_metrics(y, proba)
    assert m["roc_auc"] == pytest.approx(0.75)  # pos 0.55 < neg 0.6: 3 of 4 pairs
    proba2 = np.array([[0.9, 0.1], [0.45, 0.55], [0.4, 0.6], [0.2, 0.8]])
    assert classification_metrics(y, proba2)["roc_auc"] == pytest.approx(1.0)  # same hard labels, ranking perfect


def test_member_summary_gives_the_standard_deviation_not_the_variance():
    from molprop.evaluation.metrics import summarize_members
    assert summarize_members([{"rmse": 1.0}, {"rmse": 5.0}]) == {"rmse_mean": 3.0, "rmse_std": 2.0}


def test_the_ensemble_is_the_mean_of_three_members_not_their_median():
    """Tests with two members cannot tell the mean from the median."""
    from molprop.models.calibration import ensemble_validation

    members = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 6.0]])
    assert Predictions(members, ["m0", "m1", "m2"]).mean.tolist() == pytest.approx([1.0, 2.0])
    scored = ensemble_validation({"main": np.array([0, 1])}, {"main": [np.zeros(2), np.zeros(2), np.full(2, 3.0)]},
                                 np.ones(2), "regression")  # fmt: skip
    assert scored["val_rmse"] == pytest.approx(0.0)


def test_ties_count_for_neither_model():
    """Catches the slip (performance.py: n_<a>_better counts diff <= 0): molecules both models predict
    equally well were credited to the model."""
    from molprop.evaluation.bootstrap import BootstrapConfig
    from molprop.evaluation.performance import performance_report

    y = np.arange(10.0)
    pred = y + np.array([0.5, -0.5] * 5)
    other = y + np.array([0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 1.0, -1.0])
    report = performance_report("regression", y, {"model": pred, "baseline": other},
                                {"model": np.abs(pred - y), "baseline": np.abs(other - y)},
                                BootstrapConfig(n_resamples=50))
    comparison = report["model_vs_baseline"]
    assert (comparison["n_model_better"], comparison["n_baseline_better"]) == (2, 0)
