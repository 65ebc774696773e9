"""The Great Expectations suite on ``data/validated.parquet``: built from a JSON template in
the repository plus params, run with an ephemeral GX 1.x context (no project folder)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

TEMPLATE = Path(__file__).parent / "expectations" / "suite_template.json"
# No whitespace, no reaction arrow, not an InChI: what a standardized SMILES must look like.
# A '>' only as the head of a dative bond ("->", as in CN->[B-](F)(F)F, which RDKit keeps).
SMILES_REGEX = r"^(?!InChI=)(?:[^\s>]|(?<=-)>)+$"
_VOLATILE = {"id", "validation_id", "run_id", "validation_time", "ge_load_time", "batch_id",
             "pandas_data_fingerprint"}


@dataclass(frozen=True)
class SuiteOutcome:
    """``success`` is False when a critical (blocking) expectation failed."""

    success: bool
    blocking_failures: list[str]
    warnings: list[str]
    result: dict[str, Any]


def _fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return values[value[2:-1]]
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def build_suite(task: str, columns: list[str], y_min: float | None, y_max: float | None,
                min_rows: int, warn_min_rows: int, template: Path = TEMPLATE) -> dict[str, Any]:
    """The suite as a JSON-ready dict: template placeholders filled, task-specific
    expectations selected, bounds that are None left out (both None: expectation dropped)."""
    spec = json.loads(template.read_text())
    values = {"columns": columns, "smiles_regex": SMILES_REGEX, "y_min": y_min, "y_max": y_max,
              "y_type": "float64" if task == "regression" else "int64",
              "min_rows": min_rows, "warn_min_rows": warn_min_rows}
    expectations = []
    for item in spec["expectations"]:
        if item.pop("only_for_task", task) != task:
            continue
        kwargs = {k: _fill(v, values) for k, v in item["kwargs"].items()}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if "min_value" in item["kwargs"] and not {"min_value", "max_value"} & set(kwargs):
            continue
        expectations.append({**item, "kwargs": kwargs})
    return {"name": spec["name"], "meta": spec.get("meta", {}), "expectations": expectations}


def _strip_volatile(value: Any) -> Any:
    """The GX result without run ids and timestamps, so equal data give equal JSON."""
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def run_suite(frame: pd.DataFrame, suite: dict[str, Any]) -> SuiteOutcome:
    """Validate ``frame`` against ``suite`` (a ``build_suite`` dict)."""
    import great_expectations as gx  # ~3 s to import: only here
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    gx_suite = context.suites.add(gx.ExpectationSuite(**json.loads(json.dumps(suite))))
    batch = (context.data_sources.add_pandas("molprop").add_dataframe_asset("validated")
             .add_batch_definition_whole_dataframe("all_rows"))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="validated", data=batch, suite=gx_suite))
    result = definition.run(batch_parameters={"dataframe": frame})
    blocking, warnings = [], []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        text = f"{config.type}({ {k: v for k, v in config.kwargs.items() if k != 'batch_id'} })"
        observed = item.result.get("observed_value", item.result.get("partial_unexpected_list"))
        text += f": observed {observed}"
        if (config.meta or {}).get("hint"):
            text += f" ({config.meta['hint']})"
        (blocking if str(config.severity.value) == "critical" else warnings).append(text)
    return SuiteOutcome(not blocking, blocking, warnings, _strip_volatile(result.to_json_dict()))
