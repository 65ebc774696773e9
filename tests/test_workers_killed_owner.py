"""Worker processes end when the process that started them is killed (``kill -9`` of a stage):
they neither train on beside the next run nor wait forever with their forkserver."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

POOL_OWNER = """
import os, sys, time
from molprop.features.parallel import WorkerPool

if __name__ == "__main__":
    if sys.argv[2] == "poll" and hasattr(os, "pidfd_open"):
        del os.pidfd_open  # forked workers inherit this: they watch by polling, as on macOS
    with WorkerPool(2, time.sleep, start_method=sys.argv[1]) as pool:
        pool.ready.wait()
        tasks = [pool.submit(time.sleep, 600) for _ in range(4)]  # two running, two queued
        print("up", flush=True)
        time.sleep(600)
"""

TRAIN_OWNER = """
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from molprop.features.graph import featurize_graph
from molprop.models.partitions import Partition
from molprop.nn.members import MemberData, MemberRun, ensemble_members, train_members
from molprop.nn.training import TrainConfig

if __name__ == "__main__":
    out = Path(sys.argv[1])
    smiles = ["CCO", "CCCO", "CCCCO", "c1ccccc1O", "CC(=O)O", "CCN", "CCCN", "c1ccccc1N"]
    graphs = [featurize_graph(Chem.MolFromSmiles(s)) for s in smiles]
    features = pd.DataFrame({"desc_a": np.arange(8.0)})
    data = MemberData(features, ["desc_a"], graphs, np.arange(8.0), "regression", 1)
    network = {"hidden_size": 8, "depth": 2, "dropout": 0.0, "ffn_hidden_size": 8, "n_layers": 2,
               "readout": "mean", "batch_norm": False}
    options = TrainConfig(batch_size=2, max_epochs=1_000_000, patience=1_000_000)
    members = ensemble_members([Partition("member_0", np.arange(6), np.arange(6, 8), np.arange(0))], 4, 0)
    run = MemberRun(data, "dmpnn", network, "none", options, "cpu", out / "model", out / "ckpt")
    with train_members(run, members, 2) as trained:  # two workers, two members queued
        list(trained)
"""


def _descendants_after_kill(script: str, args: list[str], ready, tmp_path: Path,
                            how: str = "kill") -> list[psutil.Process]:  # fmt: skip
    """Run ``script`` (its workers up once ``ready(owner)``), end it (``how``: "kill", SIGKILL;
    "ctrl_c", SIGINT to its whole process group, as a terminal's Ctrl-C; "interrupt", SIGINT to
    it alone, as `kill -INT <pid>`) and return its descendants still running 60 s later
    (zombies, already ended, left out)."""
    path = tmp_path / "owner.py"
    path.write_text(textwrap.dedent(script))
    owner = subprocess.Popen([sys.executable, str(path), *args], stdout=subprocess.PIPE, text=True, cwd=tmp_path,
                             start_new_session=True,  # a process group of its own, as a terminal's job
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        ready(owner)
        descendants = psutil.Process(owner.pid).children(recursive=True)
        assert len(descendants) >= 2, "the workers should be running"
    finally:
        if how == "ctrl_c":
            os.killpg(owner.pid, signal.SIGINT)
        else:
            os.kill(owner.pid, signal.SIGINT if how == "interrupt" else signal.SIGKILL)
        try:
            owner.wait(timeout=60)
        except subprocess.TimeoutExpired:  # the owner waits for its workers' tasks
            os.killpg(owner.pid, signal.SIGKILL)
            owner.wait()
            pytest.fail("the interrupted owner did not end: its workers went on with their tasks")
    deadline = time.monotonic() + 60
    while True:
        alive = [p for p in descendants if _running(p)]
        if not alive or time.monotonic() > deadline:
            for process in alive:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    pass
            return alive
        time.sleep(0.2)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # it ended between the two questions
        return False


@pytest.mark.parametrize(("start", "watch", "how"), [("fork", "pidfd", "kill"), ("forkserver", "pidfd", "kill"),
                                                   ("fork", "poll", "kill"), ("forkserver", "pidfd", "ctrl_c")])
def test_pool_workers_end_when_their_owner_is_killed_or_interrupted(tmp_path, start, watch, how):
    def ready(owner):
        assert owner.stdout.readline().strip() == "up"

    assert _descendants_after_kill(POOL_OWNER, [start, watch], ready, tmp_path, how) == []


# "interrupt": the running members trained on to their end (shutdown waited for them)
@pytest.mark.parametrize("how", ["kill", "ctrl_c", "interrupt"])
def test_member_workers_stop_training_when_the_stage_is_killed_or_interrupted(tmp_path, how):
    checkpoints = tmp_path / "ckpt"

    def ready(owner):
        deadline = time.monotonic() + 120
        while len(list(checkpoints.glob("member_*.pt"))) < 2:  # both workers are training
            assert owner.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)

    assert _descendants_after_kill(TRAIN_OWNER, [str(tmp_path)], ready, tmp_path, how) == []
    written = {p.name: p.stat().st_mtime for p in checkpoints.glob("member_*.pt")}
    time.sleep(1.0)
    assert {p.name: p.stat().st_mtime for p in checkpoints.glob("member_*.pt")} == written
    assert sorted(written) == ["member_0.pt", "member_1.pt"]  # the queued members never started


def test_a_worker_keeps_ignoring_sigint_when_its_owner_does():
    """Bug fixed: with the stage started with SIGINT ignored (`dvc repro &` in a script), a
    Ctrl-C to the process group killed only the workers, and train blamed a crash."""
    code = textwrap.dedent("""
        import os, signal
        from molprop.features.parallel import end_with_owner
        end_with_owner(os.getpid())
        print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
    """)
    for ignored, expected in ((True, "True"), (False, "False")):
        def start(ignored=ignored):
            signal.signal(signal.SIGINT, signal.SIG_IGN if ignored else signal.SIG_DFL)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=start,
                              timeout=60)
        assert done.stdout.strip() == expected, done.stderr


SLOW_PRELOAD_OWNER = """
import os, sys, time
from molprop.features.parallel import WorkerPool

if __name__ == "__main__":
    try:
        with WorkerPool(1, time.sleep, preload=["slow_import"]) as pool:
            print("up", flush=True)
            pool.ready.wait()
            time.sleep(600)
    except KeyboardInterrupt:
        print("owner interrupted", flush=True)
        os._exit(130)
"""


def test_ctrl_c_while_the_server_imports_prints_no_traceback(tmp_path):
    """Bug fixed: Ctrl-C in a stage's first seconds, while its forkserver imported torch,
    printed the server's KeyboardInterrupt traceback (~45 lines) beside "interrupted"."""
    (tmp_path / "slow_import.py").write_text("import pathlib, time\npathlib.Path('importing').touch()\ntime.sleep(30)\n")
    (tmp_path / "owner.py").write_text(textwrap.dedent(SLOW_PRELOAD_OWNER))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    owner = subprocess.Popen([sys.executable, "owner.py"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=tmp_path, env=env, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        assert owner.stdout.readline().strip() == "up"
        deadline = time.monotonic() + 60
        while not (tmp_path / "importing").exists():  # the server is inside its preload imports
            assert owner.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        server = psutil.Process(owner.pid).children(recursive=True)
        os.killpg(owner.pid, signal.SIGINT)  # a terminal's Ctrl-C
        out, err = owner.communicate(timeout=60)
    finally:
        if owner.poll() is None:
            os.killpg(owner.pid, signal.SIGKILL)
    assert "owner interrupted" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert psutil.wait_procs(server, timeout=30)[1] == []  # the server ended too, at once
