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
import select
import shutil
import socket
import sys
from types import FrameType, TracebackType

from molprop.server_start import forkserver_main, restore_sigint


def _socket_folder(main: FrameType) -> str | None:
    """multiprocessing's pymp-* folder that holds the server's listening socket."""
    try:
        with socket.socket(fileno=os.dup(main.f_locals["listener_fd"])) as listener:
            folder = os.path.dirname(listener.getsockname())
    except (KeyError, OSError, TypeError, ValueError):
        return None
    return folder if os.path.basename(folder).startswith("pymp-") else None


def _remove_if_orphaned(folder: str, alive_r: int) -> None:
    """Remove ``folder`` once the stage and its workers have all ended (the server's alive pipe
    at its end), not when the server ends for another reason while its stage goes on (a client
    that failed mid-request: multiprocessing then starts a new server in the same folder)."""
    try:
        ready = select.select([alive_r], [], [], 0)[0]
        if ready and os.read(alive_r, 1) == b"":
            shutil.rmtree(folder, ignore_errors=True)
    except OSError:
        pass


def _quiet_when_orphaned(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """The excepthook of the workers the server forks: a worker still starting when its stage
    stopped finds the semaphores of the stage's pool already removed (FileNotFoundError as it
    unpickles them) and ends without a traceback; the stage says why it stopped."""
    step = trace
    while step is not None:
        code = step.tb_frame.f_code
        if issubclass(kind, FileNotFoundError) and code.co_name == "__setstate__" and \
                code.co_filename.endswith(os.path.join("multiprocessing", "synchronize.py")):
            return
        step = step.tb_next
    sys.__excepthook__(kind, error, trace)


_MAIN = forkserver_main()
ARMED = _MAIN is not None  # whether this process ends with os._exit(0)
if ARMED:
    restore_sigint()  # Ctrl-C ended it quietly while it imported its preload modules (molprop.server_start)
    sys.excepthook = _quiet_when_orphaned  # what a forked worker that fails as it starts reports through
    atexit.register(os._exit, 0)  # run before every handler registered earlier, which are skipped
    # The server ends once its stage has ended, however it ended; a stage killed before its pool's
    # workers were made (train reads its data and opens its MLflow run first) left the folder of
    # the server's socket behind, with no worker to remove it.
    _FOLDER, _ALIVE = _socket_folder(_MAIN), _MAIN.f_locals.get("alive_r")
    if _FOLDER and isinstance(_ALIVE, int):
        atexit.register(_remove_if_orphaned, _FOLDER, _ALIVE)
    del _MAIN
