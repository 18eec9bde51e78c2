"""A small in-process sliding-window rate limiter (per app, thread-safe).

Enough for one waitress process on an intranet: a flood of votes from one address or one
browser is answered 429 before anything is written. Several processes would each count on
their own; the limit is then per process, which still stops a flood.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from flask import current_app

from kb.errors import RateLimited


class Limiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float, now: float | None = None) -> bool:
        """Count one hit on ``key``; False when it would exceed ``limit`` hits per ``window`` s."""
        now = time.monotonic() if now is None else now
        with self._lock:
            queue = self._hits.setdefault(key, deque())
            while queue and queue[0] <= now - window:
                queue.popleft()
            if len(queue) >= limit:
                return False
            queue.append(now)
            if len(self._hits) > 50_000:  # forget idle keys so memory stays bounded
                for stale in [k for k, q in self._hits.items() if not q or q[-1] <= now - window]:
                    del self._hits[stale]
            return True


def limiter() -> Limiter:
    ext = current_app.extensions
    if "kb_ratelimit" not in ext:
        ext["kb_ratelimit"] = Limiter()
    return ext["kb_ratelimit"]


def check(keys: list[str], limit: int, window: float = 60.0) -> None:
    """Raise RateLimited (429) if any key is over its limit; every key is counted."""
    allowed = [limiter().hit(key, limit, window) for key in keys]
    if not all(allowed):
        raise RateLimited(
            f"操作过于频繁：每 {int(window)} 秒最多 {limit} 次，请稍后再试。",
            extra={"retry_after": int(window)},
        )
