"""Keeps the Whoosh index in step with the database (placeholder until the search issue lands).

Tasks stay in the outbox table until a real writer drains them, so nothing is lost.
"""

from __future__ import annotations


def ensure_index() -> None:
    """Create the index if missing and drain pending tasks."""


def drain() -> int:
    """Apply pending index tasks; returns how many were applied."""
    return 0


def drain_quietly() -> None:
    drain()
