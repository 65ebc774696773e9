"""Runtime choice of the torch device, and of the number of CPU threads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from molprop.nn.workers import device_name_problem


def pick_device(preference: str = "auto") -> torch.device:
    """``cuda`` if available, else Apple ``mps``, else ``cpu``; or the explicitly named device.
    ValueError, saying what to use instead, for a device this machine does not have."""
    problem = device_name_problem(preference)
    if problem is None and preference.startswith("cuda") and not torch.cuda.is_available():
        problem = f"torch {torch.__version__} sees no CUDA GPU here; use auto or cpu"
    if problem is None and preference.startswith("cuda:") and int(preference[5:]) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        problem = (f"this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}; use one of them, "
                   "auto or cpu")
    if problem is None and preference == "mps" and not _mps_available():
        problem = "Apple's GPU (mps) is not available here; use auto or cpu"
    if problem is not None:
        raise ValueError(f"device {preference!r}: {problem}")
    if preference != "auto":
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


@contextmanager
def one_cpu_thread() -> Iterator[None]:
    """Torch on one CPU thread inside the block (the previous count restored after it).

    The arithmetic then does not depend on the machine's core count, as in training (one
    thread per member), and the small batches of evaluation and explanation run faster than
    with threads that wait for each other on cores busy with other work.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
