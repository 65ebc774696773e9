"""Metrics files of any shape: flattening, interval pairing, markdown tables."""

from __future__ import annotations

import math

import pytest

from molprop.report.markdown import has_intervals, metrics_tables, table
from molprop.report.metrics import Metric, collect, format_value


def _by_path(metrics):
    return {".".join(m.path): m for m in metrics}


@pytest.mark.parametrize("data", [
    {"model": {"rmse": 1.5, "rmse_ci_low": 1.2, "rmse_ci_high": 1.9}},
    {"model": {"rmse": 1.5, "rmse_lower": 1.2, "rmse_upper": 1.9}},
    {"model": {"rmse": 1.5, "rmse_ci": [1.2, 1.9]}},
    {"model": {"rmse": 1.5, "rmse_ci95": [1.2, 1.9]}},
    {"model": {"rmse": {"value": 1.5, "ci": [1.2, 1.9]}}},
    {"model": {"rmse": {"mean": 1.5, "low": 1.2, "high": 1.9}}},
    {"model": {"rmse": {"estimate": 1.5, "ci": {"low": 1.2, "high": 1.9}}}},
    {"model": {"rmse": 1.5, "ci": {"rmse": [1.2, 1.9]}}},
    {"model": {"rmse": 1.5, "ci_low": {"rmse": 1.2}, "ci_high": {"rmse": 1.9}}},
    {"model": {"rmse": 1.5}, "model_ci": {"rmse": {"low": 1.2, "high": 1.9}}},
    {"model": {"rmse": 1.5}, "model_ci": {"rmse": [1.2, 1.9]}},
])
def test_every_interval_spelling_pairs_with_its_value(data):
    found = collect(data)
    assert found == [Metric(("model", "rmse"), 1.5, 1.2, 1.9)]


def test_bounds_without_a_value_stay_plain_metrics():
    found = _by_path(collect({"fraction_low": 0.1, "parts": {"low": 3}, "n": 5}))
    assert set(found) == {"fraction_low", "parts.low", "n"}
    assert not has_intervals(found.values())


def test_plain_nesting_and_lists_flatten():
    found = _by_path(collect({"a": {"b": [1, 2, 3], "c": "text"}, "d": True}))
    assert [found[k].value for k in ("a.b.0", "a.b.1", "a.b.2", "a.c", "d")] == [1, 2, 3, "text", True]


def test_member_summaries_are_metrics_of_their_own():
    found = _by_path(collect({"model_members": {"rmse_mean": 1.0, "rmse_std": 0.1}}))
    assert set(found) == {"model_members.rmse_mean", "model_members.rmse_std"}


def test_metrics_tables_group_entities_with_the_same_metrics():
    metrics = collect({"task": "regression", "n_test": 65,
                       "baseline": {"rmse": 3.0, "r2": 0.59, "rmse_ci": [2.5, 3.5]},
                       "model": {"rmse": 1.94, "r2": 0.83, "rmse_ci": [1.6, 2.3]},
                       "model_members": {"rmse_mean": 2.0, "rmse_std": 0.1}})
    text = metrics_tables(metrics)
    assert text.splitlines()[0] == "task: regression, n_test: 65"
    assert "| baseline | 3 [2.5, 3.5] | 0.59 |" in text
    assert "| model | 1.94 [1.6, 2.3] | 0.83 |" in text
    assert "|  | rmse_mean | rmse_std |" in text  # the members summary is a second table


def test_format_value():
    assert format_value(1.23456789) == "1.235" and format_value(float("nan")) == "NaN"
    assert format_value(2, 1.5, None) == "2 [1.5, ?]" and format_value("x") == "x"
    assert not math.isnan(float(format_value(0.1)))


def test_markdown_table_escapes_pipes():
    assert table(["a|b"], [["x|y"]]).splitlines()[2] == "| x\\|y |"
