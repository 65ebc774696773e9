"""Worker processes: an ordered parallel map with a bounded number of tasks in flight, and
single tasks run beside the caller's own work."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from molprop.errors import UserInputError
from molprop.lifetime import exit_with

T = TypeVar("T")
R = TypeVar("R")
# Preloaded first and last by every forkserver molprop starts: Ctrl-C ends the server silently
# while it imports, and it exits without teardown.
SERVER_START, SERVER_EXIT = "molprop.server_start", "molprop.server_exit"


# A Unix socket's path holds at most 107 bytes on Linux, 103 on macOS; a forkserver's is
# <temporary directory>/pymp-<8 characters>/listener-<8 characters>
_SOCKET_PATH_MAX = 103 if sys.platform == "darwin" else 107
_SOCKET_NAME = len("/pymp-12345678/listener-12345678")


def short_socket_dir() -> None:
    """Before a forkserver pool is made: multiprocessing's folder for the server's socket is
    made now, so that every worker knows it (a worker copies it when created, and the first
    is created before the server starts; one whose stage was killed removes it). Where the
    temporary directory's path is too long for the socket (a long TMPDIR, as on cluster nodes
    and in nested CI folders: "AF_UNIX path too long"), the folder goes under /tmp instead; a
    UserInputError when that cannot be written either."""
    from multiprocessing.process import current_process
    from multiprocessing.util import Finalize, get_temp_dir

    config = current_process()._config
    base = tempfile.gettempdir()
    if config.get("tempdir") or len(os.fsencode(base)) + _SOCKET_NAME <= _SOCKET_PATH_MAX:
        get_temp_dir()
        return
    try:
        short = tempfile.mkdtemp(prefix="pymp-", dir="/tmp")
    except OSError:
        raise UserInputError(f"the temporary directory {base} (TMPDIR) is {len(os.fsencode(base))} bytes long: worker "
                             f"processes talk through a socket whose path must stay within {_SOCKET_PATH_MAX} bytes, "
                             "and /tmp cannot be written instead; set TMPDIR to a shorter directory") from None
    Finalize(None, shutil.rmtree, args=(short,), kwargs={"ignore_errors": True}, exitpriority=-100)
    config["tempdir"] = short


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity where the platform has one (Linux),
    else every core of the machine (macOS has no ``os.sched_getaffinity``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_n_jobs(n_jobs: int) -> int:
    """Number of worker processes: ``-1`` means every core this process may run on."""
    if n_jobs == -1:
        return available_cores()
    if n_jobs < 1:
        raise UserInputError(f"n_jobs must be -1 (all cores) or >= 1, got {n_jobs}")
    return n_jobs


def end_with_owner(owner_pid: int) -> None:
    """A pool's worker initializer: the worker ends with its owner, at once on Ctrl-C (the
    terminal interrupts the whole process group; the executor would report each worker's
    interrupt and let it start the tasks queued to it, a whole ensemble member each in train)
    and when the owner has ended, however it ended (:func:`molprop.lifetime.exit_with`). A
    worker that inherited SIGINT ignored (an owner started as `cmd &` by a script) ignores it
    as its owner does."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda signum, frame: os._exit(128 + signum))
    exit_with(owner_pid)


def _copy_outcome(source: Future, target: Future) -> None:
    if source.cancelled():  # the pool shut down before the task ran (another task failed)
        target.cancel()
        return
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


def _answer() -> None:
    """A task that does nothing: its result means a worker process is up."""


class WorkerPool:
    """``n_jobs`` worker processes, started in a background thread.

    By default workers start with ``forkserver`` (no fork of a process that already runs
    threads), which first imports ``func``'s module and the modules named in ``preload`` once
    (the server of a process is started once, by its first pool, with that pool's modules,
    and ends without tearing its interpreter down: ``molprop.server_exit``);
    that takes a fraction of a second, during which the caller can do useful work of its own
    until ``ready`` is set. As with any such start method, the caller's main script needs an
    ``if __name__ == "__main__":`` guard; each worker imports that script again, so it
    should import heavy modules inside its functions.

    ``start_method="fork"`` forks the workers from the caller at once, in the calling thread,
    before the pool starts a thread of its own: they start in milliseconds with everything
    the caller imported. Only for work that touches no library whose threads the caller may
    have started (torch, pyarrow's thread pool), and only where fork is safe (Linux; not
    macOS).
    """

    def __init__(self, n_jobs: int, func: Callable, preload: Sequence[str] = (),
                 start_method: str = "forkserver") -> None:  # fmt: skip
        context = multiprocessing.get_context(start_method)
        module = getattr(func, "__module__", None)
        modules = [module] if module and module != "__main__" else []
        if start_method == "forkserver":  # workers fork from a server that imported these
            short_socket_dir()
            context.set_forkserver_preload([SERVER_START, *modules, *preload, SERVER_EXIT])
        self.n_jobs = n_jobs
        self.executor = ProcessPoolExecutor(max_workers=n_jobs, mp_context=context, initializer=end_with_owner,
                                            initargs=(os.getpid(),))
        self.ready = threading.Event()
        # a process is started per submitted task, up to n_jobs; with fork, all n_jobs at the first
        answers = [self.executor.submit(_answer) for _ in range(n_jobs)] if start_method == "fork" else None
        self._starter = threading.Thread(target=self._start, args=(answers,), name="worker-start", daemon=True)
        self._starter.start()

    def _start(self, answers: list[Future] | None) -> None:
        try:
            wait(answers if answers is not None else [self.executor.submit(_answer) for _ in range(self.n_jobs)])
        except Exception:  # noqa: BLE001
            # a server that failed as it started (a Ctrl-C then: EOFError, ConnectionRefusedError):
            # the pool's own submit or map raises it, rather than a traceback of this thread
            return
        finally:
            self.ready.set()

    def submit(self, func: Callable[..., R], *args: object) -> Future[R]:
        """``func(*args)`` in a worker (``func`` a module-level function). Returns at once:
        while the workers are still starting, a thread hands the task over once they are up
        (the executor's own ``submit`` would wait for them)."""
        if self.ready.is_set():
            return self.executor.submit(func, *args)
        outer: Future[R] = Future()

        def hand_over() -> None:
            self.ready.wait()
            try:
                inner = self.executor.submit(func, *args)
            except BaseException as error:  # noqa: BLE001 - reported through the future
                outer.set_exception(error)
                return
            inner.add_done_callback(lambda done: _copy_outcome(done, outer))

        threading.Thread(target=hand_over, name="worker-submit", daemon=True).start()
        return outer

    def map(self, func: Callable[[T], R], items: Iterable[T], in_flight_per_worker: int = 2) -> Iterator[R]:
        """``func`` over ``items`` in the workers, in input order, with at most
        ``n_jobs * in_flight_per_worker`` items submitted and not yet yielded (so memory does
        not grow with the number of items). ``func`` must be a module-level function."""
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(self.executor.submit(func, item))
                if len(pending) >= self.n_jobs * in_flight_per_worker:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool as error:
            raise UserInputError(
                "a worker process ended abruptly: killed, out of memory, or (called from a script of "
                "your own) the script lacks an `if __name__ == \"__main__\":` guard, so every worker "
                "imported it and ran it again (see the tracebacks above)") from error
        finally:  # on an error (or an abandoned generator) do not run what is still queued
            for future in pending:
                future.cancel()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._starter.join()
        self.executor.shutdown(wait=True, cancel_futures=True)


def ordered_map(func: Callable[[T], R], items: Iterable[T], n_jobs: int,
                in_flight_per_worker: int = 2) -> Iterator[R]:  # fmt: skip
    """``func`` over ``items`` in input order; with ``n_jobs > 1`` in a ``WorkerPool``
    (see ``WorkerPool.map``) started and shut down here."""
    if n_jobs <= 1:
        yield from map(func, items)
        return
    with WorkerPool(n_jobs, func) as pool:
        yield from pool.map(func, items, in_flight_per_worker)
