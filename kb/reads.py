"""A cheap read counter: how often an article's published face is read, per day and per kind of
reader (role and organisation kind), never per person. Evaluation item 14 counts reads by
procurement-unit users from it; the 月报 shows reads too.

The count is written after the response has gone out (``Response.call_on_close``), on its own
connection, so a reader never waits for it and a failed write never fails a page.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Flask, Response, after_this_request, current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from kb.models import ArticleRead
from kb.permissions import policy

log = logging.getLogger(__name__)


def kind_of(actor: Any) -> tuple[str, str]:
    """(role, organisation kind) of a reader; ("anonymous", "") when not signed in."""
    if not policy.signed_in(actor):
        return "anonymous", ""
    return actor.role, actor.organisation.kind


def add(engine: Any, article_id: int, day: date, role: str, org_kind: str, n: int = 1) -> None:
    """Add ``n`` reads to the day's row (update, else insert; a lost insert race retries)."""
    key = (
        (ArticleRead.article_id == article_id)
        & (ArticleRead.day == day)
        & (ArticleRead.role == role)
        & (ArticleRead.org_kind == org_kind)
    )
    for _attempt in range(3):
        with engine.begin() as conn:
            done = conn.execute(
                update(ArticleRead).where(key).values(count=ArticleRead.count + n)
            ).rowcount
            if done:
                return
        try:
            with engine.begin() as conn:
                conn.execute(
                    ArticleRead.__table__.insert().values(
                        article_id=article_id, day=day, role=role, org_kind=org_kind, count=n
                    )
                )
            return
        except IntegrityError:  # another request inserted the row first: update it
            continue


def count_after_response(article_id: int, actor: Any) -> None:
    """Count one read of ``article_id`` once the current response has been sent."""
    from kb.freshness import china_today

    role, org_kind = kind_of(actor)
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    day = china_today()

    def write() -> None:
        try:
            add(app.extensions["kb_engine"], article_id, day, role, org_kind)
        except SQLAlchemyError:  # a busy or read-only database must not break reading
            log.warning("read count for article %s not written", article_id, exc_info=True)

    @after_this_request
    def _attach(response: Response) -> Response:
        response.call_on_close(write)
        return response


def totals(
    s: Session, start: date, end: date, *, owner_id: int | None = None, org_kind: str | None = None
) -> int:
    """Reads from ``start`` to ``end`` inclusive, optionally of one enterprise's articles and by
    one organisation kind of reader."""
    from kb.models import Article

    query = select(func.coalesce(func.sum(ArticleRead.count), 0)).where(
        ArticleRead.day >= start, ArticleRead.day <= end
    )
    if owner_id is not None:
        query = query.join(Article, Article.id == ArticleRead.article_id).where(
            Article.owner_id == owner_id
        )
    if org_kind is not None:
        query = query.where(ArticleRead.org_kind == org_kind)
    return int(s.scalar(query) or 0)
