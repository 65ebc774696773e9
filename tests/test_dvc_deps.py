"""dvc.yaml lists, for every stage, all the project code the stage runs: a change to any of it
makes `dvc repro` re-run the stage."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
MODULE_NAME = re.compile(r"^molprop(\.\w+)*$")
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    """The file of module ``name`` under src/ (a package's __init__.py), if there is one."""
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def modules_named(tree: ast.AST) -> set[str]:
    """Project modules a file imports anywhere in ``tree`` (also inside functions), or names
    in a string (forkserver preloads, ``python -m`` commands); ``from a import b`` counts b
    too where it is a module. ``common`` is stages/common.py."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.match(node.value):
            names.add(node.value)
    return {n for n in names if n.split(".")[0] in ("molprop", "common")}


def common_parts(used: set[str]) -> list[ast.AST]:
    """Of stages/common.py, what a stage runs: its top level and the functions it imports."""
    tree = ast.parse((ROOT / "stages" / "common.py").read_text())
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    top = [node for node in tree.body if not isinstance(node, ast.FunctionDef)]
    return top + [f for f in functions if f.name in used]


def code_of(script: Path) -> set[Path]:
    """``script`` and every project file it runs, followed transitively: molprop modules and
    the parts of stages/common.py it imports. What a package's __init__.py imports is not
    followed (it re-exports names; what a stage uses, it imports by its own module path)."""
    seen: set[Path] = set()
    todo = [script]
    common_used: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.name == "__init__.py":
            continue
        names = modules_named(ast.parse(path.read_text()))
        common_used |= {n.split(".", 1)[1] for n in names if n.startswith("common.")}
        todo += [found for name in names if name.startswith("molprop")
                 for found in [module_file(name)] if found is not None]
    if common_used:
        common = ROOT / "stages" / "common.py"
        seen.add(common)
        extra = set()
        for node in common_parts(common_used):
            for name in modules_named(node):
                found = module_file(name)
                if found is not None:
                    extra |= code_of(found)
        seen |= extra
    return seen


def covered(path: Path, deps: list[str]) -> bool:
    relative = path.relative_to(ROOT)
    return any(relative == Path(dep) or Path(dep) in relative.parents for dep in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_file_a_stage_runs_is_one_of_its_deps(stage):
    spec = STAGES[stage]
    script = ROOT / shlex.split(spec["cmd"])[1]
    deps = [d if isinstance(d, str) else next(iter(d)) for d in spec["deps"]]
    missing = sorted(str(p.relative_to(ROOT)) for p in code_of(script)
                     if not covered(p, deps) and p.name != "__init__.py")
    assert missing == [], f"dvc.yaml stage {stage} runs {missing} but does not list them as deps"


def test_the_import_walk_finds_imports_inside_functions_and_preloaded_names():
    found = code_of(ROOT / "stages" / "train.py")
    for name in ("stages/common.py", "src/molprop/nn/workers.py", "src/molprop/server_exit.py",
                 "src/molprop/tracking_helper.py", "src/molprop/nn/members.py"):
        assert ROOT / name in found


def test_the_checkpoint_code_hash_reads_only_train_deps():
    """What the checkpoint key hashes of the code changes only with a change that re-runs
    train, so dvc.lock's checkpoints are those a fresh `dvc repro` writes."""
    from molprop.nn.checkpoint import TRAINING_SOURCES

    deps = [d if isinstance(d, str) else next(iter(d)) for d in STAGES["train"]["deps"]]
    for source in TRAINING_SOURCES:
        assert covered(SRC / "molprop" / source, deps), f"{source} is not a dep of the train stage"


def test_the_data_of_top_level_plots_is_not_also_a_stage_plot():
    """A file listed under a stage's plots: and used by a top-level plot is drawn twice by
    `dvc plots show`: once as defined, once by itself against the row number."""
    top_level = {path for entry in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
                 for config in entry.values() for path in config["y"]}
    stage_plots = {next(iter(out)) if isinstance(out, dict) else out
                   for stage in STAGES.values() for out in stage.get("plots", [])}
    assert top_level and not {p for p in top_level if any(p == s or p.startswith(s + "/") for s in stage_plots)
                              and not p.startswith("dvclive/")}
