"""``dvc metrics diff`` and ``dvc params diff`` against a base revision, as markdown, and
``dvc status`` of the workspace.

The base is the first of the candidate revisions git can resolve to a commit (``main``, then
``origin/main`` in a CI clone). Without one, or when DVC fails, the report says why instead
of failing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from molprop.report.markdown import cell


@dataclass(frozen=True)
class Diff:
    """The markdown table DVC printed (``""`` when nothing changed), or why there is none."""

    markdown: str
    problem: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.markdown)


def _run(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False)


def resolve_base(candidates: Sequence[str], cwd: str | Path = ".") -> tuple[str, str] | None:
    """(revision name, full commit hash) of the first candidate git resolves, else None."""
    for rev in candidates:
        found = _run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], Path(cwd))
        if found.returncode == 0 and found.stdout.strip():
            return rev, found.stdout.strip()
    return None


def head_commit(cwd: str | Path = ".") -> str | None:
    """The full hash of HEAD, or None outside a git repository / before the first commit."""
    found = _run(["git", "rev-parse", "--verify", "--quiet", "HEAD"], Path(cwd))
    return (found.stdout.strip() or None) if found.returncode == 0 else None


def changed_files(cwd: str | Path = ".") -> list[str]:
    """Tracked files that differ from HEAD (``git status``), e.g. params.yaml after `dvc exp
    apply`; [] outside a git repository."""
    found = _run(["git", "status", "--porcelain", "--untracked-files=no"], Path(cwd))
    return [line[3:] for line in found.stdout.splitlines()] if found.returncode == 0 else []


def rows_of(markdown: str) -> int:
    """Data rows of a markdown table (DVC prints a header-only table when nothing changed)."""
    lines = [line for line in markdown.strip().splitlines() if line.startswith("|")]
    return max(0, len(lines) - 2)


def _shown(value: object) -> str:
    """A metric with 6 significant digits, as evaluate's metrics files hold them (DVC's own table
    rounds to 5 decimals, so a p-value of 8.5e-05 became 8e-05); None (absent at that revision) as -."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def metrics_table(diff: dict, base: str) -> str:
    """``dvc metrics diff --json`` as a markdown table: a row per changed metric, by file and name."""
    rows = [f"| {cell(path)} | {cell(name)} | {cell(_shown(change.get('old')))} | "
            f"{cell(_shown(change.get('new')))} | {cell(_shown(change.get('diff')))} |"
            for path in sorted(diff) for name, change in sorted((diff[path] or {}).items())]
    if not rows:
        return ""
    return "\n".join([f"| Path | Metric | {base} | workspace | Change |", "|---|---|---|---|---|", *rows])


def dvc_diff(kind: str, base: str, cwd: str | Path = ".", dvc: Sequence[str] | None = None) -> Diff:
    """``dvc <kind> diff <base>`` (kind: metrics or params) in ``cwd`` as markdown: the
    workspace against the base revision. ``dvc`` is the command prefix (default: this Python's DVC)."""
    if kind not in ("metrics", "params"):
        raise ValueError(f"kind must be 'metrics' or 'params', not {kind!r}")
    command = [*(dvc or [sys.executable, "-m", "dvc"]), kind, "diff", "--json" if kind == "metrics" else "--md", base]
    try:
        done = _run(command, Path(cwd))
    except OSError as error:
        return Diff("", f"could not run `{' '.join(command)}`: {error}")
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        return Diff("", f"`dvc {kind} diff` failed: {message[-1] if message else f'exit {done.returncode}'}")
    if kind == "metrics":
        try:
            return Diff(metrics_table(json.loads(done.stdout or "{}"), base))
        except (ValueError, AttributeError, TypeError) as error:
            return Diff("", f"`dvc metrics diff --json` printed what is not its JSON: {error}")
    text = done.stdout.strip()
    return Diff(text if rows_of(text) else "")


@dataclass(frozen=True)
class WorkspaceStatus:
    """What ``dvc status`` finds: stages out of date with the workspace's params, code or data
    (``changed``: ``dvc repro``); stages whose outputs are not in the workspace, nothing else
    having changed (``absent``: a fresh clone before ``dvc pull``); and stages whose outputs
    are there but out of step with dvc.lock, nothing else having changed (``stale``:
    another commit's after a ``git checkout`` or ``git pull`` without ``dvc checkout``, or
    edited by hand, or left by an interrupted run), with those outputs: ``modified`` ones and
    ``uncached`` ones (dvc.lock's version not in the local cache: another commit's files, or
    this commit's in an emptied cache)."""

    changed: list[str]
    absent: list[str]
    stale: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    uncached: list[str] = field(default_factory=list)


def _output_states(name: str, entries: list, root: Path) -> dict[str, str]:
    """The stage's outputs out of step with dvc.lock, each as ``absent``, ``modified`` or
    ``uncached`` (there, but dvc.lock's version not in the cache); a tracked file (``.dvc``)
    that was edited is a change of data, not out of step."""
    states: dict[str, str] = {}
    for entry in entries:
        for path, state in ((entry.get("changed outs") or {}) if isinstance(entry, dict) else {}).items():
            if state == "deleted" or (state == "not in cache" and not (root / path).exists()):
                states[path] = "absent"
            elif state in ("not in cache", "modified") and not name.endswith(".dvc"):
                states[path] = "uncached" if state == "not in cache" else "modified"
    return states


def _only_outputs(entries: list, outputs: dict[str, str]) -> bool:
    """Whether a stage's status entries are its outputs out of step with dvc.lock and
    dependencies that are such outputs of a stage (nothing changed in params, code, data or
    command)."""
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) - {"changed outs", "changed deps"}:
            return False
        if any(path not in outputs for path in entry.get("changed outs") or {}):
            return False
        if any(state not in ("deleted", "modified") or path not in outputs
               for path, state in (entry.get("changed deps") or {}).items()):
            return False
    return True


def workspace_status(cwd: str | Path = ".", dvc: Sequence[str] | None = None) -> WorkspaceStatus | None:
    """``dvc status`` of the workspace's stages (all lists empty when all are up to date),
    None when DVC could not tell."""
    command = [*(dvc or [sys.executable, "-m", "dvc"]), "status", "--json"]
    try:
        done = _run(command, Path(cwd))
        status = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, ValueError):
        return None
    if not isinstance(status, dict):
        return None
    entries = {name.rpartition(":")[2]: e if isinstance(e, list) else [e] for name, e in status.items()}
    states = {name: _output_states(name, e, Path(cwd)) for name, e in entries.items()}
    outputs = {path: state for stage in states.values() for path, state in stage.items()}
    # a stage whose only news is an upstream output missing or stale is none of them: it is as it was
    unchanged = {name for name, e in entries.items() if _only_outputs(e, outputs)}
    stale = {name for name in unchanged if set(states[name].values()) - {"absent"}}

    def paths(kind: str) -> list[str]:
        return sorted(path for name in stale for path, state in states[name].items() if state == kind)

    return WorkspaceStatus(sorted(set(entries) - unchanged), sorted(name for name in unchanged - stale if states[name]),
                           sorted(stale), paths("modified"), paths("uncached"))
