"""Named last in every preload list molprop gives a forkserver: the server then skips tearing
down its interpreter when it exits.

A forkserver outlives the stage that started it by its own exit, which with torch imported
spends ~1 s of CPU finalizing modules while the next stage already runs beside it. The server
holds no output of the stage, and the workers it forked end with ``os._exit`` on their own,
so nothing is lost by ending it at once. Imported anywhere else (where an exit code matters)
this module does nothing.
"""

from __future__ import annotations

import atexit
import os
import sys


def _imported_by_forkserver() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "multiprocessing.forkserver" and frame.f_code.co_name == "main":
            return True
        frame = frame.f_back
    return False


ARMED = _imported_by_forkserver()  # whether this process ends with os._exit(0)
if ARMED:
    atexit.register(os._exit, 0)  # registered last, so run first: the other handlers are skipped
