"""Build reports/report.md (+ PNGs in reports/report_figures/): the pull-request report.

Not a DVC stage: it compares the workspace with the base branch's git history, and
`dvc metrics diff` cannot run inside `dvc repro`. `make report` runs it after `dvc repro`;
the CML workflow (.github/workflows/cml.yaml) posts the result on pull requests.
"""

from __future__ import annotations

import argparse

from common import read_params, run_stage

from molprop.report.build import ReportConfig, build_report


def main() -> None:
    cfg = read_params("report")["report"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=cfg["base"], help="branch or commit to compare with")
    parser.add_argument("--out", default=cfg["out"], help="markdown file to write")
    args = parser.parse_args()
    base = (args.base,) if "/" in args.base else (args.base, f"origin/{args.base}")
    config = ReportConfig(base=base, primary_metrics=cfg["primary_metrics"],
                          identity_line=tuple(cfg["identity_line"]), n_worst=cfg["n_worst"])
    text = build_report(".", args.out, config)
    print(f"report: wrote {args.out} ({len(text.splitlines())} lines)")


if __name__ == "__main__":
    run_stage(main)
