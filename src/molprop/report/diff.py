"""``dvc metrics diff`` and ``dvc params diff`` against a base revision, as markdown, and
``dvc status`` of the workspace.

The base is the first of the candidate revisions git can resolve to a commit (``main``, then
``origin/main`` in a CI clone). Without one, or when DVC fails, the report says why instead
of failing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


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


def dvc_diff(kind: str, base: str, cwd: str | Path = ".", dvc: Sequence[str] | None = None) -> Diff:
    """``dvc <kind> diff --md <base>`` (kind: metrics or params) in ``cwd``: the workspace
    against the base revision. ``dvc`` is the command prefix (default: this Python's DVC)."""
    if kind not in ("metrics", "params"):
        raise ValueError(f"kind must be 'metrics' or 'params', not {kind!r}")
    command = [*(dvc or [sys.executable, "-m", "dvc"]), kind, "diff", "--md", base]
    try:
        done = _run(command, Path(cwd))
    except OSError as error:
        return Diff("", f"could not run `{' '.join(command)}`: {error}")
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        return Diff("", f"`dvc {kind} diff` failed: {message[-1] if message else f'exit {done.returncode}'}")
    text = done.stdout.strip()
    return Diff(text if rows_of(text) else "")


def stale_stages(cwd: str | Path = ".", dvc: Sequence[str] | None = None) -> list[str] | None:
    """The stages ``dvc status`` finds out of date (changed params, code or data since the
    last ``dvc repro``), [] when all are up to date, None when DVC could not tell."""
    import json

    command = [*(dvc or [sys.executable, "-m", "dvc"]), "status", "--json"]
    try:
        done = _run(command, Path(cwd))
        status = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, ValueError):
        return None
    return sorted(name.rpartition(":")[2] for name in status) if isinstance(status, dict) else None
