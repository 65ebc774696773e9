"""Stable JSON output (sorted keys, trailing newline) so DVC hashes repeat exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


# Floats of the CSV outputs (plots, subgroup and interpret tables): 6 significant digits, as
# in metrics/*.json, whatever the target's units (6 decimals wrote 3.906e-06 as 4e-06).
SIGNIFICANT = "%.6g"


def write_json(path: str | Path, data: Any) -> None:
    """Write pretty, key-sorted JSON, creating parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def undefined_as_null(value: Any) -> Any:
    """``value`` with every NaN float (a metric that is undefined, e.g. ROC-AUC of one class)
    as None, which JSON writes as null: strict JSON has no NaN. Infinities are kept."""
    if isinstance(value, dict):
        return {k: undefined_as_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [undefined_as_null(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
