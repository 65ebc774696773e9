"""Named first in every preload list molprop gives a forkserver: Ctrl-C ends the server
silently while it imports the modules it preloads (:mod:`molprop.server_exit`, named last,
restores the handler it had).

The terminal interrupts the whole process group, the server included, and a server importing
torch when Ctrl-C came printed a KeyboardInterrupt traceback of ~45 lines beside the stage's
one-line "interrupted": the stage reports the interrupt. The workers the server forks later
get the handler it had, so they end on Ctrl-C as before. Imported anywhere else this module
does nothing.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType
from typing import Any


def forkserver_main() -> FrameType | None:
    """The frame of ``multiprocessing.forkserver.main`` importing the caller, if one is."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "multiprocessing.forkserver" and frame.f_code.co_name == "main":
            return frame
        frame = frame.f_back
    return None


def _end_quietly(signum: int, frame: FrameType | None) -> None:
    os._exit(128 + signum)


def _quiet_sigint() -> Any:
    """End on Ctrl-C without a traceback (unless SIGINT is ignored, as in a process started
    with ``&`` by a script); the handler that was set before."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return signal.SIG_IGN
    return signal.signal(signal.SIGINT, _end_quietly)


# the SIGINT handler the server had before this module replaced it; None when not in a server
PREVIOUS_SIGINT: Any = _quiet_sigint() if forkserver_main() is not None else None


def restore_sigint() -> None:
    """Give the server back the SIGINT handler it had before this module was imported, for
    ``forkserver.main`` to hand on to the workers it forks."""
    if PREVIOUS_SIGINT is not None:
        signal.signal(signal.SIGINT, PREVIOUS_SIGINT)
