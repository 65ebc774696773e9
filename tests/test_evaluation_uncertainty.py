"""Uncertainty quality (regression) and probability calibration (classification)."""

import numpy as np
import pytest

from molprop.evaluation.bootstrap import BootstrapConfig
from molprop.evaluation.uncertainty import (
    UNAVAILABLE,
    calibration_error,
    classification_curve,
    classification_report,
    observed_coverage,
    regression_curve,
    regression_report,
)

CONFIG = BootstrapConfig(n_resamples=200, seed=0)


def _gaussian_errors(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.2, 3.0, n)
    return np.abs(rng.normal(0.0, sigma)), sigma


def test_perfectly_calibrated_gaussian_covers_90_percent_with_small_area():
    abs_error, sigma = _gaussian_errors()
    report = regression_report(abs_error, sigma, n_members=5, scale=None, level=0.9, config=CONFIG)
    assert report["coverage"] == pytest.approx(0.9, abs=0.015)
    assert report["coverage_ci"]["low"] < 0.9 < report["coverage_ci"]["high"]
    assert report["miscalibration_area"] < 0.02
    assert report["spread_error_spearman"] > 0.3  # larger σ, larger errors
    assert report["coverage_level"] == 0.9 and report["uncertainty_scale"] is None
    assert report["note"] == "not_calibrated"


def test_overconfident_uncertainty_undercovers_and_has_a_large_area():
    abs_error, sigma = _gaussian_errors()
    report = regression_report(abs_error, sigma / 3.0, n_members=5, scale=0.5, level=0.9,
                               config=CONFIG)
    assert report["coverage"] < 0.5
    assert report["miscalibration_area"] > 0.2
    assert report["uncertainty_scale"] == 0.5 and "note" not in report


def test_uninformative_uncertainty_has_no_rank_correlation():
    rng = np.random.default_rng(1)
    abs_error = np.abs(rng.normal(size=3000))
    sigma = rng.uniform(0.5, 1.5, 3000)  # unrelated to the errors
    report = regression_report(abs_error, sigma, 5, None, 0.9, CONFIG)
    ci = report["spread_error_spearman_ci"]
    assert ci["low"] < 0 < ci["high"]


@pytest.mark.parametrize(("sigma", "members", "reason", "phrase"), [
    (np.zeros(4), 1, "one_member", "no spread between members"),
    (np.zeros(4), 3, "zero_spread", "spread is 0"),
    (np.array([1.0, np.nan, 1.0, 1.0]), 3, "non_finite", "NaN"),
])
def test_unusable_uncertainty_gives_null_metrics_and_a_reason(sigma, members, reason, phrase):
    """The reason is a short code (a sentence made `dvc metrics show` a column 160 characters
    wide); UNAVAILABLE explains it."""
    report = regression_report(np.ones(4), sigma, members, None, 0.9, CONFIG)
    assert report["coverage"] is None and report["miscalibration_area"] is None
    assert report["spread_error_spearman"] is None and report["reason"] == reason
    assert phrase in UNAVAILABLE[reason]


def test_coverage_counts_an_exact_prediction_with_zero_spread_as_inside():
    coverage = observed_coverage(np.array([0.0, 1.0]), np.array([0.0, 0.0]), np.array([0.5]),
                                 np.ones((1, 2)))
    assert coverage[0, 0] == 0.5


def test_coverage_curve_uses_gaussian_quantiles():
    # |error| = σ exactly: inside every interval wider than ±1σ (levels >= 0.6827)
    curve = regression_curve(np.ones(10), np.ones(10))
    assert list(curve.columns) == ["expected", "observed"]
    assert (curve.loc[curve.expected < 0.68, "observed"] == 0).all()
    assert (curve.loc[curve.expected > 0.69, "observed"] == 1).all()


def test_calibrated_probabilities_have_small_ece_and_diagonal_curve():
    rng = np.random.default_rng(2)
    p1 = rng.uniform(size=20000)
    y = (rng.uniform(size=p1.size) < p1).astype(int)
    proba = np.column_stack([1 - p1, p1])
    report = classification_report(y, proba, 10, CONFIG)
    assert report["expected_calibration_error"] < 0.02
    curve = classification_curve(y, proba, 10)
    assert len(curve) == 10 and curve["count"].sum() == y.size
    assert np.allclose(curve["expected"], curve["observed"], atol=0.03)


def test_overconfident_probabilities_have_large_ece():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000)
    proba = np.where(rng.uniform(size=2000) < 0.7, y, 1 - y).astype(float)  # 0/1, 70% right
    proba = np.column_stack([1 - proba, proba])
    ece = calibration_error(y, proba, 10, np.ones((1, 2000)))[0]
    assert ece == pytest.approx(0.3, abs=0.03)


def test_multiclass_calibration_judges_the_top_class_confidence():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.9, 0.05, 0.05], [0.1, 0.85, 0.05], [0.1, 0.1, 0.8], [0.75, 0.1, 0.15]])
    curve = classification_curve(y, proba, 5)
    # confidences 0.9 / 0.85 (right) in bin 0.8-1.0; 0.8 (right) there too; 0.75 (wrong) in 0.6-0.8
    assert curve["count"].tolist() == [1, 3]
    assert curve["observed"].tolist() == [0.0, 1.0]


def test_an_error_on_the_interval_edge_counts_as_covered():
    from scipy.stats import norm

    from molprop.evaluation.uncertainty import observed_coverage

    z = norm.ppf(0.5 + 0.5 / 2.0)
    covered = observed_coverage(np.array([z, 10.0]), np.array([1.0, 1.0]), np.array([0.5]), np.ones((1, 2)))
    assert covered[0, 0] == 0.5


def test_coverage_is_judged_at_the_configured_level_and_the_spearman_on_known_ranks():
    from molprop.evaluation.uncertainty import regression_statistics

    error, sigma = np.array([0.1, 0.5, 1.0, 2.0]), np.ones(4)  # z(0.75) = 0.674, z(0.95) = 1.645
    assert regression_statistics(error, sigma, 0.5, np.ones((1, 4)))["coverage"][0] == pytest.approx(0.5)
    assert regression_statistics(error, sigma, 0.9, np.ones((1, 4)))["coverage"][0] == pytest.approx(0.75)
    ranked = regression_statistics(np.array([0.1, 0.2, 0.3, 0.4]), np.array([1.0, 2.0, 3.0, 4.0]), 0.9,
                                   np.ones((1, 4)))  # fmt: skip
    assert ranked["spread_error_spearman"][0] == pytest.approx(1.0)


def test_mean_uncertainty_is_the_mean_sigma():
    report = regression_report(np.array([0.5, 1.0, 2.0]), np.array([1.0, 1.0, 4.0]), 5, 1.0, 0.9,
                               BootstrapConfig(n_resamples=10))
    assert report["mean_uncertainty"] == pytest.approx(2.0)
