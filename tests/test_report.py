"""The pull-request report, built offline in temporary git + DVC repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from molprop.report.build import ReportConfig, build_report, metrics_files
from molprop.report.diff import WorkspaceStatus, dvc_diff, metrics_table, resolve_base, rows_of, workspace_status
from molprop.report.figures import PlotSpec, plot_specs, render

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DVC_YAML = {
    "stages": {"evaluate": {"cmd": "python -c pass", "params": ["train"],
                            "metrics": [{"metrics/evaluate.json": {"cache": False}}]}},
    "plots": [
        {"pred_vs_measured": {"template": "scatter", "x": "measured", "y": {"plots/pv.csv": ["model"]},
                              "title": "Predicted vs measured"}},
        {"loss": {"template": "linear", "x": "step", "y": {"live/train/loss.tsv": "loss",
                                                           "live/val/loss.tsv": "loss"}, "title": "Loss"}},
        {"plots/bins.csv": {"template": "bar_horizontal", "x": "count", "y": "bin", "title": "Bins"}},
        {"odd": {"template": "parallel_coordinates", "y": {"plots/pv.csv": ["model"]}, "title": "Odd one"}},
        {"empty": {"template": "simple", "x": "expected", "y": {"plots/empty.csv": "observed"}, "title": "Empty"}},
    ],
}


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


def _write(root: Path, rmse: float, lr: float) -> None:
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics/evaluate.json").write_text(json.dumps(
        {"task": "regression", "n_test": 10, "model": {"rmse": rmse, "rmse_ci": [rmse - 0.5, rmse + 0.5]}}))
    (root / "params.yaml").write_text(yaml.safe_dump({"train": {"lr": lr}}))


@pytest.fixture
def repo(tmp_path) -> Path:
    """A DVC project on branch main, then a feature branch with a changed lr and rmse."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    (root / "plots").mkdir()
    pd.DataFrame({"measured": [1.0, 2.0, 3.0], "model": [1.1, 2.2, 2.7]}).to_csv(root / "plots/pv.csv", index=False)
    pd.DataFrame({"bin": ["0.0-0.5", "0.5-1.0"], "count": [3, 7]}).to_csv(root / "plots/bins.csv", index=False)
    (root / "plots/empty.csv").write_text("expected,observed\n")
    for part in ("train", "val"):
        (root / "live" / part).mkdir(parents=True)
        (root / "live" / part / "loss.tsv").write_text("step\tloss\n0\t1.0\n1\t0.5\n2\t0.4\n")
    _write(root, rmse=2.0, lr=0.001)
    _git(root, "-c", "init.defaultBranch=main", "init", "-q")
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True, capture_output=True,
                   env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "main")
    _git(root, "checkout", "-qb", "feature")
    _write(root, rmse=1.75, lr=0.0003)
    return root


def test_report_shows_metrics_with_intervals_diffs_and_plots(repo):
    out = repo / "reports/report.md"
    text = build_report(repo, out, ReportConfig(identity_line=("pred_vs_measured",)))
    assert out.read_text() == text
    assert "with uncommitted changes to `metrics/evaluate.json`, `params.yaml`, compared with `main`" in text
    assert "| model | 1.75 [1.25, 2.25] |" in text and "task: regression, n_test: 10" in text
    metrics_diff = text.split("### Metrics")[1].split("###")[0]
    row = next(line for line in metrics_diff.splitlines() if "model.rmse" in line)
    assert [c.strip() for c in row.strip("|").split("|")][2:] == ["2", "1.75", "-0.25"]
    params_diff = text.split("### Params")[1].split("##")[0]
    row = next(line for line in params_diff.splitlines() if "train.lr" in line)
    assert [c.strip() for c in row.strip("|").split("|")][2:] == ["0.001", "0.0003"]
    for name in ("pred_vs_measured", "loss", "bins"):
        assert f"](report_figures/{name}.png)" in text
        assert (repo / f"reports/report_figures/{name}.png").read_bytes().startswith(PNG_MAGIC)
    assert "*Odd one*: not drawn" in text and "*Empty*: not drawn (no data in plots/empty.csv)" in text
    assert "`reports/interpret/index.html` is missing" in text
    assert "#### `metrics/evaluate.json`" in text


def test_report_says_so_when_nothing_changed(repo):
    _git(repo, "checkout", "-q", "--", ".")
    _write(repo, rmse=2.0, lr=0.001)
    text = build_report(repo, repo / "report.md", ReportConfig())
    assert "No metrics changed against `main`." in text and "No params changed against `main`." in text


def test_report_without_a_base_branch_says_so_instead_of_failing(repo):
    _git(repo, "branch", "-q", "-m", "main", "trunk")
    text = build_report(repo, repo / "report.md", ReportConfig(base=("main", "origin/main")))
    assert "no base revision found (`main`)" in text
    assert text.count("No base revision to compare with (no `main` in this clone)") == 2


def test_a_base_asked_for_by_name_must_exist(repo):
    project = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"lr": 0.0003}, "report": project["report"]}))
    script = Path(__file__).parents[1] / "stages" / "report.py"
    for base in ("develop", " "):
        run = subprocess.run([sys.executable, str(script), "--base", base], cwd=repo, capture_output=True, text=True)
        assert run.returncode == 1, run.stderr
        assert "no such branch or commit in this clone" in run.stderr and "Traceback" not in run.stderr
    assert not (repo / project["report"]["out"]).exists()


def test_primary_metrics_no_stage_writes_is_named(repo):
    """A misspelt path was reported as missing, with 'run dvc repro first', which never makes it."""
    with pytest.raises(ValueError, match=r"report.primary_metrics is 'metrics/evaluat.json', which no stage"):
        build_report(repo, repo / "reports/report.md", ReportConfig(primary_metrics="metrics/evaluat.json"))


def test_an_identity_line_for_a_plot_dvc_yaml_lacks_is_named(repo):
    with pytest.raises(ValueError, match=r"report.identity_line names \['pred_vs_measurd'\], which dvc.yaml"):
        build_report(repo, repo / "reports/report.md", ReportConfig(identity_line=("pred_vs_measurd",)))


def test_report_outside_git_still_builds(tmp_path):
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {}}))
    text = build_report(tmp_path, tmp_path / "report.md", ReportConfig())
    assert "Workspace at `no commit`, no base revision found (`main`)." in text
    assert "`metrics/evaluate.json` is missing" in text


def test_report_includes_interpretation_outputs(repo):
    interpret = repo / "reports/interpret"
    interpret.mkdir(parents=True)
    (interpret / "feature_importance.png").write_bytes(PNG_MAGIC)
    pd.DataFrame({"smiles": ["CCO", "CCN"], "measured": [1.0, 2.0], "predicted": [3.0, 2.5],
                  "error": [2.0, 0.5], "neighbour_similarity": [0.2, 0.9]}).to_csv(interpret / "worst_model.csv",
                                                                                  index=False)
    # a failed interpret leaves the folder without the page: not pointed to
    assert "`reports/interpret/index.html` is missing" in build_report(repo, repo / "reports/report.md", ReportConfig())
    (interpret / "index.html").write_text("<html></html>")
    text = build_report(repo, repo / "reports/report.md", ReportConfig(n_worst=1))
    # copied beside the report: the CI artifact (reports/report*) is the report's only copy for a fork
    assert "](report_figures/interpret_feature_importance.png)" in text
    assert (repo / "reports/report_figures/interpret_feature_importance.png").read_bytes() == PNG_MAGIC
    (interpret / "feature_importance.png").unlink()  # an earlier report's copy does not ride along
    text = build_report(repo, repo / "reports/report.md", ReportConfig(n_worst=1))
    assert not (repo / "reports/report_figures/interpret_feature_importance.png").exists()
    assert "| `CCO` | 1 | 3 | 2 | 0.2 |" in text and "`CCN`" not in text
    pd.DataFrame({"smiles": ["[Xe]"], "measured": [1.0], "predicted": [3.0], "error": [2.0],
                  "neighbour_similarity": [0.0], "neighbour_measured": [None]}).to_csv(interpret / "worst_model.csv",
                                                                                       index=False)
    text = build_report(repo, repo / "reports/report.md", ReportConfig(n_worst=1))
    assert "| `[Xe]` | 1 | 3 | 2 | 0 |  |" in text  # no neighbour: no value (not nan)
    # classification: the classes by their labels, as the page shows them (not 0 / 1 / 2)
    (repo / "metrics").mkdir(exist_ok=True)
    (repo / "metrics/split.json").write_text('{"class_labels": {"1": "(B) medium", "3": "(D) x"}}')
    pd.DataFrame({"smiles": ["CCO"], "measured": [1], "predicted": [3], "error": [0.9]}).to_csv(
        interpret / "worst_model.csv", index=False)
    text = build_report(repo, repo / "reports/report.md", ReportConfig(n_worst=1))
    assert "| `CCO` | (B) medium | (D) x | 0.9 |" in text
    pd.DataFrame({"smiles": ["CCO"], "measured": ["(B) medium"], "predicted": ["(D) x"], "error": [0.9]}).to_csv(
        interpret / "worst_model.csv", index=False)  # as the interpret stage writes them now: labels
    assert "| `CCO` | (B) medium | (D) x | 0.9 |" in build_report(repo, repo / "reports/report.md",
                                                                 ReportConfig(n_worst=1))
    # labels that read as numbers are labels all the same (not class indices to map again)
    (repo / "metrics/split.json").write_text('{"class_labels": {"0": "1", "1": "0"}}')  # positive_class "0"
    pd.DataFrame({"smiles": ["CCO"], "measured": ["1"], "predicted": ["0"], "error": [0.9]}).to_csv(
        interpret / "worst_model.csv", index=False)
    assert "| `CCO` | 1 | 0 | 0.9 |" in build_report(repo, repo / "reports/report.md", ReportConfig(n_worst=1))
    # a table older than split.json (the classes renamed since): shown as written, not a traceback
    pd.DataFrame({"smiles": ["CCO"], "measured": ["old name"], "predicted": ["1"], "error": [0.9]}).to_csv(
        interpret / "worst_model.csv", index=False)
    assert "| `CCO` | old name | 1 | 0.9 |" in build_report(repo, repo / "reports/report.md", ReportConfig(n_worst=1))


def test_base_resolution_takes_the_first_revision_git_knows(repo):
    assert resolve_base(["nosuch", "main"], repo)[0] == "main"
    assert resolve_base(["nosuch"], repo) is None


def test_a_failing_dvc_is_reported_not_raised(repo):
    fake = [sys.executable, "-c", "import sys; sys.exit('ERROR: unknown Git revision')"]
    result = dvc_diff("metrics", "main", repo, dvc=fake)
    assert not result.changed and "unknown Git revision" in result.problem
    with pytest.raises(ValueError):
        dvc_diff("plots", "main", repo)


def test_rows_of_a_header_only_table_is_zero():
    assert rows_of("| Path | Metric |\n|---|---|\n") == 0
    assert rows_of("| Path | Metric |\n|---|---|\n| a | b |\n") == 1


def test_metrics_files_come_from_every_stage():
    parsed = {"stages": {"a": {"metrics": ["m/a.json"]}, "b": {"metrics": [{"m/b.json": {"cache": False}}]},
                         "c": {}}}
    assert metrics_files(parsed) == ["m/a.json", "m/b.json"]


def test_plot_specs_read_every_dvc_spelling():
    specs = {s.id: s for s in plot_specs(DVC_YAML | {"plots": DVC_YAML["plots"] + ["plots/raw.csv"]})}
    assert specs["loss"].y == {"live/train/loss.tsv": ["loss"], "live/val/loss.tsv": ["loss"]}
    assert specs["loss"].x == {"live/train/loss.tsv": "step", "live/val/loss.tsv": "step"}
    assert specs["plots/bins.csv"].y == {"plots/bins.csv": ["bin"]}
    assert specs["plots/raw.csv"].template == "linear" and specs["plots/raw.csv"].y == {"plots/raw.csv": []}


def test_rendering_repeats_byte_for_byte_and_draws_confusion_matrices(tmp_path):
    pd.DataFrame({"actual": [0, 1, 1, 0], "predicted": [0, 1, 0, 0]}).to_csv(tmp_path / "c.csv", index=False)
    spec = PlotSpec("c", "confusion", {"c.csv": "actual"}, {"c.csv": ["predicted"]}, "Confusion")
    render(spec, tmp_path, tmp_path / "one.png")
    render(spec, tmp_path, tmp_path / "two.png")
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()
    assert (tmp_path / "one.png").read_bytes().startswith(PNG_MAGIC)


def test_a_classification_s_predicted_vs_measured_is_counted_per_class_pair(tmp_path, monkeypatch):
    """Class indices in a scatter put every molecule on a few points: one matrix per model."""
    import matplotlib.axes

    from molprop.report.figures import render_class_confusion

    pd.DataFrame({"measured": [0, 1, 2, 2, 0], "baseline": [0, 1, 2, 1, 0], "model": [0, 2, 2, 2, 1]}).to_csv(
        tmp_path / "p.csv", index=False)
    spec = PlotSpec("p", "scatter", {"p.csv": "measured"}, {"p.csv": ["baseline", "model"]}, "Predicted vs measured")
    drawn = []
    real = matplotlib.axes.Axes.imshow
    monkeypatch.setattr(matplotlib.axes.Axes, "imshow", lambda ax, values, **kw: drawn.append(values) or real(ax, values, **kw))
    render_class_confusion(spec, tmp_path, tmp_path / "p.png", ["high", "low", "mid"])
    assert (tmp_path / "p.png").read_bytes().startswith(PNG_MAGIC)
    assert [m.tolist() for m in drawn] == [[[2, 0, 0], [0, 1, 0], [0, 1, 1]], [[1, 1, 0], [0, 0, 1], [0, 0, 2]]]
    from molprop.report.figures import _short_names

    assert _short_names(["low", "non-binding compound (negative)", "non-binding compound (positive)"], 16) == [
        "low", "non-bin\u2026egative)", "non-bin\u2026ositive)"]  # cut in the middle: the ends differ
    assert _short_names(["alpha one end", "alpha two end", "$x^$"], 8) == [
        "0: alp\u2026 end", "1: alp\u2026 end", r"\$x^\$"]  # numbered when the cuts meet; no mathtext
    with pytest.raises(ValueError, match="class indices other than 0-1 of metrics/split.json's class_labels"):
        render_class_confusion(spec, tmp_path, tmp_path / "p.png", ["high", "low"])  # a stale plot file


def test_the_class_plot_is_chosen_by_its_file_not_by_the_identity_line(repo, monkeypatch):
    """(bug fixed: with report.identity_line not naming pred_vs_measured, a classification
    run's plot was a scatter of class indices again)."""
    from molprop.report import build

    drawn = []
    monkeypatch.setattr(build, "render_class_confusion", lambda spec, root, out, classes: drawn.append((spec.id, classes)))
    (repo / "metrics/split.json").write_text('{"class_labels": {"0": "low", "1": "high"}}')
    for identity_line in ((), ("pred_vs_measured",)):
        build_report(repo, repo / "reports/report.md", ReportConfig(identity_line=identity_line, class_plot="plots/pv.csv"))
    assert drawn == [("pred_vs_measured", ["low", "high"])] * 2  # not the other plot of plots/pv.csv ("odd")


def test_a_plot_with_a_file_missing_draws_the_others_and_says_so(tmp_path, monkeypatch):
    import matplotlib.axes

    pd.DataFrame({"step": [0, 1], "loss": [1.0, 0.5]}).to_csv(tmp_path / "train.tsv", sep="\t", index=False)
    spec = PlotSpec("loss", "linear", {"train.tsv": "step", "val.tsv": "step"},
                    {"train.tsv": ["loss"], "val.tsv": ["loss"]}, "Loss")  # no validation part: no val.tsv
    titles = []
    real = matplotlib.axes.Axes.set_title
    monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                        lambda ax, text, **kw: titles.append(text) or real(ax, text, **kw))
    render(spec, tmp_path, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes().startswith(PNG_MAGIC)
    assert titles == ["Loss (not found: val.tsv)"]
    with pytest.raises(ValueError, match="not found: val.tsv"):  # not "no data": it may be on a DVC remote
        render(PlotSpec("v", "linear", {"val.tsv": "step"}, {"val.tsv": ["loss"]}, "V"), tmp_path, tmp_path / "v.png")


def test_long_diffs_are_folded(repo):
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"lr": 0.0003}, "extra": {f"k{i}": i for i in range(30)}}))
    text = build_report(repo, repo / "report.md", ReportConfig())
    assert "<details><summary>31 params changed</summary>" in text
    assert "<details><summary>" not in text.split("### Params")[0]  # one metric changed: shown as is


def test_report_warns_when_the_pipeline_is_not_up_to_date(repo, tmp_path):
    """Bug fixed: after a params edit without `dvc repro` the report showed the old run's
    metrics under a params diff, as if the change had made no difference."""
    text = build_report(repo, repo / "reports/report.md", ReportConfig())
    assert "**Warning: the pipeline is not up to date** (`dvc status`: evaluate changed)" in text
    project = tmp_path / "fresh"
    project.mkdir()
    _git(project, "init", "-q")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=project, check=True, env=env)
    (project / "params.yaml").write_text("train:\n  lr: 0.1\n")
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"fit": {
        "cmd": "python -c \"open('out.txt', 'w').write('1')\"", "params": ["train"], "outs": ["out.txt"]}}}))
    assert workspace_status(project) == WorkspaceStatus(["fit"], [])  # never run
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=project, check=True, env=env)
    assert workspace_status(project) == WorkspaceStatus([], [])
    (project / "params.yaml").write_text("train:\n  lr: 0.2\n")
    assert workspace_status(project) == WorkspaceStatus(["fit"], [])
    assert workspace_status(tmp_path) is None  # not a DVC project
    plain = tmp_path / "plain"  # a dvc.yaml outside a DVC project: DVC cannot tell
    (plain / "reports").mkdir(parents=True)
    (plain / "dvc.yaml").write_text((project / "dvc.yaml").read_text())
    (plain / "reports/report_figures").write_text("a file where the folder goes")
    text = build_report(plain, plain / "reports/report.md", ReportConfig())
    assert "`dvc status` could not tell" in text and (plain / "reports/report_figures").is_dir()


def test_the_base_is_the_first_candidate_that_resolves(tmp_path):
    import subprocess

    from molprop.report.diff import resolve_base

    def git(*args):
        subprocess.run(["git", "-c", "user.email=a@b", "-c", "user.name=p", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (tmp_path / "f").write_text("1")
    git("add", "f")
    git("commit", "-q", "-m", "one")
    git("branch", "other")
    assert resolve_base(["nope", "main", "other"], tmp_path)[0] == "main"


def test_a_clone_without_pulled_outputs_is_told_to_pull_not_to_rerun(tmp_path):
    """Bug fixed: in a fresh clone (metrics in git, data and models on the DVC remote) the
    report called every stage changed and said to run `dvc repro`."""
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "-c", "init.defaultBranch=main", "init", "-q")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=project, check=True, env=env)
    (project / "params.yaml").write_text("train:\n  lr: 0.1\n")
    make = "python -c \"open('{}', 'w').write(open('{}').read() if '{}' else '1')\""
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "fit": {"cmd": make.format("out.txt", "", ""), "params": ["train"], "outs": ["out.txt"]},
        "score": {"cmd": make.format("score.txt", "out.txt", "out.txt"), "deps": ["out.txt"],
                  "outs": ["score.txt"]}}}))
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=project, check=True, env=env)
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "run")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(project), str(clone))
    assert workspace_status(clone) == WorkspaceStatus([], ["fit", "score"])
    text = build_report(clone, clone / "reports/report.md", ReportConfig())
    assert "are not in this workspace" in text and "run `dvc pull`" in text and "not up to date" not in text
    (clone / "params.yaml").write_text("train:\n  lr: 0.2\n")  # and a change besides: both are said
    assert workspace_status(clone) == WorkspaceStatus(["fit"], ["score"])
    text = build_report(clone, clone / "reports/report.md", ReportConfig())
    assert "**Warning: the pipeline is not up to date** (`dvc status`: fit changed)" in text
    assert "The outputs of score are not in this workspace" in text
    _git(clone, "checkout", "-q", "--", "params.yaml")
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=clone, check=True, env=env)
    (clone / "out.txt").unlink()  # one output deleted: only its stage is named, not the one after it
    assert workspace_status(clone) == WorkspaceStatus([], ["fit"])


def test_outputs_of_another_commit_are_told_to_check_out_not_to_rerun(tmp_path):
    """Bug fixed: after `git checkout` or `git pull` without `dvc checkout` / `dvc pull`, the
    report said the pipeline was not up to date and to run `dvc repro` (retraining), and called
    outputs that were there (another commit's) "not in this workspace"."""
    project = tmp_path / "project"
    project.mkdir()
    _git(project, "-c", "init.defaultBranch=main", "init", "-q")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}

    def dvc(where, *args):
        subprocess.run([sys.executable, "-m", "dvc", *args], cwd=where, check=True, env=env, capture_output=True)

    dvc(project, "init", "-q")
    (project / "data.csv").write_text("smiles\nCCO\n")
    dvc(project, "add", "-q", "data.csv")
    (project / "params.yaml").write_text("train:\n  lr: 0.1\n")
    copy = "python -c \"open('{}', 'w').write(open('{}').read() + open('{}').read())\""
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "fit": {"cmd": copy.format("out.txt", "params.yaml", "data.csv"), "params": ["train"],
                "deps": ["data.csv"], "outs": ["out.txt"]},
        "score": {"cmd": copy.format("score.txt", "out.txt", "out.txt"), "deps": ["out.txt"],
                  "outs": ["score.txt"]}}}))
    dvc(project, "repro", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "lr 0.1")
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(project), str(clone))
    (project / "params.yaml").write_text("train:\n  lr: 0.2\n")
    dvc(project, "repro", "-q")
    _git(project, "commit", "-qam", "lr 0.2")
    _git(project, "checkout", "-q", "HEAD~1")  # both commits' outputs in the cache: modified
    assert workspace_status(project) == WorkspaceStatus([], [], ["fit", "score"], ["out.txt", "score.txt"])
    text = build_report(project, project / "reports/report.md", ReportConfig())
    assert "The outputs of fit, score in this workspace are out of step with dvc.lock" in text
    assert "These differ from what dvc.lock records (`out.txt`, `score.txt`)" in text
    assert "`dvc checkout` restores this commit's outputs" in text and "`dvc checkout --force <stage>`" in text
    assert "not up to date" not in text and "not in this workspace" not in text
    (project / "params.yaml").write_text("train:\n  lr: 0.3\n")  # and a params edit: checkout first, then repro
    text = build_report(project, project / "reports/report.md", ReportConfig())
    assert "(`dvc status`: fit changed)" in text and "Run `dvc checkout` (or `dvc pull`) first" in text
    assert "dvc.lock has uncommitted changes" not in text
    with open(project / "dvc.lock", "a") as lock:  # as a `dvc repro` stopped midway leaves it
        lock.write("# edited\n")
    text = build_report(project, project / "reports/report.md", ReportConfig())
    assert "dvc.lock has uncommitted changes (a `dvc repro` stopped midway" in text
    _git(project, "checkout", "-q", "--", "params.yaml", "dvc.lock")
    dvc(project, "checkout", "-q")
    assert workspace_status(project) == WorkspaceStatus([], [])
    (project / "data.csv").write_text("smiles\nCCN\n")  # the user's own data edited: a change, not stale
    assert workspace_status(project) == WorkspaceStatus(["data.csv.dvc", "fit"], [])
    text = build_report(project, project / "reports/report.md", ReportConfig())
    assert "`data.csv.dvc`: a file tracked with `dvc add` differs from its record" in text
    (clone / "data.csv").write_text("smiles\nCCO\n")  # the data as committed, into the clone's cache
    dvc(clone, "add", "-q", "data.csv")
    dvc(clone, "repro", "-q")  # the first commit's outputs, made in the clone's own cache
    _git(project, "checkout", "-q", "main")
    _git(clone, "pull", "-q")  # the second commit, whose outputs the clone's cache lacks: not in cache
    status = workspace_status(clone)
    assert status is not None and status.changed == [] and status.stale == ["fit", "score"], status
    assert status.uncached == ["out.txt", "score.txt"] and status.modified == []
    text = build_report(clone, clone / "reports/report.md", ReportConfig())
    assert "dvc.lock's versions of these are not in the local cache (`out.txt`, `score.txt`): `dvc pull`" in text
    assert "These differ from what dvc.lock records" not in text  # "not in cache" says nothing of the files


def test_the_metrics_diff_keeps_the_digits_of_small_values(repo):
    """Bug fixed: DVC's markdown table rounds to 5 decimals: a Wilcoxon p of 8.47e-05 showed as
    8e-05, a learning rate change of 5.16e-05 -> 2.58e-05 as 5e-05 -> 3e-05."""
    evaluate = json.loads((repo / "metrics/evaluate.json").read_text())
    (repo / "metrics/evaluate.json").write_text(json.dumps({**evaluate, "p_value": 8.46764e-05, "lr": 2.58e-05}))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "feature")
    (repo / "metrics/evaluate.json").write_text(json.dumps({**evaluate, "p_value": 3e-21, "lr": 5.16e-05}))
    metrics_diff = build_report(repo, repo / "report.md", ReportConfig(base=("feature",))).split("### Metrics")[1]
    rows = {cells[1]: cells[2:] for line in metrics_diff.splitlines() if line.startswith("| metrics/")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    assert rows["p_value"] == ["8.46764e-05", "3e-21", "-8.46764e-05"]
    assert rows["lr"] == ["2.58e-05", "5.16e-05", "2.58e-05"]
    assert metrics_table({}, "main") == "" and metrics_table({"m.json": {"x": {"old": 1, "new": None}}}, "main") == (
        "| Path | Metric | main | workspace | Change |\n|---|---|---|---|---|\n| m.json | x | 1 | - | - |")


def test_the_report_says_which_direction_is_better_and_which_model_errs_less(repo):
    """Reviewers asked: nothing said that a lower rmse is better, nor evaluate's verdict."""
    evaluate = json.loads((repo / "metrics/evaluate.json").read_text())
    evaluate["baseline"] = {"rmse": 2.5, "r2": 0.5}
    evaluate["model_vs_baseline"] = {"mean_error_difference": -0.4, "mean_error_difference_p_value": 0.002,
                                     "wilcoxon_p_value": 8.46764e-05, "rank_biserial": -0.5,
                                     "n_model_better": 7, "n_baseline_better": 3}
    (repo / "metrics/evaluate.json").write_text(json.dumps(evaluate))
    text = build_report(repo, repo / "report.md", ReportConfig()).split("## Changes")[0]
    assert "Lower is better for rmse. Higher is better for r2." in text
    assert ("**Model vs baseline** (evaluate's paired tests): the model errs less on 7, the baseline on 3 test "
            "molecules; mean error difference (model - baseline) -0.4 (paired bootstrap p = 0.002), Wilcoxon p = "
            "8.46764e-05: the model errs less on average.") in text
    evaluate["model_vs_baseline"]["mean_error_difference_p_value"] = 0.3
    (repo / "metrics/evaluate.json").write_text(json.dumps(evaluate))
    assert "but not significantly (p >= 0.05)" in build_report(repo, repo / "report.md", ReportConfig())
    evaluate["model_vs_baseline"] = {"difference": {"rmse": {"value": -0.4}}}  # an older or hand-made file
    (repo / "metrics/evaluate.json").write_text(json.dumps(evaluate))
    assert "Model vs baseline" not in build_report(repo, repo / "report.md", ReportConfig())


def test_a_damaged_metrics_file_is_named_not_a_traceback(repo):
    """Bug fixed: a merge conflict left in a metrics JSON (they are kept in git) crashed the
    report with a JSONDecodeError."""
    (repo / "metrics/evaluate.json").write_text('<<<<<<< HEAD\n{"a": 1}\n=======\n{"a": 2}\n>>>>>>> exp\n')
    text = build_report(repo, repo / "report.md", ReportConfig())
    assert "Not shown: `evaluate.json` is not valid JSON (" in text and "a merge conflict left in it)" in text
    for content, why in ((b"", "is not valid JSON (it is empty)"), (b"null", "holds no mapping of metrics names to "
                         "values but NoneType"), ('{"a": "\u00e9"}'.encode("utf-16"), "is not valid JSON (not UTF-8"),
                         (b"\xef\xbb\xbf{}", "is not valid JSON (not UTF-8 text, or a byte-order mark"),
                         (b'{"a": 1,}', "is not valid JSON (Expecting property name")):
        (repo / "metrics/evaluate.json").write_bytes(content)
        assert f"Not shown: `evaluate.json` {why}" in build_report(repo, repo / "report.md", ReportConfig())


def test_a_yaml_primary_metrics_file_gets_its_notes_too(repo):
    (repo / "metrics/custom.yaml").write_text("model: {rmse: 1.5, r2: 0.8}\n")
    text = build_report(repo, repo / "report.md", ReportConfig(primary_metrics="metrics/custom.yaml"))
    assert "| model | 1.5 | 0.8 |" in text and "Lower is better for rmse. Higher is better for r2." in text


def test_a_null_metric_is_explained_under_the_table(tmp_path):
    """The dash of a null (undefined) metric had no legend: an AUC of one class, a member summary
    that a member leaves undefined."""
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {}}))
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/evaluate.json").write_text(json.dumps(
        {"task": "classification", "model": {"accuracy": 1.0, "roc_auc": None}}))
    text = build_report(tmp_path, tmp_path / "report.md", ReportConfig())
    assert "| model | 1 | — |" in text
    legend = "—: no value (`null` in the file): undefined for this test part, a resample or a member"
    assert text.count(legend) == 1
    (tmp_path / "metrics/evaluate.json").write_text(json.dumps({"task": "regression", "model": {"rmse": 1.0}}))
    assert legend not in build_report(tmp_path, tmp_path / "report.md", ReportConfig())
    # a null in another metrics file (uncertainty.json of a one-member baseline): legend under those tables
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"evaluate": {"cmd": "true", "metrics": [
        "metrics/uncertainty.json"]}}}))
    (tmp_path / "metrics/uncertainty.json").write_text(json.dumps({"baseline": {"coverage": None,
                                                                                 "reason": "one_member"}}))
    text = build_report(tmp_path, tmp_path / "report.md", ReportConfig())
    assert legend in text.split("All metrics files")[1]
