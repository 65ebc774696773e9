"""The Great Expectations suite on the validated table (GX 1.x; its import takes ~3 s, so the
suite runs are kept to a few tests in this one module)."""

from __future__ import annotations

import pandas as pd
import pytest

from molprop import schema
from molprop.validation.config import TargetRules, ValidationConfig
from molprop.validation.curate import curate
from molprop.validation.expectations import SMILES_REGEX, build_suite, run_suite

Y_MIN, Y_MAX = -15.0, 5.0


@pytest.fixture(scope="module")
def validated() -> pd.DataFrame:
    data = pd.DataFrame({
        "smiles": ["CCO", "c1ccccc1", "CC(=O)[O-].[Na+]", "OCC", "CCN.Cl", "C1CC(", "CCCl"],
        "logS": ["0.5", "-1.6", "1.2", "0.6", "0.9", "1", "-0.7"],
    })
    config = ValidationConfig(target=TargetRules(min_value=Y_MIN, max_value=Y_MAX), n_jobs=1)
    frame = curate(data, "smiles", "logS", config).validated
    assert len(frame) == 5
    return frame


def suite_for(frame: pd.DataFrame) -> dict:
    return build_suite("regression", list(frame.columns), Y_MIN, Y_MAX, min_rows=3,
                       warn_min_rows=100)


def test_build_suite_fills_the_template() -> None:
    columns = [schema.MOL_ID, schema.ROW, schema.SMILES_INPUT, schema.SMILES, schema.TARGET,
               schema.N_REPLICATES]
    suite = build_suite("regression", columns, -1.0, None, min_rows=10, warn_min_rows=50)
    types = [e["type"] for e in suite["expectations"]]
    by_kwargs = {(e["type"], e["kwargs"].get("column")): e for e in suite["expectations"]}
    assert suite["expectations"][0]["kwargs"] == {"column_list": columns}
    assert by_kwargs[("expect_column_values_to_be_between", "y")]["kwargs"] == {
        "column": "y", "min_value": -1.0}  # None bound left out
    assert by_kwargs[("expect_column_values_to_be_of_type", "y")]["kwargs"]["type_"] == "float64"
    assert by_kwargs[("expect_column_values_to_match_regex", "smiles")]["kwargs"]["regex"] \
        == SMILES_REGEX
    assert ("expect_column_values_to_not_be_null", "label") not in by_kwargs  # classification only
    rows = [e for e in suite["expectations"] if e["type"] == "expect_table_row_count_to_be_between"]
    assert [(e["kwargs"]["min_value"], e["severity"]) for e in rows] == [(10, "critical"),
                                                                           (50, "warning")]
    assert all("only_for_task" not in e for e in suite["expectations"])

    classification = build_suite("classification", columns, None, None, 1, 1)
    by_kwargs = {(e["type"], e["kwargs"].get("column")): e for e in classification["expectations"]}
    assert ("expect_column_values_to_not_be_null", "label") in by_kwargs
    assert by_kwargs[("expect_column_values_to_be_of_type", "y")]["kwargs"]["type_"] == "int64"
    assert ("expect_column_values_to_be_between", "y") not in by_kwargs  # both bounds None
    assert len(types) == len(classification["expectations"])  # y range out, label null in


def test_good_validated_table_passes(validated: pd.DataFrame) -> None:
    outcome = run_suite(validated, suite_for(validated))
    assert outcome.success
    assert outcome.blocking_failures == []
    # only the warning: 5 rows < warn_min_rows 100
    assert len(outcome.warnings) == 1
    assert outcome.warnings[0].startswith("expect_table_row_count_to_be_between(")
    assert outcome.result["success"] is False  # GX counts the warning; our verdict does not
    assert "run_id" not in str(outcome.result.keys())


def test_broken_tables_fail_with_the_blocking_expectation_named(validated: pd.DataFrame) -> None:
    suite = suite_for(validated)
    duplicated = validated.copy()
    duplicated.loc[1, schema.MOL_ID] = duplicated.loc[0, schema.MOL_ID]
    outcome = run_suite(duplicated, suite)
    assert not outcome.success
    assert len(outcome.blocking_failures) == 1
    failure = outcome.blocking_failures[0]
    assert failure.startswith("expect_column_values_to_be_unique(")
    assert "'column': 'mol_id'" in failure

    out_of_range = validated.copy()
    out_of_range.loc[2, schema.TARGET] = 42.0
    outcome = run_suite(out_of_range, suite)
    assert not outcome.success
    assert len(outcome.blocking_failures) == 1
    failure = outcome.blocking_failures[0]
    assert failure.startswith("expect_column_values_to_be_between(")
    assert "'column': 'y'" in failure and f"'max_value': {Y_MAX}" in failure
    assert "42.0" in failure


def test_dative_bonds_pass_and_reaction_arrows_do_not(validated: pd.DataFrame) -> None:
    suite = suite_for(validated)
    dative = validated.copy()
    dative.loc[0, schema.SMILES] = "CN->[B-](F)(F)F"  # standardization keeps it; featurize reads it
    assert run_suite(dative, suite).success
    for text in ("CCO>>CC=O", "CC->>C", "CCO CC"):
        broken = validated.copy()
        broken.loc[0, schema.SMILES] = text
        assert run_suite(broken, suite).blocking_failures[0].startswith("expect_column_values_to_match_regex(")
