"""What a stage's processes need from, and leave in, the temporary directory and HOME."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = str(REPO / "src")


def _python(code: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": SRC, **env})


@pytest.mark.skipif(sys.platform == "win32", reason="no forkserver")
def test_worker_pools_start_under_a_temporary_directory_too_long_for_a_socket(tmp_path):
    """Bug fixed: with a TMPDIR of 76 bytes or more, train, evaluate and `molprop predict` ended
    with a traceback 'AF_UNIX path too long' (the forkserver's socket is <TMPDIR>/pymp-*/listener-*)."""
    long_tmp = tmp_path / ("x" * max(1, 90 - len(str(tmp_path))))
    long_tmp.mkdir()
    code = """
        import os
        from concurrent.futures import ProcessPoolExecutor
        from molprop.features.parallel import WorkerPool
        from molprop.nn.workers import worker_context

        if __name__ == "__main__":
            from molprop.validation.config import ValidationConfig
            from molprop.validation.curate import standardize_column

            # validate's pool first (the first pool of a process picks the folder for all)
            config = ValidationConfig(n_jobs=2, parallel_min_rows=1, chunk_size=2)
            assert [m.smiles for m in standardize_column(["OCC", "NCC"] * 3, config)] == ["CCO", "CCN"] * 3
            with WorkerPool(1, os.getpid) as pool:
                assert pool.submit(os.getpid).result() != os.getpid()
            with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:  # train's members
                assert pool.submit(os.getpid).result() != os.getpid()
            from multiprocessing.process import current_process
            print(current_process()._config["tempdir"])
    """
    script = tmp_path / "pools.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC, "TMPDIR": str(long_tmp)}, timeout=300)
    assert done.returncode == 0, done.stderr
    used = Path(done.stdout.strip())
    assert used.parent == Path("/tmp") and used.name.startswith("pymp-")
    assert not used.exists()  # removed at exit as multiprocessing removes its own


@pytest.mark.skipif(sys.platform == "win32", reason="no forkserver")
def test_a_stage_ended_with_its_runner_removes_its_multiprocessing_folder(tmp_path):
    """Bug fixed: a stage that ended because its dvc was killed (SIGTERM, SIGKILL) left its
    pymp-* folder in the temporary directory for good."""
    runner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    stage = _python(f"""
        import os, time
        from molprop.features.parallel import WorkerPool
        from molprop.lifetime import exit_with

        if __name__ == "__main__":
            exit_with({runner.pid}, poll_s=0.1)
            with WorkerPool(1, os.getpid) as pool:
                pool.submit(os.getpid).result()
                from multiprocessing.process import current_process
                print(current_process()._config["tempdir"], flush=True)
                time.sleep(600)
    """, TMPDIR=str(tmp_path))
    try:
        folder = Path(stage.stdout.readline().strip())
        assert folder.parent == tmp_path and folder.is_dir()
        runner.kill()
        stage.wait(timeout=60)
        assert not folder.exists()
    finally:
        for process in (runner, stage):
            process.kill()
            process.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="no forkserver")
def test_the_worker_of_a_killed_stage_removes_the_multiprocessing_folder(tmp_path):
    """Bug fixed: a one-worker pool's worker (evaluate's and interpret's helpers) was made before
    the folder, so when its stage was killed (kill -9, the OOM killer) nobody removed it."""
    stage = _python("""
        import os, time
        from molprop.features.parallel import WorkerPool

        if __name__ == "__main__":
            with WorkerPool(1, os.getpid) as pool:
                worker = pool.submit(os.getpid).result()
                from multiprocessing.process import current_process
                print(current_process()._config["tempdir"], worker, flush=True)
                time.sleep(600)
    """, TMPDIR=str(tmp_path))
    folder, worker = stage.stdout.readline().split()
    stage.kill()
    stage.wait()
    deadline = time.monotonic() + 60
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:  # the worker sees its owner gone
        time.sleep(0.1)
    assert not Path(folder).exists()


def test_a_stage_without_a_writable_matplotlib_folder_shares_one_of_its_own(tmp_path, monkeypatch):
    """Bug fixed: with a read-only HOME each interpret and report run left a matplotlib-* folder
    in the temporary directory (matplotlib removes it at an exit that the stages' os._exit skips)
    and built the font cache again."""
    sys.path.insert(0, str(REPO / "stages"))
    try:
        from common import matplotlib_config_dir
    finally:
        sys.path.remove(str(REPO / "stages"))
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    matplotlib_config_dir()
    assert "MPLCONFIGDIR" not in os.environ and (tmp_path / "home/.config/matplotlib").is_dir()
    (tmp_path / "file_home").write_text("")  # a HOME under which nothing can be made
    monkeypatch.setenv("HOME", str(tmp_path / "file_home"))
    matplotlib_config_dir()
    assert os.environ["MPLCONFIGDIR"] == str(tmp_path / "tmp" / f"molprop-matplotlib-{os.getuid()}")
    assert Path(os.environ["MPLCONFIGDIR"]).is_dir()
    # a writable config folder but no writable cache folder (matplotlib needs both): left one per run
    monkeypatch.delenv("MPLCONFIGDIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    matplotlib_config_dir()
    assert os.environ["MPLCONFIGDIR"] == str(tmp_path / "tmp" / f"molprop-matplotlib-{os.getuid()}")
    # an MPLCONFIGDIR that cannot be written is no folder either, with a writable HOME too
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "file_home" / "mpl"))
    matplotlib_config_dir()
    assert os.environ["MPLCONFIGDIR"] == str(tmp_path / "tmp" / f"molprop-matplotlib-{os.getuid()}")



def test_the_matplotlib_folder_is_chosen_before_a_stage_imports_matplotlib(tmp_path):
    """Bug fixed: interpret imports RDKit's drawing code, which imports matplotlib, before
    run_stage chose the folder: matplotlib had made a temporary one of its own by then."""
    (tmp_path / "file_home").write_text("")
    code = f"""
        import sys
        sys.path.insert(0, {str(REPO / "stages")!r})
        import common
        from rdkit.Chem.Draw import SimilarityMaps
        import matplotlib
        print(matplotlib.get_configdir())
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**{k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME")},
                               "HOME": str(tmp_path / "file_home"), "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / f"molprop-matplotlib-{os.getuid()}")


@pytest.mark.skipif(sys.platform == "win32", reason="no forkserver")
def test_a_stage_killed_before_its_pool_has_workers_leaves_no_multiprocessing_folder(tmp_path):
    """Bug fixed: train starts its worker server first and makes the members' workers seconds
    later; a stage killed in between left the server's pymp-* folder, no worker there to remove it."""
    stage = _python("""
        import time
        from multiprocessing import forkserver
        from multiprocessing.process import current_process
        from molprop.nn.workers import worker_context

        if __name__ == "__main__":
            worker_context().set_forkserver_preload(["molprop.server_exit"])  # no torch: quick
            forkserver.ensure_running()
            print(current_process()._config["tempdir"], flush=True)
            time.sleep(600)
    """, TMPDIR=str(tmp_path))
    try:
        folder = Path(stage.stdout.readline().strip())
        assert folder.parent == tmp_path and folder.is_dir()
    finally:
        stage.kill()
        stage.wait()
    deadline = time.monotonic() + 60
    while folder.exists() and time.monotonic() < deadline:  # the server ends with its stage
        time.sleep(0.1)
    assert not folder.exists()


def test_a_pool_whose_server_fails_to_start_raises_in_the_caller_not_in_its_start_thread():
    """Bug fixed: Ctrl-C as predict's pool started printed 'Exception in thread worker-start' with
    a traceback (EOFError, ConnectionRefusedError) beside the stage's own one-line message."""
    import threading

    from molprop.features.parallel import WorkerPool

    class Refusing:
        def submit(self, *args):
            raise ConnectionRefusedError("the server is gone")

    pool = WorkerPool.__new__(WorkerPool)
    pool.executor, pool.n_jobs, pool.ready = Refusing(), 1, threading.Event()
    pool._start(None)  # in its thread, this raised
    assert pool.ready.is_set()
    with pytest.raises(ConnectionRefusedError):
        pool.submit(len, "x")



@pytest.mark.skipif(sys.platform == "win32", reason="no forkserver")
def test_a_server_that_ends_while_its_stage_lives_leaves_the_folder_for_the_next_one(tmp_path):
    """Bug fixed (in the fix above): a server ended by a client that failed mid-request removed
    the folder while its stage went on, and the stage's next pool failed (FileNotFoundError)
    where multiprocessing starts a new server in the same folder."""
    code = """
        import os, socket, time
        from multiprocessing import forkserver
        from molprop.features.parallel import WorkerPool

        if __name__ == "__main__":
            with WorkerPool(1, abs) as pool:
                first = pool.submit(abs, -1).result()
            address = forkserver._forkserver._forkserver_address
            with socket.socket(socket.AF_UNIX) as client:  # connects and says nothing: the server ends
                client.connect(address)
            time.sleep(1)
            with WorkerPool(1, abs) as pool:
                print(first, pool.submit(abs, -2).result())
    """
    script = tmp_path / "two_pools.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": SRC, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "2"]


def test_a_worker_forked_after_its_pool_was_removed_ends_without_a_traceback(capsys):
    """Bug fixed: a stage stopped as its forkserver forked a worker; the worker, unpickling the
    pool's semaphores the stage had just removed, printed a 13-line FileNotFoundError traceback
    beside "train: terminated". The servers' excepthook keeps that one quiet, and only that."""
    from multiprocessing import synchronize

    from molprop.server_exit import _quiet_when_orphaned

    lock = object.__new__(synchronize.Lock)
    with pytest.raises(FileNotFoundError) as removed:
        synchronize.SemLock.__setstate__(lock, (0, 1, 1, "/mp-molprop-test-removed"))
    _quiet_when_orphaned(removed.type, removed.value, removed.tb)
    assert capsys.readouterr().err == ""
    with pytest.raises(FileNotFoundError) as other:
        open("/nonexistent/molprop-test")
    _quiet_when_orphaned(other.type, other.value, other.tb)
    assert "FileNotFoundError" in capsys.readouterr().err
