"""Build reports/report.md (+ PNGs in reports/report_figures/): the pull-request report.

Not a DVC stage: it compares the workspace with the base branch's git history, and
`dvc metrics diff` cannot run inside `dvc repro`. `make report` runs it after `dvc repro`;
the CML workflow (.github/workflows/cml.yaml) posts the result on pull requests.
"""

from __future__ import annotations

# first: Ctrl-C or SIGTERM during the imports below then gets one line, not a traceback
from common import read_params, run_stage

import argparse

from molprop.errors import UserInputError
from molprop.report.build import ReportConfig, build_report
from molprop.report.diff import resolve_base


def main() -> None:
    cfg = read_params("report")["report"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help=f"branch or commit to compare with (default: report.base, {cfg['base']})")
    parser.add_argument("--out", default=cfg["out"], help="markdown file to write")
    args = parser.parse_args()
    wanted = cfg["base"] if args.base is None else args.base.strip()
    base = (wanted,) if "/" in wanted else (wanted, f"origin/{wanted}")
    # the default base may be missing from a shallow CI clone (the report says so); a base
    # asked for by name must exist
    if args.base is not None and (not wanted or resolve_base(base, ".") is None):
        raise UserInputError(f"--base {args.base!r}: no such branch or commit in this clone (tried "
                             f"{', '.join(base)}); name one that `git rev-parse` finds, or fetch it first")
    config = ReportConfig(base=base, primary_metrics=cfg["primary_metrics"],
                          identity_line=tuple(cfg["identity_line"]), n_worst=cfg["n_worst"])
    text = build_report(".", args.out, config)
    print(f"report: wrote {args.out} ({len(text.splitlines())} lines)")


if __name__ == "__main__":
    run_stage(main)
