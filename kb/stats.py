"""Figures of both loops, per enterprise and overall (curators' page and GET /api/v1/stats).

- link rate: closed tickets that cite an article or produced a published one / closed tickets
- articles from tickets: drafts created from tickets (and how many of them are published)
- reuse per article: how many tickets each article helped solve
- feedback: helpful / not helpful votes and the reasons given
- revision requests: open, overdue (working days), closed, declined, median days to close

Only counts, slugs and titles: no contact, customer or user appears here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import feedback
from kb.errors import Forbidden
from kb.models import (
    Article,
    Feedback,
    Organisation,
    RevisionRequest,
    Ticket,
    TicketArticle,
    utcnow,
)
from kb.permissions import policy
from kb.permissions.roles import OrgKind


def _empty() -> dict[str, Any]:
    return {
        "tickets_closed": 0,
        "tickets_citing": 0,
        "tickets_producing": 0,
        "tickets_linked": 0,
        "link_rate": None,
        "articles_from_tickets": 0,
        "articles_from_tickets_published": 0,
        "reuse": [],
        "reuse_mean": None,
        "feedback": {"helpful": 0, "not_helpful": 0, "reasons": {r: 0 for r in feedback.REASONS}},
        "requests": {
            "open": 0,
            "overdue": 0,
            "closed": 0,
            "declined": 0,
            "median_days_to_close": None,
        },
    }


def _finish(
    fig: dict[str, Any], reuse: Counter[int], articles: dict[int, Article], durations: list[float]
) -> None:
    closed = fig["tickets_closed"]
    fig["link_rate"] = round(fig["tickets_linked"] / closed, 4) if closed else None
    ranked = sorted(reuse.items(), key=lambda kv: (-kv[1], articles[kv[0]].slug))
    fig["reuse"] = [
        {"slug": articles[a].slug, "title": articles[a].title, "tickets": n} for a, n in ranked[:20]
    ]
    fig["reuse_mean"] = round(sum(reuse.values()) / len(reuse), 2) if reuse else None
    fig["requests"]["median_days_to_close"] = round(median(durations), 2) if durations else None


def figures(s: Session, user: Any) -> dict[str, Any]:
    """Staff see every enterprise and the overall figures; an editor sees his enterprise only."""
    desk = policy.desk_scope(user)
    if desk is None:
        raise Forbidden("只有数据局审核员和企业编辑可以查看统计。")
    scope: int | None = None if desk == policy.ALL else int(desk)
    orgs = list(
        s.scalars(
            select(Organisation)
            .where(Organisation.kind == OrgKind.ENTERPRISE)
            .order_by(Organisation.code)
        )
    )
    if scope is not None:
        orgs = [o for o in orgs if o.id == scope]
    per: dict[int | None, dict[str, Any]] = {o.id: _empty() for o in orgs}
    overall = _empty()
    reuse: dict[int | None, Counter[int]] = defaultdict(Counter)
    durations: dict[int | None, list[float]] = defaultdict(list)

    def targets(org_id: int | None) -> list[dict[str, Any]]:
        out = [overall] if scope is None else []
        if org_id in per:
            out.append(per[org_id])
        return out

    articles = {a.id: a for a in s.scalars(select(Article))}
    cited: dict[int, set[int]] = defaultdict(set)
    for ticket_id, article_id in s.execute(
        select(TicketArticle.ticket_id, TicketArticle.article_id)
    ):
        cited[ticket_id].add(article_id)
    for t in s.scalars(select(Ticket)):
        produced = t.draft_article_id if t.draft_article_id in articles else None
        published = produced is not None and articles[produced].published_revision_id is not None
        solved_by = set(cited[t.id]) | ({produced} if published else set())
        for fig in targets(t.enterprise_id):
            fig["tickets_closed"] += 1
            fig["tickets_citing"] += bool(cited[t.id])
            fig["tickets_producing"] += published
            fig["tickets_linked"] += bool(solved_by)
            fig["articles_from_tickets"] += produced is not None
            fig["articles_from_tickets_published"] += published
        for article_id in solved_by:
            owner = articles[article_id].owner_id
            if scope is None:
                reuse[None][article_id] += 1
            if owner in per:
                reuse[owner][article_id] += 1
    for helpful, reason, owner in s.execute(
        select(Feedback.helpful, Feedback.reason, Article.owner_id).join(
            Article, Article.id == Feedback.article_id
        )
    ):
        for fig in targets(owner):
            fig["feedback"]["helpful" if helpful else "not_helpful"] += 1
            if reason in fig["feedback"]["reasons"]:
                fig["feedback"]["reasons"][reason] += 1
    now = utcnow()
    for req in s.scalars(select(RevisionRequest)):
        overdue = req.status == "open" and feedback.age_of(req, now).overdue
        for fig in targets(req.owner_id):
            fig["requests"][req.status] += 1
            fig["requests"]["overdue"] += overdue
        if req.status == "closed" and req.closed_at is not None:
            days = (req.closed_at - req.created_at).total_seconds() / 86400
            if scope is None:
                durations[None].append(days)
            durations[req.owner_id].append(days)
    if scope is None:
        _finish(overall, reuse[None], articles, durations[None])
    enterprises = []
    for org in orgs:
        fig = per[org.id]
        _finish(fig, reuse[org.id], articles, durations[org.id])
        enterprises.append({"code": org.code, "name": org.name, **fig})
    limit, _holidays, _workdays = feedback.calendar()
    return {
        "generated_at": now.isoformat(),
        "overdue_after_working_days": limit,
        "overall": overall if scope is None else None,
        "enterprises": enterprises,
    }
