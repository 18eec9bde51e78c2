"""Server-side sign-in sessions (等保2.0 三级 身份鉴别: 登录超时; OWASP ASVS V3).

A session is a row keyed by the SHA-256 of a random key; the browser's session cookie and the
remember cookie both carry only that key (via ``User.get_id``), so ending the row ends both
at once. A session ends on logout, a password change, an administrator's disable, role or
organisation change, after ``KB_SESSION_IDLE_MINUTES`` without a request, and in any case
``KB_SESSION_MAX_HOURS`` after sign-in. A remember-me session lives ``KB_REMEMBER_DAYS``
(at most 14) instead and is not ended by idleness: that is what the visitor asked for on a
device of their own; set ``KB_REMEMBER_DAYS=0`` to offer no remember-me at all.

``now`` is the one clock of sign-in decisions; tests give the app a ``CLOCK`` callable.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kb import audit
from kb.models import User, UserSession, utcnow

# last_seen_at is written at most this often: one write a minute per session, not a request
_TOUCH_EVERY = timedelta(seconds=60)


def now() -> datetime:
    clock = current_app.config.get("CLOCK") if has_app_context() else None
    return clock() if clock else utcnow()


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name, default)) if has_app_context() else default


def idle_limit() -> timedelta:
    return timedelta(minutes=_setting("SESSION_IDLE_MINUTES", 30))


def max_age() -> timedelta:
    return timedelta(hours=_setting("SESSION_MAX_HOURS", 12))


def remember_age() -> timedelta:
    return timedelta(days=_setting("REMEMBER_DAYS", 14))


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def start(s: Session, user: User, *, remember: bool = False, ip: str = "", agent: str = "") -> str:
    """Open a session for ``user``; returns the raw key (also set on ``user.session_key``)."""
    raw = secrets.token_urlsafe(32)
    t = now()
    remember = remember and remember_age() > timedelta(0)
    # sessions long over are kept a month for the record, then dropped
    s.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id, UserSession.expires_at < t - timedelta(days=30)
        )
    )
    row = UserSession(
        user_id=user.id,
        key_hash=_digest(raw),
        remember=remember,
        created_at=t,
        last_seen_at=t,
        expires_at=t + (remember_age() if remember else max_age()),
        ip=ip[:64],
        user_agent=agent[:200],
    )
    s.add(row)
    user.session_key = raw
    return raw


def load(s: Session, raw: str) -> User | None:
    """The user of a live session, or None; a session found expired or idle is ended here."""
    if not raw or len(raw) > 100:
        return None
    row = s.scalar(select(UserSession).where(UserSession.key_hash == _digest(raw)))
    if row is None or row.ended_at is not None or not row.user.active:
        return None
    t = now()
    reason = None
    if t >= row.expires_at:
        reason = "expired"
    elif not row.remember and t - row.last_seen_at >= idle_limit():
        reason = "idle"
    if reason is not None:
        row.ended_at, row.end_reason = t, reason
        audit.record(s, row.user, f"auth.session_{reason}", "user", row.user.username)
        s.commit()
        return None
    if t - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = t
        s.commit()
    row.user.session_key = raw
    return row.user


def end(s: Session, raw: str | None, reason: str) -> None:
    """End one session by its raw key (nothing happens for an unknown or ended key)."""
    if raw:
        s.execute(
            update(UserSession)
            .where(UserSession.key_hash == _digest(raw), UserSession.ended_at.is_(None))
            .values(ended_at=now(), end_reason=reason)
        )


def end_all(s: Session, user: User, reason: str) -> int:
    """End every open session (and so every remember cookie) of ``user``; how many ended."""
    result = s.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now(), end_reason=reason)
    )
    return int(result.rowcount or 0)


def open_count(s: Session, user: User) -> int:
    from sqlalchemy import func

    return int(
        s.scalar(
            select(func.count(UserSession.id)).where(
                UserSession.user_id == user.id,
                UserSession.ended_at.is_(None),
                UserSession.expires_at > now(),
            )
        )
        or 0
    )
