"""Cross-process locks on files: held by one process at a time, dropped by the kernel when
the holder dies (a killed command never leaves a stale lock). Used for the search index's
rebuild and write locks and for one schema upgrade at a time on a SQLite database."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float | None) -> Iterator[bool]:
    """Hold an ``fcntl`` lock on ``path``; yields False when it stays busy for ``timeout`` s
    (0: do not wait, None: wait as long as it takes). The kernel drops it if we die."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if timeout is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.05)  # flock has no timeout of its own
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
