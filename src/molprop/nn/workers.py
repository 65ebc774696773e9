"""The processes that train ensemble members on the CPU.

They fork from a server process that has imported torch and the training code once
(``forkserver``, where the platform has it; else ``spawn``, where each imports them itself,
~2-3 s). This module does not import torch, so a stage can start the server first thing and
go on with its own imports and data while the server imports torch on another core.
"""

from __future__ import annotations

import importlib.metadata
import multiprocessing
import sys
from multiprocessing import context as mp_context

from molprop.features.parallel import SERVER_EXIT, SERVER_START, short_socket_dir

# the training code members.py imports when a member trains (training does not import
# torch._dynamo, ~1 s: molprop.nn.optimizer)
PRELOAD = [SERVER_START, "torch", "molprop.nn.members", "molprop.nn.store", "molprop.nn.device", SERVER_EXIT]


def worker_context() -> mp_context.BaseContext:
    """The multiprocessing context for member workers (forkserver with :data:`PRELOAD`)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    short_socket_dir()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def start_worker_server() -> None:
    """Start the forkserver now (no-op where there is none), so that its imports overlap the
    caller's; the caller's main script needs an ``if __name__ == "__main__":`` guard."""
    if worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def only_cpu_available() -> bool:
    """True when torch can use nothing but the CPU here, known without importing it (~1 s): a
    CPU-only build (local version ``+cpu``, as PyTorch's CPU wheels have) on a machine other
    than a Mac (whose GPU torch reaches through MPS). False when that is not certain."""
    if sys.platform == "darwin":
        return False
    try:
        return importlib.metadata.version("torch").endswith("+cpu")
    except importlib.metadata.PackageNotFoundError:
        return False


DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")


def device_name_problem(name: str) -> str | None:
    """What rules out the torch device ``name`` here, known without importing torch; None when
    it may be used (a CUDA build may still see no GPU: :func:`molprop.nn.device.pick_device`
    says so)."""
    kind, _, index = str(name).partition(":")
    if kind not in DEVICE_NAMES or (index and not (kind == "cuda" and index.isdigit())):
        return "not a device name: use auto, cpu, cuda (or cuda:<index>) or mps"
    if kind == "cuda" and only_cpu_available():
        return f"torch {importlib.metadata.version('torch')} here is a CPU-only build; use auto or cpu"
    if kind == "mps" and sys.platform != "darwin":
        return "mps (Apple's GPU) exists on macOS only; use auto or cpu"
    return None
