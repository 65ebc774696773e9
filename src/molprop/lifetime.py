"""Ending a process together with the one it works for."""

from __future__ import annotations

import os
import select
import threading
import time


def exit_with(owner_pid: int, poll_s: float = 1.0) -> None:
    """End this process (``os._exit``, code 1) once the process ``owner_pid`` has ended,
    however it ended: a pool's worker with the stage that started it (workers whose stage was
    killed would go on with the tasks queued to them, writing their files beside the next
    run's, and then wait forever for tasks that never come), a stage with the ``dvc`` that
    runs it. Watches in a daemon thread, through a pidfd where the platform has one (Linux),
    else polls."""

    def wait_for_exit() -> None:
        try:
            fd = os.pidfd_open(owner_pid) if hasattr(os, "pidfd_open") else None
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # a kernel without pidfds
            fd = None
        if fd is not None:
            watcher = select.poll()  # (select.select cannot take descriptors above 1023)
            watcher.register(fd, select.POLLIN)
            watcher.poll()  # returns once the owner has exited
            os._exit(1)
        while True:
            time.sleep(poll_s)
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # alive, another user's: not ours to signal
                pass

    threading.Thread(target=wait_for_exit, name="owner-watch", daemon=True).start()
