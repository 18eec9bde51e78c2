"""The index's background worker in a serving process: applies the log, repairs, prunes.

A request that changes an article only commits its IndexTask row and wakes this thread
(``wake``); it never waits for Whoosh's lock. Besides, every ``KB_INDEX_POLL_SECONDS`` the
thread checks the index's health (a few ``stat`` calls, kb.index.health) and reads the log,
which is how changes made by other processes and other nodes arrive. A damaged, outdated or
missing index is rebuilt aside and swapped in by whichever process of the node gets the
rebuild lock first; the others keep answering searches with 503 meanwhile.

Small work (a publish: one article, milliseconds) runs in the thread; a rebuild or a long
backlog (an import) runs in a child process (``kb index drain``), so that jieba's pure-Python
work does not hold this process's GIL against the requests it serves.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0
BULK = 20  # more log rows than this (an import) are applied by a child process

_running: Drainer | None = None


class Drainer:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.every = float(app.config.get("INDEX_POLL_SECONDS", 1.0))
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._next_prune = time.monotonic() + 60.0
        self.counts_every = float(app.config.get("INDEX_COUNTS_SECONDS", 300.0))
        self._next_counts = time.monotonic() + self.counts_every
        self._retry_at = 0.0
        self._warmed: Any = None
        self.thread = threading.Thread(target=self._loop, name="kb-index-drainer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.thread.join(timeout=30)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.every)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                with self.app.app_context():
                    self.tick()
            except Exception:  # logged and retried next tick: the thread must not die
                log.exception("index background work failed")

    def tick(self) -> None:
        from kb.index import health, writer

        if time.monotonic() < self._retry_at:
            return  # a child just failed: do not spawn one a second
        found = writer.problem()
        if found is not None:
            with health.rebuild_lock(writer.root(), wait=False) as free:
                pass
            if free:  # else another process of this node is rebuilding already
                self.in_child("repair")
            return
        if writer.backlog() > BULK:
            with health.write_lock(writer.root(), 0) as free:
                pass
            if free:  # else another process is applying the log right now
                self.in_child("drain")
        else:
            writer.drain()
        if time.monotonic() >= self._next_counts:
            self._next_counts = time.monotonic() + self.counts_every
            writer.sync_counts()
        self.warm()
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY
            gone = writer.prune(int(self.app.config["INDEX_LOG_DAYS"]))
            if gone:
                log.info("pruned %d index log rows", gone)

    def warm(self) -> None:
        """Build a new index generation's caches here, off the request path: the first search
        on a new generation pays for field lengths and document sets (seconds at 10k)."""
        from kb import db
        from kb.errors import KbError
        from kb.index import searcher

        try:
            current = searcher.searcher()
            if current is self._warmed:
                return
            self._warmed = current
            searcher.search("打印机 无法 连接", ["public"], db.session(), sort="relevance")
        except KbError:  # being repaired: nothing to warm yet
            return

    def in_child(self, what: str) -> None:
        """Run ``kb index drain`` in a child process: indexing is pure-Python CPU work, and in
        this process it would hold the GIL against the requests (a vote took 0.8 s at p95
        while the thread applied an import of 1,000 articles)."""
        config = self.app.config
        env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
        for key in ("DATA_DIR", "DATABASE_URL", "INDEX_DIR", "INDEX_LOCK_TIMEOUT"):
            env[f"KB_{key}"] = str(config[key])
        done = subprocess.run(
            [sys.executable, "-m", "kb.cli", "index", "drain"],
            env=env,
            capture_output=True,
            text=True,
            timeout=6 * 3600,
        )
        if done.returncode != 0:
            self._retry_at = time.monotonic() + 30
            log.warning("index %s in a child process failed: %s", what, done.stderr[-2000:])


def start(app: Any) -> Drainer:
    """Start this process's drainer for ``app`` (once per process)."""
    global _running
    if _running is None:
        _running = Drainer(app)
        _running.start()
        app.config["INDEX_DRAIN"] = "background"
    return _running


def stop() -> None:
    """Stop this process's drainer (at shutdown; tests)."""
    global _running
    if _running is not None:
        _running.app.config["INDEX_DRAIN"] = "inline"
        _running.stop()
        _running = None


def wake() -> bool:
    """Wake the drainer of this process; False when there is none (then drain inline)."""
    if _running is None:
        return False
    _running.wake()
    return True
