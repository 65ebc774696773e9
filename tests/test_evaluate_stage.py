"""stages/evaluate.py on the small project of the interpret stage test: the network predicted
in the helper process or in the stage's own process gives the same outputs."""

from __future__ import annotations

import hashlib
import os
import runpy
import subprocess
import sys
from pathlib import Path

import yaml
from test_interpretation_stage import _project

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ["data/predictions.parquet", "metrics/evaluate.json", "metrics/uncertainty.json",
           "metrics/domain.json", "metrics/subgroups.json", "plots/pred_vs_measured.csv"]


def _digests(root: Path) -> dict[str, str]:
    return {name: hashlib.md5((root / name).read_bytes()).hexdigest() for name in OUTPUTS}


def test_network_in_the_helper_or_in_process_gives_the_same_outputs(tmp_path, monkeypatch):
    _project(tmp_path, "regression")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["evaluate"] = yaml.safe_load((REPO / "params.yaml").read_text())["evaluate"]
    params["evaluate"]["bootstrap"]["n_resamples"] = 50
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "metrics").mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "stages/evaluate.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    helper = _digests(tmp_path)

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "stages"))
    monkeypatch.setattr(sys, "platform", "darwin")  # device auto on macOS: no helper process
    stage = runpy.run_path("stages/evaluate.py")
    monkeypatch.setitem(stage["main"].__globals__, "WorkerPool", None)  # would fail if it were used
    stage["main"]()
    assert _digests(tmp_path) == helper
