"""The query log behind the curators' top-query and zero-result reports.

Each search is recorded as its normalised text, its result count, the searcher's role and
later the clicked article — never who searched.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb.frontmatter import SLUG_RE
from kb.models import QueryLog, utcnow
from kb.permissions import policy


def record(s: Session, actor: Any, query: str, results: int, *, weak: bool | None = None) -> int:
    """Log one search; ``weak`` says the best answer was weak (None: not judged)."""
    role = actor.role if policy.signed_in(actor) else "anonymous"
    entry = QueryLog(query=query[:200], results=results, role=role, weak=weak)
    s.add(entry)
    s.commit()
    return entry.id


def click(s: Session, log_id: int, slug: str) -> None:
    """Remember the first result clicked for a logged search (later clicks do not overwrite)."""
    if not SLUG_RE.match(slug or ""):
        return
    entry = s.get(QueryLog, log_id)
    if entry is not None and entry.clicked is None and (utcnow() - entry.at) < timedelta(hours=2):
        entry.clicked = slug
        s.commit()


def report(
    s: Session,
    days: int = 30,
    limit: int = 50,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, list[tuple[str, int, int]]]:
    """Top queries and zero-result queries, (query, count, clicks): of the last ``days`` days,
    or of [start, end) when given (issue 11: a period choice)."""
    since = start or utcnow() - timedelta(days=days)
    base = select(
        QueryLog.query, func.count().label("n"), func.count(QueryLog.clicked).label("clicks")
    ).where(QueryLog.at >= since, QueryLog.query != "")
    if end is not None:
        base = base.where(QueryLog.at < end)
    top = s.execute(
        base.group_by(QueryLog.query).order_by(func.count().desc(), QueryLog.query).limit(limit)
    )
    zero = s.execute(
        base.where(QueryLog.results == 0)
        .group_by(QueryLog.query)
        .order_by(func.count().desc(), QueryLog.query)
        .limit(limit)
    )
    return {"top": [tuple(r) for r in top], "zero": [tuple(r) for r in zero]}


def report_sheets(data: dict[str, list[tuple[str, int, int]]], label: str) -> list[Any]:
    """The search report as sheets for the CSV/XLSX export."""
    return [
        (f"无结果的搜索（{label}）", [["搜索词", "次数"], *([q, n] for q, n, _c in data["zero"])]),
        (f"热门搜索（{label}）", [["搜索词", "次数", "点击"], *(list(r) for r in data["top"])]),
    ]
