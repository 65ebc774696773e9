"""Test-wide settings: no network telemetry, CPU only, MLflow in a temporary store."""

import os

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""


@pytest.fixture(autouse=True)
def _mlflow_store(tmp_path, monkeypatch):
    """Every test gets its own MLflow tracking store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
