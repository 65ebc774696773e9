"""Stage validate: the user's table -> standardized, de-duplicated molecules + rejects.

Reads data.source (built-in descriptor, CSV, TSV, Parquet, SDF or .smi) and the `data` and
`validate` sections of params.yaml. Writes data/raw.parquet (the input as read),
data/validated.parquet, data/rejected.csv (row, input, reason, message),
reports/validation/ (standardization changes, the Great Expectations suite and its result)
and metrics/validation.json. A problem with the file as a whole stops the stage with a
message and exit code 1, before any output is written; a failed Great Expectations check
stops it after writing reports/validation/ (the suite and its result, to inspect) and
data/rejected.csv (the rows already rejected often say why).
"""

from __future__ import annotations

# first: Ctrl-C or SIGTERM during the imports below then gets one line, not a traceback
from common import MODEL_CONTEXT, read_params, run_stage

import json
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from molprop.data.builtin import builtin_target_ranges
from molprop.data.io import as_text, read_source, require_columns, short_rows_warning
from molprop.errors import UserInputError
from molprop.schema import LABEL, ROW, TARGET, VALIDATE_SETTINGS_KEY
from molprop.serialization import write_json
from molprop.validation.config import config_from_params, target_range_note
from molprop.validation.curate import curate
from molprop.validation.duplicates import loose_tolerance, tight_tolerance
from molprop.validation.targets import (class_like_target, decimal_mark_mistake, far_targets, marker_labels_warning,
                                       negated_positive, outlying_targets, rare_class_warning, unlogged_target)

RAW = Path("data/raw.parquet")
VALIDATED = Path("data/validated.parquet")
REJECTED = Path("data/rejected.csv")
REPORTS = Path("reports/validation")
METRICS = Path("metrics/validation.json")


def main() -> int:
    params = read_params("data", "validate")
    data = params["data"]
    source, smiles_col, target_col = data["source"], data["smiles_column"], data["target_column"]
    dataset_ranges = builtin_target_ranges(source)
    config, expectations = config_from_params(params["validate"], data["task"], target_col,
                                              str(data.get("decimal", ".")), data.get("positive_class"),
                                              dataset_ranges, str(source))
    if smiles_col == target_col:
        raise UserInputError(f"data.smiles_column and data.target_column are both '{smiles_col}'; set "
                             "data.target_column to the column of the measured property.")
    table = read_source(source)  # a problem with the file as a whole: InputFileError, one line
    require_columns(table, {"data.smiles_column": smiles_col, "data.target_column": target_col}, source)
    mistake = decimal_mark_mistake(table[target_col], config.target.decimal) if data["task"] == "regression" else None
    if mistake:  # before the work: the rows left would be the few whole numbers
        raise UserInputError(mistake)
    result = curate(table, smiles_col, target_col, config)

    from molprop.validation.expectations import build_suite, run_suite  # GX: ~3 s import

    suite = build_suite(data["task"], list(result.validated.columns),
                        config.target.min_value, config.target.max_value,
                        int(expectations.get("min_rows", 1)),
                        int(expectations.get("warn_min_rows", 1)))
    outcome = run_suite(result.validated, suite)
    shutil.rmtree(REPORTS, ignore_errors=True)
    write_json(REPORTS / "suite.json", suite)
    write_json(REPORTS / "gx_result.json", outcome.result)
    result.changes.to_csv(REPORTS / "standardization_changes.csv", index=False)
    if not outcome.success:  # the rejected rows are written all the same: they often say why
        REJECTED.parent.mkdir(parents=True, exist_ok=True)
        result.rejected.to_csv(REJECTED, index=False)
        print("validate: Great Expectations blocking failure(s):\n  "
              + "\n  ".join(outcome.blocking_failures)
              + f"\n{_counts(result.metrics)}; each rejected row is in {REJECTED} with its reason", file=sys.stderr)
        return 1

    RAW.parent.mkdir(parents=True, exist_ok=True)
    # Every column as text: the raw input exactly as read, whatever types the file had.
    as_text(table).to_parquet(RAW, index=False)
    # with the settings that made it, which a model is saved with (`molprop predict`)
    recorded = {k: params["validate"][k] for k in MODEL_CONTEXT["validate"]}
    validated = pa.Table.from_pandas(result.validated, preserve_index=False)
    pq.write_table(validated.replace_schema_metadata(
        {**(validated.schema.metadata or {}), VALIDATE_SETTINGS_KEY: json.dumps(recorded, sort_keys=True)}), VALIDATED)
    result.rejected.to_csv(REJECTED, index=False)
    metrics = result.metrics | {"gx_blocking_failures": 0, "gx_warnings": len(outcome.warnings)}
    write_json(METRICS, metrics)
    if data["task"] == "regression":
        values = result.validated[TARGET].tolist()
        # a typo (6500 among pIC50s) spans decades too: the rest decides whether the target is unlogged
        far = set(far_targets(values).tolist())
        rest = [v for i, v in enumerate(values) if i not in far]
        shape = class_like_target(rest) or unlogged_target(rest)
        # the tolerance warnings measure it in standard deviations (of the values that are no
        # typo or code): on a long-tailed target that calls for logarithms (or a class-like one)
        # their advice would mislead
        target_warnings = [shape, outlying_targets(values, result.validated[ROW].tolist())] + ([] if shape else [
            loose_tolerance(config.duplicates.tolerance, rest, metrics["n_duplicate_groups_merged"]),
            tight_tolerance(config.duplicates.tolerance, rest,
                            metrics["rejected_by_reason"].get("conflicting_duplicates", 0))])
    else:
        missing = result.rejected[result.rejected["reason"] == "missing_target"]
        target_warnings = [None if config.target.positive_class is not None else negated_positive(result.classes),
                           rare_class_warning(result.validated[LABEL].tolist(), result.validated[ROW].tolist()),
                           marker_labels_warning(missing["target_input"].tolist(), metrics["n_in"])]
    target_warnings.append(target_range_note(params["validate"], data["task"], target_col, dataset_ranges))
    for warning in [*outcome.warnings, *filter(None, [short_rows_warning(table), *target_warnings])]:
        print(f"validate: warning: {warning}")
    positive = f"; class 1 (positive): '{metrics['positive_class']}'" if "positive_class" in metrics else ""
    print(f"validate: {_counts(metrics)}, {metrics['n_standardized_changed']} changed by standardization{positive}")
    return 0


def _counts(metrics: dict) -> str:
    return (f"{metrics['n_in']} rows in, {metrics['n_kept']} kept, "
            f"{metrics['n_rejected']} rejected {metrics['rejected_by_reason']}, "
            f"{metrics['n_merged_away']} merged into replicates")


if __name__ == "__main__":
    run_stage(main)
