"""Vectorized weighted metrics, the bootstrap and the paired tests."""

import numpy as np
import pytest
from scipy import stats

from molprop.evaluation import metrics, weighted
from molprop.evaluation.bootstrap import (
    BootstrapConfig,
    bootstrap,
    interval,
    p_value,
    resample_counts,
    wilcoxon_p_value,
)
from molprop.evaluation.metrics import score
from molprop.evaluation.performance import performance_report


def _repeated(counts: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    index = np.repeat(np.arange(len(counts)), counts.astype(int))
    return [a[index] for a in arrays]


def _random_counts(rng, n, n_samples=6):
    counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(n_samples)])
    return counts.astype(float)


@pytest.mark.parametrize("ties", [False, True])
def test_weighted_regression_equals_plain_metrics_of_the_repeated_sample(ties):
    rng = np.random.default_rng(1)
    y = rng.normal(size=40)
    pred = y + rng.normal(scale=0.5, size=40)
    if ties:  # rank ties on both sides
        y, pred = np.round(y, 1), np.round(pred, 1)
    counts = _random_counts(rng, 40)
    got = weighted.regression(y, pred, counts)
    for b, row in enumerate(counts):
        expected = score("regression", *_repeated(row, y, pred))
        for key, value in expected.items():
            assert got[key][b] == pytest.approx(value, abs=1e-10), key


def test_a_sample_of_one_distinct_molecule_has_r2_score_s_r2_not_a_rounding_error():
    """Its sum of squares is 0 up to rounding (R² had been -1e15, then NaN): R² is 0 as for
    the plain metric, 1 when every prediction is exact, NaN for a single draw."""
    y = np.array([-4.58, -0.7, 2.67])
    draws = np.vstack([np.eye(3) * 3, [[1.0, 1.0, 1.0]], [[2.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]]])
    r2 = weighted.regression(y, y + np.array([0.3, 0.3, 0.0]), draws)["r2"]
    assert r2[:2].tolist() == [0.0, 0.0] and r2[2] == 1.0  # the third molecule is predicted exactly
    assert r2[3] == pytest.approx(metrics.r2_score(y, y + np.array([0.3, 0.3, 0.0])))
    assert r2[4] == pytest.approx(metrics.r2_score(y[[0, 0, 1]], y[[0, 0, 1]] + 0.3))
    assert np.isnan(r2[5])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_weighted_classification_equals_plain_metrics_of_the_repeated_sample(n_classes):
    rng = np.random.default_rng(2)
    n = 60
    y = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[y]
    proba = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 2)  # ties
    counts = _random_counts(rng, n)
    got = weighted.classification(y, proba, counts)
    for b, row in enumerate(counts):
        expected = score("classification", *_repeated(row, y, proba))
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert got[key][b] == pytest.approx(value, abs=1e-10), key


def test_weighted_auc_and_mcc_are_nan_for_a_resample_of_one_class():
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.1, 0.9]])
    counts = np.array([[0.0, 2.0, 2.0, 0.0], [2.0, 0.0, 0.0, 2.0], [4.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 2.0]])
    got = weighted.classification(y, proba, counts)
    assert np.isnan(got["roc_auc"][:3]).all() and np.isnan(got["pr_auc"][:3]).all()
    assert np.isnan(got["mcc"][:3]).all() and got["accuracy"][0] == 1.0
    assert got["f1"][0] == 1.0  # class 1 only, all called class 1
    assert got["f1"][1] == 0.0  # class 0 only, one of the molecules called class 1: F1 = 0 / (0 + 2)
    assert np.isnan(got["f1"][2])  # class 0 only, none called class 1: 0 / 0
    assert got["mcc"][3] == pytest.approx(score("classification", *_repeated(counts[3], y, proba))["mcc"])


def test_a_perfect_classifier_of_few_positives_has_f1_and_mcc_intervals_of_1():
    """Bug fixed: resamples without a positive molecule counted F1 and MCC as 0 (scikit-learn's
    0 / 0 convention), so a classifier right on all 40 test molecules (2 positives) had the
    intervals [0, 1] for both; an all-negative test part had MCC 0 [0, 0] beside accuracy 1."""
    y = np.array([1, 1] + [0] * 38)
    proba = np.column_stack([1 - y * 0.8 - 0.1, y * 0.8 + 0.1])
    config = BootstrapConfig(n_resamples=400, seed=0)
    report = performance_report("classification", y, {"model": proba, "baseline": proba},
                                {"model": np.zeros(len(y)), "baseline": np.zeros(len(y))}, config)
    for key in ("f1", "mcc"):
        ci = report["model_ci"][key]
        assert report["model"][key] == 1.0 and (ci["low"], ci["high"]) == (1.0, 1.0), key
        assert 300 < ci["n_resamples_defined"] < 400, key
    negatives = metrics.classification_metrics(np.zeros(10, dtype=int), np.tile([0.9, 0.1], (10, 1)))
    assert negatives["accuracy"] == 1.0 and np.isnan(negatives["f1"]) and np.isnan(negatives["mcc"])
    called = metrics.classification_metrics(np.zeros(2, dtype=int), np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert called["f1"] == 0.0 and np.isnan(called["mcc"])  # a molecule called positive: F1 0
    constant = metrics.classification_metrics(np.array([0, 1, 0]), np.tile([0.9, 0.1], (3, 1)))
    assert constant["mcc"] == 0.0 and constant["f1"] == 0.0  # predictions of one class: no skill


def test_a_resample_lacking_one_of_three_classes_has_no_auc():
    """Bug fixed: it had the mean AUC (and macro F1) of the classes it held, another metric, which
    put the test part's own AUC at the bottom of its interval (0.83 in [0.79, 1.0]; every such
    resample 1.0)."""
    y = np.array([0, 1, 1, 2, 2])
    proba = np.array([[0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.1, 0.2, 0.7], [0.2, 0.1, 0.7]])
    counts = np.array([[0.0, 2.0, 1.0, 1.0, 1.0], [1.0] * 5])
    got = weighted.classification(y, proba, counts)
    assert np.isnan(got["roc_auc"][0]) and np.isnan(got["pr_auc"][0]) and np.isnan(got["f1"][0])
    whole = score("classification", y, proba)
    assert got["roc_auc"][1] == pytest.approx(whole["roc_auc"]) and got["f1"][1] == pytest.approx(whole["f1"])


def test_an_interval_that_few_resamples_define_is_null_and_counted():
    """Bug fixed: five classes of one test molecule each left 1 of 10 resamples defining ROC-AUC,
    which gave the interval [0.543, 0.543] beside a value of 0.523, without a word."""
    rng = np.random.default_rng(0)
    y = np.array([0] * 30 + [1] * 30 + [2])  # class 2 once: ~37% of resamples lack it
    proba = rng.dirichlet(np.ones(3), size=len(y))
    config = BootstrapConfig(n_resamples=400, seed=0)
    report = performance_report("classification", y, {"model": proba, "baseline": proba[::-1]},
                                {"model": np.ones(len(y)), "baseline": np.ones(len(y))}, config)
    ci = report["model_ci"]["roc_auc"]
    assert 200 < ci["n_resamples_defined"] < 300 and not np.isnan(ci["low"])
    assert "n_resamples_defined" not in report["model_ci"]["accuracy"]
    y = np.array([0] * 30 + [1] * 30 + [2, 3, 4])  # three single molecules: most resamples lack one
    proba = rng.dirichlet(np.ones(5), size=len(y))
    report = performance_report("classification", y, {"model": proba, "baseline": proba[::-1]},
                                {"model": np.ones(len(y)), "baseline": np.ones(len(y))}, config)
    ci = report["model_ci"]["roc_auc"]
    assert ci["n_resamples_defined"] < 200 and np.isnan(ci["low"]) and np.isnan(ci["high"])
    assert np.isnan(report["model_vs_baseline"]["difference"]["roc_auc"]["p_value"])


def test_one_test_molecule_has_no_interval_and_no_bootstrap_p():
    """Bug fixed: with one test molecule every resample repeats it, and evaluate printed a
    'paired bootstrap p = 0.000999' beside a zero-width interval."""
    report = performance_report("regression", np.array([1.0]), {"model": np.array([1.2]), "baseline": np.array([2.0])},
                                {"model": np.array([0.2]), "baseline": np.array([1.0])}, BootstrapConfig(n_resamples=50))
    assert report["model"]["rmse"] == pytest.approx(0.2)
    assert np.isnan(report["model_ci"]["rmse"]["low"]) and np.isnan(report["model_ci"]["rmse"]["high"])
    comparison = report["model_vs_baseline"]
    assert comparison["mean_error_difference"] == pytest.approx(-0.8)
    assert np.isnan(comparison["mean_error_difference_p_value"]) and np.isnan(comparison["difference"]["rmse"]["p_value"])
    two = performance_report("regression", np.array([1.0, 3.0]), {"model": np.array([1.2, 2.9]),
                             "baseline": np.array([2.0, 2.0])}, {"model": np.array([0.2, 0.1]),
                             "baseline": np.array([1.0, 1.0])}, BootstrapConfig(n_resamples=50))
    assert not np.isnan(two["model_ci"]["rmse"]["low"])  # two molecules: resamples vary
    assert "n_resamples_defined" not in report["model_ci"]["rmse"]  # not "0 of them define it"
    from molprop.evaluation.uncertainty import classification_report, regression_report

    config = BootstrapConfig(n_resamples=50)
    found = regression_report(np.array([0.5]), np.array([1.0]), 4, 1.0, 0.9, config)
    assert found["coverage"] == 1.0 and all(np.isnan(found[f"{k}_ci"][end]) for end in ("low", "high")
                                            for k in ("coverage", "miscalibration_area"))
    found = classification_report(np.array([1]), np.array([[0.3, 0.7]]), 10, config)
    assert np.isnan(found["expected_calibration_error_ci"]["low"])


def test_spread_error_spearman_takes_the_rounding_rule_too():
    from molprop.evaluation.uncertainty import regression_report

    sigma = 3 * (1 + np.arange(20) * 1e-15)  # one uncertainty, up to rounding
    error = np.random.default_rng(0).random(20)
    found = regression_report(error, sigma, 4, 1.0, 0.9, BootstrapConfig(n_resamples=50))
    assert np.isnan(found["spread_error_spearman"]) and np.isnan(found["spread_error_spearman_ci"]["high"])


def test_resample_counts_are_seeded_and_sum_to_n():
    first = np.vstack(list(resample_counts(50, 250, 7)))
    again = np.vstack(list(resample_counts(50, 250, 7)))
    other = np.vstack(list(resample_counts(50, 250, 8)))
    assert first.shape == (250, 50) and (first.sum(axis=1) == 50).all()
    assert (first == again).all() and not (first == other).all()
    # each molecule is drawn once per resample on average
    assert first.mean() == pytest.approx(1.0)


def test_interval_of_a_mean_matches_the_normal_theory_width():
    rng = np.random.default_rng(3)
    x = rng.normal(loc=2.0, scale=1.0, size=400)
    config = BootstrapConfig(n_resamples=2000, seed=0, confidence=0.95)
    samples = bootstrap(lambda c: {"mean": weighted.mean(x, c)}, len(x), config)
    low, high = interval(samples["mean"], 0.95)
    half_width = 1.96 * x.std() / np.sqrt(len(x))
    assert low < x.mean() < high
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.1)


def test_interval_leaves_out_nan_and_is_nan_when_all_are():
    assert interval(np.array([np.nan, 1.0, 2.0, 3.0]), 0.5) == pytest.approx((1.5, 2.5))
    assert all(np.isnan(interval(np.array([np.nan, np.nan]), 0.95)))


def test_p_value_identical_models_is_one_and_follows_the_interval_without_spread():
    assert p_value(np.zeros(100), 0.0) == 1.0
    # every molecule's difference equal (bug fixed: NaN, "too few molecules", beside an interval
    # [-0.39, -0.39] that leaves 0 out); evaluate warns separately about a small test part
    assert p_value(np.full(100, -0.387624), -0.387624) == 1 / 101
    assert p_value(np.r_[np.zeros(600), np.ones(400)], 0.4) == 1.0  # zeros count on both sides
    assert np.isnan(p_value(np.array([np.nan, np.nan]), 0.1)) and np.isnan(p_value(np.ones(5), np.nan))
    assert wilcoxon_p_value(np.ones(10), np.ones(10)) == 1.0


def test_p_value_agrees_with_the_percentile_interval_on_a_skewed_difference():
    """A long tail towards 0 (two AUCs near 1): the interval leaves 0 out, so p < 0.05 (bug
    fixed: the shifted-resamples p-value said 0.08 beside such an interval)."""
    rng = np.random.default_rng(0)
    d = -rng.gamma(1.2, 0.05, size=1000)  # 97.5th percentile -0.0025; the old p-value 0.24
    low, high = interval(d, 0.95)
    assert high < 0
    assert p_value(d, float(np.median(d))) < 0.05
    assert p_value(d, float(np.median(d))) == pytest.approx((1 + 2 * (d >= 0).sum()) / 1001)
    for shift in np.linspace(-0.1, 0.1, 41):  # the two agree wherever 0 is not at an interval end
        low, high = interval(d + shift, 0.95)
        if min(abs(low), abs(high)) > 2e-3:
            assert (p_value(d + shift, float(np.median(d + shift))) < 0.05) == (low > 0 or high < 0)


def test_paired_p_values_small_when_one_model_is_clearly_better():
    rng = np.random.default_rng(4)
    y = rng.normal(size=200)
    good, bad = y + rng.normal(scale=0.3, size=200), y + rng.normal(scale=1.0, size=200)
    report = performance_report("regression", y, {"model": good, "baseline": bad},
                                {"model": np.abs(good - y), "baseline": np.abs(bad - y)},
                                BootstrapConfig(n_resamples=500))
    comparison = report["model_vs_baseline"]
    assert comparison["wilcoxon_p_value"] < 1e-6
    rmse = comparison["difference"]["rmse"]
    assert rmse["value"] < 0 and rmse["high"] < 0 and rmse["p_value"] <= 2 / 501
    assert comparison["n_model_better"] > comparison["n_baseline_better"]
    diff = np.abs(good - y) - np.abs(bad - y)
    assert comparison["mean_error_difference"] == pytest.approx(diff.mean())
    assert -1 < comparison["rank_biserial"] < -0.5  # the model's errors smaller on most, and the larger ones
    # regression errors are absolute errors: the mean difference is the MAE difference, on the same resamples
    mae = comparison["difference"]["mae"]
    assert comparison["mean_error_difference_p_value"] == mae["p_value"]
    assert comparison["mean_error_difference_ci"] == pytest.approx({"low": mae["low"], "high": mae["high"]})
    assert report["model_ci"]["rmse"]["low"] < report["model"]["rmse"] < report["model_ci"]["rmse"]["high"]


def test_rank_biserial_is_the_signed_rank_statistics_direction_and_size():
    from molprop.evaluation.bootstrap import rank_biserial

    assert rank_biserial(np.array([1.0, 2, 3]), np.array([2.0, 3, 4])) == -1.0  # a always better
    assert np.isnan(rank_biserial(np.array([1.0, 1]), np.array([1.0, 1])))  # no difference at all
    # differences -1, +2, +3, 0 (dropped): ranks 1, 2, 3 -> (5 - 1) / 6
    assert rank_biserial(np.array([0.0, 3, 3, 5]), np.array([1.0, 1, 0, 5])) == pytest.approx(4 / 6)


def test_paired_p_values_are_about_uniform_when_models_are_equally_good():
    rng = np.random.default_rng(5)
    config = BootstrapConfig(n_resamples=200, seed=1)
    wilcoxon, boot = [], []
    for _ in range(150):
        y = rng.normal(size=60)
        a, b = y + rng.normal(size=60), y + rng.normal(size=60)
        report = performance_report("regression", y, {"model": a, "baseline": b},
                                    {"model": np.abs(a - y), "baseline": np.abs(b - y)}, config)
        wilcoxon.append(report["model_vs_baseline"]["wilcoxon_p_value"])
        boot.append(report["model_vs_baseline"]["difference"]["mae"]["p_value"])
    for p in (wilcoxon, boot):
        assert stats.kstest(p, "uniform").pvalue > 0.01
        assert 0.02 < np.mean(np.array(p) < 0.05) < 0.12


def test_bootstrap_config_rejects_bad_values():
    with pytest.raises(ValueError, match="n_resamples"):
        BootstrapConfig(n_resamples=1)
    with pytest.raises(ValueError, match="confidence"):
        BootstrapConfig(confidence=95)


def test_weighted_r2_survives_a_large_target_offset():
    """Centred before squaring: y around 1e6 lost R2 to cancellation."""
    from molprop.evaluation.metrics import regression_metrics

    rng = np.random.default_rng(0)
    y = 1e6 + rng.normal(0, 1, 50)
    pred = y + rng.normal(0, 0.3, 50)
    assert weighted.regression(y, pred, np.ones((1, 50)))["r2"][0] == pytest.approx(
        regression_metrics(y, pred)["r2"], rel=1e-6)
