"""Helpers shared by the stage scripts: reading params.yaml by section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")


def read_params(*sections: str) -> dict[str, Any]:
    """The named top-level sections of params.yaml."""
    params = yaml.safe_load(PARAMS_FILE.read_text())
    missing = [s for s in sections if s not in params]
    if missing:
        raise KeyError(f"params.yaml has no section(s) {missing}")
    return {s: params[s] for s in sections}
