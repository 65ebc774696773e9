"""The CML workflow: valid against the GitHub workflow schema, clean under zizmor's security
audits, and doing what the pull-request report needs (full history, base branch, CML)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github/workflows/cml.yaml"


def _tool(name: str) -> str:
    path = shutil.which(name) or str(Path(__import__("sys").executable).parent / name)
    assert Path(path).exists(), f"{name} is missing: install the dev extras (make install)"
    return path


def _steps() -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    return job["steps"]


def test_workflow_matches_the_github_workflow_schema():
    done = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_passes_zizmor_offline():
    done = subprocess.run([_tool("zizmor"), "--offline", str(WORKFLOW)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_does_catch_an_injection(tmp_path):
    """The audit is live: a pull-request title pasted into a shell command is flagged."""
    injected = '\n      - name: Echo the title\n        run: echo "${{ github.event.pull_request.title }}"\n'
    path = tmp_path / ".github/workflows/bad.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(WORKFLOW.read_text().rstrip("\n") + injected)
    done = subprocess.run([_tool("zizmor"), "--offline", "--no-config", str(path)], capture_output=True, text=True)
    assert done.returncode != 0 and "template-injection" in done.stdout + done.stderr


def test_workflow_runs_on_pull_requests_with_permission_to_comment():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    on = workflow.get("on", workflow.get(True))  # PyYAML reads the key `on` as True
    assert "pull_request" in on
    assert workflow["permissions"]["pull-requests"] == "write"


def test_checkout_has_full_history_and_the_base_branch_is_fetched():
    steps = _steps()
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    fetch = next(s for s in steps if "git fetch" in s.get("run", ""))
    assert "refs/heads/${BASE_REF}" in fetch["run"] and fetch["env"]["BASE_REF"] == "${{ github.base_ref }}"


@pytest.mark.parametrize("command", ["make install", "make repro", "make report", "cml comment update"])
def test_steps_install_reproduce_report_and_post_in_order(command):
    runs = [s.get("run", "") for s in _steps()]
    position = next(i for i, run in enumerate(runs) if command in run)
    later = ["make install", "make repro", "make report", "cml comment update"]
    for earlier in later[: later.index(command)]:
        assert any(earlier in run for run in runs[:position]), f"{earlier} must run before {command}"


def test_cml_is_set_up_and_posts_the_built_report_with_its_images():
    steps = _steps()
    assert any(s.get("uses", "").startswith("iterative/setup-cml@") for s in steps)
    post = next(s for s in steps if "cml comment update" in s.get("run", ""))
    assert "--publish" in post["run"] and "--target=pr" in post["run"]
    assert post["env"]["REPO_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    params = yaml.safe_load((REPO / "params.yaml").read_text())["report"]
    report = Path(post.get("working-directory", ".")) / post["run"].split()[-1]
    assert report.as_posix() == params["out"]


def test_a_fork_gets_the_report_as_an_artifact_and_no_failing_comment():
    steps = _steps()
    post = next(s for s in steps if "cml comment update" in s.get("run", ""))
    assert post["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    keep = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert "if" not in keep and keep["with"]["path"].startswith("reports/report")
    assert steps.index(keep) < steps.index(post)
