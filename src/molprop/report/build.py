"""The pull-request report (markdown + PNG figures) from the pipeline's outputs in a
repository: metrics with their intervals, DVC's metrics and params diffs against the base
branch, the plots of dvc.yaml, and the interpretation highlights."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from molprop.errors import UserInputError
from molprop.evaluation.verdict import comparison_sentence
from molprop.report.diff import (Diff, changed_files, dvc_diff, head_commit, resolve_base, rows_of,
                                 workspace_status)
from molprop.report.figures import POINTS, plot_specs, render, render_class_confusion
from molprop.report.markdown import cell, has_intervals, image, metrics_tables, table
from molprop.report.metrics import UnreadableMetrics, collect, load_metrics, read_metrics_file


FOLD_ROWS = 25  # longer diff tables are folded (<details>) so the comment stays readable


@dataclass(frozen=True)
class ReportConfig:
    """What goes into the report (from the ``report`` params section)."""

    base: Sequence[str] = ("main", "origin/main")  # revisions to diff against, first found wins
    primary_metrics: str = "metrics/evaluate.json"
    identity_line: Sequence[str] = ()  # ids of (line or scatter) plots drawn with a y = x line
    interpret_dir: str = "reports/interpret"
    interpret_figures: Sequence[tuple[str, str]] = (
        ("feature_importance.png", "Baseline feature importance (SHAP or permutation; see the chart title)"),
        ("maps_model.png", "Model: atom contributions, worst and typical test molecules"),
        ("maps_baseline.png", "Baseline: atom contributions, worst and typical test molecules"),
    )
    n_worst: int = 5
    # evaluate's predicted-vs-measured table: class indices in a classification run, drawn as
    # confusion matrices by any plot of it with a points template
    class_plot: str = "plots/pred_vs_measured.csv"


def metrics_files(dvc_yaml: dict) -> list[str]:
    """Every metrics file the stages of a parsed dvc.yaml declare, in stage order."""
    files = []
    for stage in (dvc_yaml.get("stages") or {}).values():
        for entry in stage.get("metrics") or []:
            files.append(entry if isinstance(entry, str) else next(iter(entry)))
    return files


def _diff_section(kind: str, base: tuple[str, str] | None, root: Path, wanted: str) -> str:
    heading = f"### {kind.capitalize()} (`dvc {kind} diff`)"
    if base is None:
        return f"{heading}\n\nNo base revision to compare with (no `{wanted}` in this clone)."
    result: Diff = dvc_diff(kind, base[0], root)
    if result.problem:
        return f"{heading}\n\nNot available: {cell(result.problem)}"
    if not result.changed:
        return f"{heading}\n\nNo {kind} changed against `{base[0]}`."
    rows = rows_of(result.markdown)
    if rows <= FOLD_ROWS:
        return f"{heading}\n\n{result.markdown}"
    return (f"{heading}\n\n<details><summary>{rows} {kind} changed</summary>\n\n{result.markdown}\n\n"
            "</details>")


def _worst_table(path: Path, n: int, class_labels: dict[str, str] | None = None) -> str:
    """The ``n`` worst predictions of an interpret CSV; classes by their labels (metrics/split.json)."""
    classes = ("measured", "predicted", "neighbour_measured")
    # class labels as written (a label "1" must not be read as the number 1, then as class index 1)
    worst = pd.read_csv(path, dtype={c: str for c in classes} if class_labels else None).head(n)
    columns = [c for c in ("smiles", "measured", "predicted", "error", "neighbour_similarity",
                           "neighbour_measured", "n_nontest_same_scaffold") if c in worst]
    labels = set((class_labels or {}).values())
    # a file of an interpret stage before 2026-12-07 holds class indices: mapped to their labels
    indices = {c for c in classes if c in worst and class_labels and not set(worst[c].dropna()) <= labels
               and worst[c].dropna().str.fullmatch(r"\d+(\.0*)?").all()}  # else shown as written (stale)

    def shown(column: str, value: object) -> object:
        if column == "smiles":
            return f"`{value}`"
        if pd.isna(value):  # no nearest neighbour (nothing in common with the non-test molecules)
            return ""
        if column in indices:
            return class_labels.get(str(int(float(value))), value)
        return f"{value:.3g}" if isinstance(value, float) else value

    return table(columns, [[shown(c, v) for c, v in r.items()] for r in worst[columns].to_dict("records")])


LOWER_IS_BETTER = ("rmse", "mae", "brier")
HIGHER_IS_BETTER = ("r2", "spearman", "roc_auc", "pr_auc", "accuracy", "f1", "mcc")


def _reading_notes(primary: dict, names: set[str]) -> list[str]:
    """Which direction is better for the metrics shown, and evaluate's model-vs-baseline verdict."""
    lower = [name for name in LOWER_IS_BETTER if name in names]
    higher = [name for name in HIGHER_IS_BETTER if name in names]
    notes = [" ".join(f"{word} is better for {', '.join(found)}." for word, found in (("Lower", lower),
                                                                                   ("Higher", higher)) if found)]
    comparison = primary.get("model_vs_baseline") if isinstance(primary, dict) else None
    if isinstance(comparison, dict) and comparison.get("mean_error_difference") is not None:
        notes.append(f"**Model vs baseline** (evaluate's paired tests): {comparison_sentence(comparison)}.")
    return [line for note in notes if note for line in (note, "")]


def _class_labels(split: Path) -> dict[str, str] | None:
    """metrics/split.json's class labels (None: regression, or no readable file)."""
    try:
        content = read_metrics_file(split) if split.is_file() else None
    except UnreadableMetrics:
        return None  # the metrics section says so
    return content.get("class_labels") if isinstance(content, dict) else None


def _declared_metrics(dvc_yaml: dict) -> list[str]:
    """The metrics files dvc.yaml's stages declare."""
    return [next(iter(m)) if isinstance(m, dict) else str(m)
            for stage in (dvc_yaml.get("stages") or {}).values() for m in stage.get("metrics", [])]


NULL_LEGEND = ("—: no value (`null` in the file): undefined for this test part, a resample or a member (an AUC of "
               "one class), or not computed (no uncertainty from a single member: see its `reason`); "
               "docs/metrics.md.")


def _paths(paths: list[str], shown: int = 5) -> str:
    """The first ``shown`` paths in backquotes, and how many more there are."""
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(f"`{path}`" for path in paths[:shown]) + more


def build_report(root: str | Path, out: str | Path, config: ReportConfig) -> str:
    """Write the report markdown to ``out`` (figures in ``<out dir>/report_figures``) and
    return it. Paths in the report are relative to the markdown file."""
    root, out = Path(root), Path(out)
    figures = out.parent / "report_figures"
    dvc_yaml = yaml.safe_load((root / "dvc.yaml").read_text())
    plot_ids = [spec.id for spec in plot_specs(dvc_yaml)]
    unknown = [name for name in config.identity_line if name not in plot_ids]
    if unknown:
        raise UserInputError(f"report.identity_line names {unknown}, which dvc.yaml's plots do not have; "
                             f"its plots: {plot_ids}")
    if figures.is_symlink() or figures.is_file():
        figures.unlink()
    shutil.rmtree(figures, ignore_errors=True)  # a figure of an earlier report must not ride along
    figures.mkdir(parents=True)
    head, base = head_commit(root), resolve_base(config.base, root)
    lines = ["# molprop pipeline report", ""]
    compared = (f"compared with `{base[0]}` (`{base[1][:8]}`)" if base
                else f"no base revision found (`{config.base[0]}`)")
    changed = changed_files(root) if head else []
    dirty = f" with uncommitted changes to {_paths(changed)}" if changed else ""
    lines += [f"Workspace at `{head[:8] if head else 'no commit'}`{dirty}, {compared}.", ""]
    status = workspace_status(root)
    if status is None:
        lines += ["`dvc status` could not tell whether the pipeline is up to date with this workspace.", ""]
    if status is not None and status.changed:  # the outputs below predate the params or code beside them
        tracked = [name for name in status.changed if name.endswith(".dvc")]
        first = (" Run `dvc checkout` (or `dvc pull`) first for the outputs of another commit named below, so that "
                 "`dvc repro` reruns only what changed." if status.stale else "")
        data = (f" {', '.join(f'`{name}`' for name in tracked)}: a file tracked with `dvc add` differs from its "
                "record; if a `git checkout` or `git pull` brought the record, `dvc checkout` restores the file "
                "instead (`dvc repro` would record the file as it is)." if tracked else "")
        lock = (" dvc.lock has uncommitted changes (a `dvc repro` stopped midway records the stages it finished): "
                "to return to the last commit's outputs instead, `git checkout -- dvc.lock` and `dvc checkout "
                "--force`." if "dvc.lock" in changed else "")
        lines += [f"**Warning: the pipeline is not up to date** (`dvc status`: {', '.join(status.changed)} "
                  "changed). The metrics, plots and figures below are those of the last `dvc repro`, not of "
                  f"this workspace's params and code: run `dvc repro` first.{first}{data}{lock}", ""]
    if status is not None and status.absent:  # e.g. a fresh clone: metrics in git, data and figures on a remote
        lines += [f"The outputs of {', '.join(status.absent)} are not in this workspace (`dvc status`: not in "
                  "cache or deleted): run `dvc pull` to fetch them from the DVC remote (`git checkout` for a "
                  "metrics file kept in git), or `dvc repro` to make them, for the plots and figures.", ""]
    if status is not None and status.stale:  # after `git pull` without `dvc pull`, an edit, an interrupted run
        lines += [f"The outputs of {', '.join(status.stale)} in this workspace are out of step with dvc.lock, so "
                  "the figures and tables below drawn from them may not be this commit's.", ""]
        if status.modified:
            lines += [f"These differ from what dvc.lock records ({_paths(status.modified)}). After a `git checkout` "
                      "or `git pull`, `dvc checkout` restores this commit's outputs from the local cache, and `dvc "
                      "pull` fetches those it lacks. An output edited by hand or left by an interrupted run is "
                      "replaced only with `--force` (`dvc checkout --force <stage>`; `git checkout -- <file>` for a "
                      "metrics or plot file kept in git); `dvc repro <stage>` makes it anew.", ""]
        if status.uncached:
            lines += [f"dvc.lock's versions of these are not in the local cache ({_paths(status.uncached)}): `dvc "
                      "pull` fetches them (after a `git pull`, the files here are another commit's). Where they are "
                      "this commit's already (a cache that was emptied), `dvc commit` caches them again, and nothing "
                      "needs to run.", ""]

    primary = root / config.primary_metrics
    lines += ["## Test-set metrics", ""]
    if primary.is_file():
        try:
            content = read_metrics_file(primary)
        except UnreadableMetrics as error:
            lines += [f"Not shown: {error}.", ""]
        else:
            found = collect(content)
            lines += [metrics_tables(found), ""]
            if has_intervals(found):
                lines += ["Brackets: the confidence interval given in "
                          f"`{config.primary_metrics}`.", ""]
            if any(m.value is None for m in found):
                lines += [NULL_LEGEND, ""]
            lines += _reading_notes(content, {m.path[-1] for m in found})
    elif (declared := _declared_metrics(dvc_yaml)) and config.primary_metrics not in declared:
        raise UserInputError(f"report.primary_metrics is {config.primary_metrics!r}, which no stage of dvc.yaml "
                             f"writes; its metrics files: {declared}")
    else:
        lines += [f"`{config.primary_metrics}` is missing: restore it (`git checkout`, `dvc pull`) or run "
                  "`dvc repro`.", ""]

    lines += [f"## Changes against `{base[0] if base else config.base[0]}`", ""]
    lines += [_diff_section("metrics", base, root, config.base[0]), "",
              _diff_section("params", base, root, config.base[0]), ""]

    labels = _class_labels(root / "metrics/split.json")
    lines += ["## Plots", ""]
    for spec in plot_specs(dvc_yaml):
        target = figures / f"{Path(spec.id).stem if '/' in spec.id else spec.id}.png"
        try:
            if labels and config.class_plot in spec.y and spec.template in POINTS:  # classes: counts
                render_class_confusion(spec, root, target, [labels[str(k)] for k in range(len(labels))])
            else:
                render(spec, root, target, identity_line=spec.id in config.identity_line)
        except (OSError, ValueError, KeyError) as error:
            lines += [f"*{cell(spec.title)}*: not drawn ({cell(error)}).", ""]
            continue
        lines += [image(target.relative_to(out.parent).as_posix(), spec.title), ""]

    interpret = root / config.interpret_dir
    lines += ["## Interpretation", ""]
    if (interpret / "index.html").is_file():  # a failed interpret may leave the folder, not the page
        for name, title in config.interpret_figures:
            if (interpret / name).is_file():  # copied: the report and its figures folder go alone (CI artifact)
                shutil.copyfile(interpret / name, figures / f"interpret_{name}")
                lines += [image((figures / f"interpret_{name}").relative_to(out.parent).as_posix(), title), ""]
        for worst in sorted(interpret.glob("worst_*.csv")):
            lines += [f"**Worst test predictions: {worst.stem[len('worst_'):]}**", "",
                      _worst_table(worst, config.n_worst, labels), ""]
        lines += [f"Full explanations: `{config.interpret_dir}/index.html` (one offline page).", ""]
    else:
        lines += [f"`{config.interpret_dir}/index.html` is missing: run `dvc pull` (or `dvc repro interpret`).", ""]

    lines += ["<details><summary>All metrics files</summary>", ""]
    nulls = False
    for name in metrics_files(dvc_yaml):
        if (root / name).is_file():
            try:
                found = load_metrics(root / name)
                lines += [f"#### `{name}`", "", metrics_tables(found), ""]
                nulls = nulls or any(m.value is None for m in found)
            except UnreadableMetrics as error:
                lines += [f"Not shown: {error}.", ""]
    lines += [NULL_LEGEND, ""] if nulls else []
    lines += ["</details>", ""]
    text = "\n".join(lines)
    out.write_text(text)
    return text
