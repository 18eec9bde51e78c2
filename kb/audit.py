"""The audit trail: who did what to which object, when. Called by operations, never by views."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kb.models import AuditEvent


def record(
    s: Session, actor: Any, action: str, object_type: str = "", object_id: Any = "", **detail: Any
) -> AuditEvent:
    """Add an audit event to the session; it commits with the change it describes."""
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_name=getattr(actor, "username", None) or "匿名",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail,
    )
    s.add(event)
    return event


def recent(
    s: Session, *, action: str | None = None, page: int = 1, per_page: int = 50
) -> list[AuditEvent]:
    from sqlalchemy import select

    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    query = query.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page)
    return list(s.scalars(query))
