"""stages/common.py: how a stage process ends."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STAGES = Path(__file__).resolve().parents[1] / "stages"

SCRIPT = """
import sys
import time

import pytest
sys.path.insert(0, {stages!r})
from common import run_stage

def main():
    with open("out.txt", "w") as handle:
        handle.write("written")
    print("printed", end="")  # no newline: only an explicit flush gets it out
    print("to stderr", file=sys.stderr, end="")
    return {code}

run_stage(main)
"""


def _run(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    script = SCRIPT.format(stages=str(STAGES), code=code)
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)


def test_a_stage_ends_with_its_exit_code_and_everything_written(tmp_path):
    done = _run(tmp_path, "3")
    assert done.returncode == 3
    assert done.stdout == "printed" and done.stderr == "to stderr"
    assert (tmp_path / "out.txt").read_text() == "written"
    assert _run(tmp_path, "None").returncode == 0


def test_an_error_in_a_stage_ends_it_with_a_traceback(tmp_path):
    done = _run(tmp_path, "1 / 0")
    assert done.returncode == 1 and "ZeroDivisionError" in done.stderr


def test_ctrl_c_ends_a_stage_with_one_line_and_exit_code_130(tmp_path):
    done = _run(tmp_path, "(_ for _ in ()).throw(KeyboardInterrupt)")
    assert done.returncode == 130
    assert done.stderr.endswith("-c: interrupted\n") and "Traceback" not in done.stderr


POOL_SCRIPT = """
import sys
import time

import pytest
sys.path.insert(0, {stages!r})
from common import run_stage

def main():
    from multiprocessing.process import current_process
    from molprop.features.parallel import WorkerPool

    with WorkerPool(1, abs) as pool:
        assert pool.submit(abs, -2).result(timeout=60) == 2
    print(current_process()._config["tempdir"])

if __name__ == "__main__":
    run_stage(main)
"""


def test_a_stage_with_worker_processes_leaves_no_multiprocessing_directory(tmp_path):
    """The forkserver's socket lives in a /tmp/pymp-* directory that multiprocessing removes
    at a normal exit; a stage ending with os._exit removes it itself."""
    script = tmp_path / "stage.py"
    script.write_text(POOL_SCRIPT.format(stages=str(STAGES)))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    tempdir = Path(done.stdout.strip())
    assert tempdir.name.startswith("pymp-") and not tempdir.exists()


TERMINATED_SCRIPT = """
import sys
import time

sys.path.insert(0, {stages!r})
from common import run_stage

def main():
    from multiprocessing.process import current_process
    from molprop.features.parallel import WorkerPool

    with WorkerPool(2, time.sleep) as pool:
        pool.ready.wait()
        tasks = [pool.submit(time.sleep, 600) for _ in range(3)]
        print(current_process()._config["tempdir"], flush=True)
        time.sleep(600)

if __name__ == "__main__":
    run_stage(main)
"""


def test_sigterm_to_the_process_group_ends_a_stage_as_ctrl_c_does(tmp_path):
    """Bug fixed: `kill` / `timeout` / a CI cancellation signalling the stage's process group
    ended it with no message, "leaked semaphore" warnings, and its multiprocessing folder (the
    forkserver's socket) left in the temporary directory."""
    import psutil

    script = tmp_path / "stage.py"
    script.write_text(TERMINATED_SCRIPT.format(stages=str(STAGES)))
    stage = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        tempdir = Path(stage.stdout.readline().strip())
        descendants = psutil.Process(stage.pid).children(recursive=True)
        assert len(descendants) >= 3  # the server and two workers
        os.killpg(stage.pid, signal.SIGTERM)
        out, err = stage.communicate(timeout=60)
    finally:
        if stage.poll() is None:
            os.killpg(stage.pid, signal.SIGKILL)
    assert stage.returncode == 143 and err.endswith("stage: terminated\n"), err
    assert "Traceback" not in err and "leaked" not in err
    assert tempdir.name.startswith("pymp-") and not tempdir.exists()
    assert psutil.wait_procs(descendants, timeout=30)[1] == []


def test_ctrl_c_or_sigterm_while_a_stage_imports_gets_one_line(tmp_path):
    """Bug fixed: a signal in a stage's first second, while the script imported pandas or
    torch (before run_stage), printed a traceback through their imports."""
    (tmp_path / "stages").mkdir()
    shutil.copy(STAGES / "common.py", tmp_path / "stages" / "common.py")
    (tmp_path / "stages" / "slow.py").write_text(
        "import common\nimport pathlib, time\npathlib.Path('importing').touch()\ntime.sleep(60)  # slow imports\n")
    for sig, word in ((signal.SIGINT, "interrupted"), (signal.SIGTERM, "terminated")):
        (tmp_path / "importing").unlink(missing_ok=True)
        stage = subprocess.Popen([sys.executable, "stages/slow.py"], cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        deadline = time.monotonic() + 60
        while not (tmp_path / "importing").exists():
            assert stage.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        stage.send_signal(sig)
        assert (stage.wait(timeout=60), stage.stderr.read()) == (128 + sig, f"slow: {word}\n")


RUNNER_KILLED = """
import sys
import time

sys.path.insert(0, {stages!r})
from common import run_stage

def main():
    try:
        print("up", flush=True)
        time.sleep(600)
    finally:
        open("cleaned up", "w").close()

if __name__ == "__main__":
    run_stage(main)
"""


def test_a_stage_whose_dvc_is_killed_stops_as_on_sigterm(tmp_path):
    """Bug fixed: `kill <dvc>` or `timeout N dvc repro` ended dvc at once, and the stage's watch
    of its runner ended the stage with os._exit: no message, no clean-up (a train stage left its
    scratch copy of the data and "leaked semaphore" warnings)."""
    (tmp_path / "stage.py").write_text(RUNNER_KILLED.format(stages=str(STAGES)))
    runner = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; "
                               "subprocess.run([sys.executable, 'stage.py'])"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "DVC_STAGE": "stage"})  # fmt: skip
    assert runner.stdout.readline().strip() == "up"
    runner.kill()  # the stage, its child, lives on: it holds the pipes until it ends
    err = runner.stderr.read()  # EOF once the stage has ended
    assert err == "stage: terminated\n" and (tmp_path / "cleaned up").exists()


SEMAPHORE_HELD = """
import multiprocessing
import sys

sys.path.insert(0, {stages!r})
from common import run_stage

HELD = []

def main():
    HELD.append(multiprocessing.get_context("forkserver").Lock())  # as a worker pool's queues hold them
    raise KeyboardInterrupt

if __name__ == "__main__":
    run_stage(main)
"""


def test_a_stage_interrupted_with_a_pool_up_leaks_no_semaphore(tmp_path):
    """Bug fixed: interpret interrupted while its helper pool was up ended (os._exit) without
    unlinking the pool's semaphores, and the resource tracker warned of 5 leaked ones."""
    (tmp_path / "stage.py").write_text(SEMAPHORE_HELD.format(stages=str(STAGES)))
    done = subprocess.run([sys.executable, "stage.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (130, "stage: interrupted\n")


SIGTERM_LOST = """
import os
import signal
import sys
import weakref

sys.path.insert(0, {stages!r})
from common import run_stage

class Held:
    pass

def main():
    held = Held()
    weakref.finalize(held, os.kill, os.getpid(), signal.SIGTERM)  # the signal's handler runs in the callback
    del held
    print("went on", flush=True)

if __name__ == "__main__":
    run_stage(main)
"""


def test_a_sigterm_whose_exception_python_swallowed_still_ends_the_stage_as_terminated(tmp_path):
    """Bug fixed: a SIGTERM handled inside a weakref callback raised there, Python printed
    "Exception ignored" and went on, and the stage, ignoring SIGTERM from then on, ended with 0."""
    (tmp_path / "stage.py").write_text(SIGTERM_LOST.format(stages=str(STAGES)))
    done = subprocess.run([sys.executable, "stage.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 143 and done.stderr.endswith("stage: terminated\n"), done.stderr


def test_ctrl_c_with_the_output_piped_to_a_reader_that_died_keeps_exit_code_130(tmp_path):
    """Bug fixed: `dvc repro 2>&1 | tee log` and Ctrl-C: tee died first, printing "interrupted"
    raised BrokenPipeError, and the stage ended with 1, skipping its clean-up."""
    script = (f"import sys; sys.path.insert(0, {str(STAGES)!r}); from common import run_stage\n"
              "def main():\n    raise KeyboardInterrupt\nrun_stage(main)\n")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, stdout=write_end, stderr=write_end,
                          timeout=120)  # fmt: skip
    os.close(write_end)
    assert done.returncode == 130


def test_a_stage_imports_the_library_of_its_own_checkout(tmp_path):
    """A copy of the repository (a queued experiment's) runs its own src/, not the installed one."""
    (tmp_path / "stages").mkdir()
    shutil.copy(STAGES / "common.py", tmp_path / "stages" / "common.py")
    (tmp_path / "stages" / "probe.py").write_text("import common\nimport molprop\nprint(molprop.__file__)\n")

    def imported() -> Path:
        done = subprocess.run([sys.executable, "stages/probe.py"], cwd=tmp_path, capture_output=True, text=True,
                              check=True)  # fmt: skip
        return Path(done.stdout.strip()).resolve()

    assert imported() == (STAGES.parent / "src" / "molprop" / "__init__.py").resolve()  # no src/: installed
    (tmp_path / "src" / "molprop").mkdir(parents=True)
    (tmp_path / "src" / "molprop" / "__init__.py").write_text("")
    assert imported() == (tmp_path / "src" / "molprop" / "__init__.py").resolve()


def test_a_stage_s_worker_processes_import_the_library_of_its_own_checkout(tmp_path):
    """A forkserver imports its preload modules before it applies the stage's sys.path: the
    workers of a queued experiment's copy imported the installed src/ (found by a probe)."""
    shutil.copytree(STAGES.parent / "src" / "molprop", tmp_path / "src" / "molprop",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "src" / "molprop" / "where.py").write_text(
        "def here():\n    import molprop\n    return molprop.__file__\n")
    (tmp_path / "stages").mkdir()
    shutil.copy(STAGES / "common.py", tmp_path / "stages" / "common.py")
    (tmp_path / "stages" / "probe.py").write_text(
        "import common\n"
        "from molprop.features.parallel import WorkerPool\n"
        "from molprop.where import here\n"
        "if __name__ == '__main__':\n"
        "    with WorkerPool(1, here, ['molprop.where']) as pool:\n"
        "        print(pool.submit(here).result(timeout=120))\n")
    done = subprocess.run([sys.executable, "stages/probe.py"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).resolve() == (tmp_path / "src" / "molprop" / "__init__.py").resolve()


def test_params_are_read_as_dvc_reads_them(tmp_path, monkeypatch):
    """YAML 1.2 as DVC parses params.yaml: a learning rate written 3e-4 is a number (PyYAML's
    YAML 1.1 reads the text '3e-4', and training failed on it), yes is text."""
    from dvc.utils.serialize import parse_yaml

    text = "train:\n  lr: 3e-4\n  weight_decay: 1E-2\ndata:\n  positive_class: yes\n"
    monkeypatch.syspath_prepend(str(STAGES))
    from common import _parsed  # what read_params checks against the schema, a section at a time

    params = _parsed(text)
    assert params == {"train": {"lr": 0.0003, "weight_decay": 0.01}, "data": {"positive_class": "yes"}}
    assert params == parse_yaml(text, "params.yaml")  # what `dvc params diff` and `dvc exp show` show


def test_params_outside_the_schema_stop_the_stage_before_any_work(tmp_path):
    """A misspelt key (also one `dvc exp run -S` adds) is not ignored, and a wrong type does not
    fail deep inside training: the stage ends with one line per problem, naming the key."""
    (tmp_path / "params.yaml").write_text("train:\n  lrr: 0.0003\n  lr: fast\n  batch_size: 0\n")
    script = (f"import sys; sys.path.insert(0, {str(STAGES)!r}); from common import read_params, run_stage\n"
              "def main():\n    read_params('train')\n    open('worked', 'w').close()\nrun_stage(main)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and not (tmp_path / "worked").exists()
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "-c: params.yaml: 4 problem(s):"
    assert lines[1].startswith("  train: missing key(s) 'model', 'features',")
    assert lines[2].startswith("  train: unknown key(s) 'lrr'; the known keys are batch_norm, batch_size")
    assert lines[3] == "  train.batch_size is 0; it must be >= 1"
    assert lines[4] == '  train.lr is "fast"; expected a number'


@pytest.mark.parametrize(("text", "expected"), [
    ("train:\n  lr: 0.001\n  lr: 0.01\n", 'params.yaml line 3: not valid YAML (found duplicate key "lr"'),
    ("train:\n  lr: 0.001\n lr: 0.01\n", "params.yaml line 3 (or the line above it): not valid YAML (expected "
                                         "<block end>"),
    # a quote left open runs on to the next quote, often in a comment lines below
    ('data:\n  task: "regression\n  x: 1  # a "note"\n  y: 2\ntrain:\n  lr: 1\n', "params.yaml line 2 (a quote "
                                                                                "opened there runs on to line"),
    # a quote or bracket left open: the line where it began, not the end of the file
    ('train:\n  model: "dmpnn\n  lr: 0.001\n  seed: 0\n', "params.yaml line 2: not valid YAML (while scanning a "
                                                        "quoted scalar"),
    ("split:\n  method: [scaffold\n  seed: 0\ntrain:\n  lr: 1\n", "params.yaml line 2: not valid YAML (while "
                                                                  "parsing a flow sequence"),
])
def test_params_that_are_no_yaml_stop_the_stage_in_one_line_naming_the_line(tmp_path, text, expected):
    """A duplicated key or a wrong indent printed ruamel's traceback from `make report` and from
    a stage run by hand (dvc repro explains it itself)."""
    (tmp_path / "params.yaml").write_text(text)
    script = (f"import sys; sys.path.insert(0, {str(STAGES)!r}); from common import read_params, run_stage\n"
              "run_stage(lambda: read_params('train'))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"-c: {expected}") and len(done.stderr.strip().splitlines()) == 1


def test_a_missing_input_of_a_stage_run_by_hand_is_one_line_and_other_missing_files_a_bug(tmp_path):
    """A stage run before the ones that make its inputs printed pyarrow's traceback."""
    script = (f"import sys; sys.path.insert(0, {str(STAGES)!r}); from common import run_stage\n"
              "import pandas as pd\nrun_stage(lambda: pd.read_parquet(sys.argv[1]))\n")
    done = subprocess.run([sys.executable, "-c", script, "data/features.parquet"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert (done.returncode, done.stderr) == (1, "-c: data/features.parquet is missing: make it with `dvc repro` "
                                                 "(or fetch it with `dvc pull`)\n")
    done = subprocess.run([sys.executable, "-c", script, "elsewhere.parquet"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 1 and "Traceback" in done.stderr
    # pyarrow's schema reader names the file in its message alone
    schema = script.replace("import pandas as pd\nrun_stage(lambda: pd.read_parquet(sys.argv[1]))",
                            "import pyarrow.parquet as pq\nrun_stage(lambda: pq.read_schema(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", schema, "data/graphs.parquet"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert (done.returncode, done.stderr) == (1, "-c: data/graphs.parquet is missing: make it with `dvc repro` "
                                                 "(or fetch it with `dvc pull`)\n")


def test_a_setting_to_fix_ends_the_stage_in_one_line(tmp_path):
    script = (f"import sys; sys.path.insert(0, {str(STAGES)!r}); from common import run_stage\n"
              "from molprop.errors import UserInputError\n"
              "def main():\n    raise UserInputError('split.fractions sum to 0.9, not 1; change them')\n"
              "run_stage(main)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == "-c: split.fractions sum to 0.9, not 1; change them\n"  # no traceback
    other = script.replace("UserInputError('split", "ValueError('split")
    done = subprocess.run([sys.executable, "-c", other], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" in done.stderr  # anything else: a bug to report


def test_a_missing_params_section_ends_the_stage_in_one_line(tmp_path):
    (tmp_path / "params.yaml").write_text("data:\n  task: regression\n")
    script = (f"import sys; sys.path.insert(0, {str(STAGES)!r}); from common import read_params, run_stage\n"
              "run_stage(lambda: read_params('data', 'train'))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("-c: params.yaml has no section(s) train; restore them") and "Traceback" not in done.stderr


@pytest.mark.parametrize("through_shell", [False, True])
def test_a_stage_run_by_dvc_ends_when_dvc_is_killed(tmp_path, through_shell):
    """dvc runs `$SHELL -c cmd`: bash execs the command, dash (/bin/sh) runs it as a child."""
    (tmp_path / "stage.py").write_text(
        f"import os, sys, time; sys.path.insert(0, {str(STAGES)!r}); from common import run_stage\n"
        "def main():\n    open('started.tmp', 'w').write(str(os.getpid())); os.replace('started.tmp', 'started')\n"
        "    time.sleep(60)\nrun_stage(main)\n")
    command = (["/bin/sh", "-c", f"{sys.executable} stage.py"] if through_shell
               else [sys.executable, "stage.py"])
    # stands in for dvc: starts the stage, then is killed (os._exit) without a word to it
    dvc = (f"import os, subprocess, time\n"
           f"subprocess.Popen({command!r}, env=dict(os.environ, DVC_STAGE='x'),\n"
           "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
           "while not os.path.exists('started'): time.sleep(0.05)\n"
           "os._exit(143)\n")
    subprocess.run([sys.executable, "-c", dvc], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    pid = int((tmp_path / "started").read_text())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return  # the stage has ended
        time.sleep(0.1)
    os.kill(pid, 9)
    raise AssertionError("the stage went on after dvc had been killed")


def test_a_misspelt_section_stops_every_stage_with_the_section_it_is_closest_to(tmp_path):
    """Bug fixed: `trian:` (or `dvc exp run -S +trian.lr=0.1`) was ignored without a word, and
    the stage trained with the old lr."""
    (tmp_path / "params.yaml").write_text("data:\n  task: regression\ntrian:\n  lr: 0.1\nmine:\n  x: 1\n")
    script = (f"import sys; sys.path.insert(0, {str(STAGES)!r}); from common import read_params, run_stage\n"
              "run_stage(lambda: read_params('data'))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[:2] == [  # then data's own missing keys; mine: a section of the user's
        "-c: params.yaml: 2 problem(s):",
        "  trian: not a section molprop reads (did you mean train?); rename it, or delete it"]
    done = subprocess.run([sys.executable, "-c", script.replace("('data')", "('data', 'train')")], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.stderr.splitlines()[1] == "  trian: not a section molprop reads (did you mean train?); rename it, or delete it"
