"""Ending a process together with the one it works for."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

# Shells that may run a command as a child instead of exec'ing it (dash does for `sh -c cmd`)
SHELLS = frozenset({"sh", "dash", "bash", "zsh", "ksh", "mksh", "fish"})


def release_semaphores() -> None:
    """Unlink the named semaphores of this process's multiprocessing queues and locks, as a
    normal exit does (multiprocessing's finalizers of priority 0 and up) and ``os._exit`` does
    not: a stage interrupted while a worker pool was up left them to the resource tracker,
    which warned "There appear to be 5 leaked semaphore objects"."""
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util._run_finalizers(0)


def remove_multiprocessing_tempdir() -> None:
    """Remove the folder multiprocessing made for its forkserver's socket (pymp-* in the
    temporary directory), which its own clean-up at exit removes, but not after ``os._exit``."""
    if "multiprocessing.process" not in sys.modules:
        return
    from multiprocessing.process import current_process

    tempdir = current_process()._config.get("tempdir")
    if tempdir:
        shutil.rmtree(tempdir, ignore_errors=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a CI cancellation, a batch scheduler's time limit),
    raised where the process is so that it ends as on Ctrl-C: its ``with`` blocks shut down
    worker pools and tracking runs, and whatever handles Ctrl-C handles it."""


# set by the first SIGTERM: the exception can be lost where Python ignores exceptions (a weakref
# callback, __del__), and the process then still knows it was told to stop
TERMINATED = threading.Event()


def _raise_terminated(signum: int, frame: object) -> None:
    TERMINATED.set()
    raise Terminated


def raise_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread (and set :data:`TERMINATED`);
    whoever catches it ignores further ones while it cleans up."""
    import signal

    signal.signal(signal.SIGTERM, _raise_terminated)


def _end_now() -> None:
    remove_multiprocessing_tempdir()
    os._exit(1)


def exit_with(owner_pid: int, poll_s: float = 1.0, grace_s: float | None = None) -> None:
    """End this process (``os._exit``, code 1, its multiprocessing folder removed) once the
    process ``owner_pid`` has ended, however it ended: a pool's worker with the stage that
    started it (workers whose stage was killed would go on with the tasks queued to them,
    writing their files beside the next run's, and then wait forever for tasks that never
    come), a stage with the ``dvc`` that runs it. With ``grace_s``, first a SIGTERM to this
    process (a stage then stops as on Ctrl-C: :func:`raise_on_sigterm`), and ``os._exit`` only
    if it still runs ``grace_s`` later. Watches in a daemon thread, through a pidfd where the
    platform has one (Linux), else polls."""

    parent = owner_pid == os.getppid()

    def _end() -> None:
        if grace_s is not None:
            import signal

            if not TERMINATED.is_set():  # a SIGTERM already on its way (to the whole group) is enough
                os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(grace_s)
        _end_now()

    def wait_for_exit() -> None:
        try:
            fd = os.pidfd_open(owner_pid) if hasattr(os, "pidfd_open") else None
        except ProcessLookupError:
            _end()
        except OSError:  # a kernel without pidfds
            fd = None
        if fd is not None:
            watcher = select.poll()  # (select.select cannot take descriptors above 1023)
            watcher.register(fd, select.POLLIN)
            watcher.poll()  # returns once the owner has exited
            _end()
        while True:
            time.sleep(poll_s)
            if parent and os.getppid() != owner_pid:  # ended (a zombie still answers kill 0)
                _end()
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                _end()
            except PermissionError:  # alive, another user's: not ours to signal
                pass

    threading.Thread(target=wait_for_exit, name="owner-watch", daemon=True).start()


def _process(pid: int) -> tuple[str, int] | None:
    """The command name and parent pid of process ``pid`` (/proc on Linux, ps elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.index("(") + 1:stat.rindex(")")], int(stat[stat.rindex(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        fields = subprocess.run(["ps", "-o", "ppid=", "-o", "comm=", "-p", str(pid)], capture_output=True,
                                text=True, timeout=10).stdout.split(None, 1)
        return Path(fields[1].strip()).name, int(fields[0])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def exit_with_runner(grace_s: float = 10.0) -> None:
    """:func:`exit_with` the process that started this one, and with that one's parent too
    when it is a shell: ``dvc`` runs a stage as ``$SHELL -c cmd``, and a shell that does not
    exec the command (dash, /bin/sh where SHELL is unset) would outlive a killed dvc with the
    stage under it. The stage gets a SIGTERM first, ``grace_s`` to stop as on Ctrl-C."""
    parent = os.getppid()
    exit_with(parent, grace_s=grace_s)
    found = _process(parent)
    if found is not None and found[0] in SHELLS and found[1] > 1:
        exit_with(found[1], grace_s=grace_s)
