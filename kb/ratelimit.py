"""Rate limits shared by every worker and every node: Flask-Limiter over kb's own database.

Flask-Limiter (with the ``limits`` library's fixed-window strategy) counts; the counters live
in the ``rate_limit_counter`` table through ``DatabaseStorage``, a ``limits`` storage
registered as ``kb+database://``. Why the database and not Redis or memcached: kb already
has one store that all gunicorn workers and all nodes share, on SQLite as on PostgreSQL, and
an office installing kb should not have to run another service to make a limit hold. Each
counted hit is one upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``), atomic on both.
A per-process memory storage would let N workers allow N times the limit.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from flask import Flask, current_app
from flask_limiter import Limiter
from limits.storage import Storage
from sqlalchemy import case, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from kb.errors import RateLimited
from kb.models import RateLimitCounter


class DatabaseStorage(Storage):
    """A ``limits`` storage in kb's database (for the fixed-window strategy)."""

    STORAGE_SCHEME: ClassVar[list[str]] = ["kb+database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.engine: Engine = options["engine"]
        self._last_purge = 0.0

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def _insert(self) -> Any:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(RateLimitCounter)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        table = RateLimitCounter.__table__
        stmt = self._insert().values(key=key, count=amount, expires_at=now + expiry)
        expired = table.c.expires_at <= now
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((expired, amount), else_=table.c.count + amount),
                "expires_at": case((expired, now + expiry), else_=table.c.expires_at),
            },
        ).returning(table.c.count)
        with self.engine.begin() as conn:
            count = conn.execute(stmt).scalar_one()
            if now - self._last_purge > 300:  # keep the table small
                self._last_purge = now
                conn.execute(delete(table).where(table.c.expires_at < now - 60))
        return int(count)

    def get(self, key: str) -> int:
        table = RateLimitCounter.__table__
        with self.engine.connect() as conn:
            row = conn.execute(
                select(table.c.count).where(table.c.key == key, table.c.expires_at > time.time())
            ).first()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        table = RateLimitCounter.__table__
        with self.engine.connect() as conn:
            value = conn.execute(select(table.c.expires_at).where(table.c.key == key)).scalar()
        return float(value) if value else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return conn.execute(delete(RateLimitCounter.__table__)).rowcount

    def clear(self, key: str) -> None:
        table = RateLimitCounter.__table__
        with self.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.key == key))


def init_app(app: Flask) -> None:
    """Bind Flask-Limiter to the app; it limits only where ``check`` is called."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", "kb+database://")
    options = dict(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {})
    if app.config["RATELIMIT_STORAGE_URI"].startswith("kb+database"):
        options["engine"] = app.extensions["kb_engine"]
    app.config["RATELIMIT_STORAGE_OPTIONS"] = options
    limiter = Limiter(key_func=lambda: "-", app=app, default_limits=[])
    app.extensions["kb_limiter"] = limiter


def check(keys: list[str], limit: int, window: float = 60.0) -> None:
    """Raise RateLimited (429) if any key is over its limit; every key is counted."""
    # The fixed-window strategy's own step (incr, compare), with a key that leaves the limit
    # out: ``limits`` keys include the amount, so changing a limit would restart its count.
    storage = current_app.extensions["kb_limiter"].storage
    allowed = [storage.incr(f"kb/{key}/{int(window)}", int(window)) <= limit for key in keys]
    if not all(allowed):
        raise RateLimited(
            f"操作过于频繁：每 {int(window)} 秒最多 {limit} 次，请稍后再试。",
            extra={"retry_after": int(window)},
        )
