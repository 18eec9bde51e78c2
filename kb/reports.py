"""The bureau's 月报: a month's figures for the province or one enterprise, beside the month
before, as data the page, the charts and the CSV/XLSX exports all read.

Periods are calendar months in China time (Asia/Shanghai). What happened when is read from
the records that say so: publications and archivings from the audit log (the first
``article.publish`` of an article is its addition, later ones are revisions), searches from the
query log, votes, revision requests and tickets from their own tables, reads from the read
counter. "Stale at the end of the month" uses each article's current review date.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb import feedback, reads
from kb.errors import Invalid, NotFound
from kb.freshness import china_today
from kb.models import (
    Article,
    AuditEvent,
    Feedback,
    Organisation,
    QueryLog,
    RevisionRequest,
    Ticket,
    TicketArticle,
)
from kb.permissions import policy
from kb.permissions.roles import OrgKind
from kb.web import CHINA

MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
TOP = 20


# ---- periods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """[first, last] calendar days in China time, and the same as UTC instants [start, end)."""

    first: date
    last: date
    label: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), CHINA)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), CHINA)

    def reference_day(self) -> date:
        """The day "at the end of the period" is judged on: its last day, or today if sooner."""
        return min(self.last, china_today())


def month(year: int, mon: int) -> Period:
    first = date(year, mon, 1)
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return Period(first, nxt - timedelta(days=1), f"{year:04d}-{mon:02d}")


def year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), f"{year:04d}")


def parse_month(text: str | None) -> Period:
    """``YYYY-MM`` (default: the current month in China time) or a clear error."""
    if not text:
        today = china_today()
        return month(today.year, today.month)
    found = MONTH_RE.match(text.strip())
    if not found or not 1 <= int(found.group(2)) <= 12 or not 2000 <= int(found.group(1)) <= 2100:
        raise Invalid("月份格式应为 YYYY-MM，如 2026-03", fields={"month": "格式应为 YYYY-MM"})
    return month(int(found.group(1)), int(found.group(2)))


def parse_year(text: str | None) -> Period:
    if not text:
        return year_period(china_today().year)
    if not re.fullmatch(r"\d{4}", text.strip()) or not 2000 <= int(text) <= 2100:
        raise Invalid("年份格式应为 YYYY，如 2026", fields={"year": "应为 2000～2100 的年份"})
    return year_period(int(text))


def previous_month(period: Period) -> Period:
    before = period.first - timedelta(days=1)
    return month(before.year, before.month)


def enterprise(s: Session, code: str | None) -> Organisation | None:
    """The enterprise named by ``code`` (None for the province), or a clear error."""
    if not code:
        return None
    org = s.scalar(select(Organisation).where(Organisation.code == code))
    if org is None or org.kind != OrgKind.ENTERPRISE:
        raise Invalid(f"入围企业“{code}”不存在", fields={"enterprise": "企业代码不存在"})
    return org


def enterprises_list(s: Session) -> list[Organisation]:
    return list(
        s.scalars(
            select(Organisation)
            .where(Organisation.kind == OrgKind.ENTERPRISE)
            .order_by(Organisation.code)
        )
    )


def require_curator(actor: Any) -> None:
    """The bureau's reports exist only for curators: anyone else is told there is no page."""
    if not policy.is_staff(actor):
        raise NotFound()


# ---- publication history from the audit log ----------------------------------------------


def publications(s: Session) -> dict[str, list[datetime]]:
    """Every article's publication instants, oldest first (slug → list)."""
    history: dict[str, list[datetime]] = defaultdict(list)
    for slug, at in s.execute(
        select(AuditEvent.object_id, AuditEvent.at)
        .where(AuditEvent.action == "article.publish", AuditEvent.object_type == "article")
        .order_by(AuditEvent.at, AuditEvent.id)
    ):
        history[slug].append(at)
    return history


def first_published(article: Article, history: dict[str, list[datetime]]) -> datetime | None:
    events = history.get(article.slug)
    if events:
        return events[0]
    return article.published_at  # rows older than the audit trail


def _in(at: datetime | None, period: Period) -> bool:
    return at is not None and period.start <= at < period.end


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# ---- the month's figures -------------------------------------------------------------------


def _article_figures(
    s: Session, period: Period, owner_id: int | None, history: dict[str, list[datetime]]
) -> dict[str, Any]:
    query = select(Article).where(Article.published_revision_id.is_not(None))
    if owner_id is not None:
        query = query.where(Article.owner_id == owner_id)
    articles = list(s.scalars(query))
    slugs = {a.slug for a in articles}
    new = revised = 0
    for a in articles:
        events = history.get(a.slug, [])
        first = first_published(a, history)
        if _in(first, period):
            new += 1
        if any(_in(at, period) for at in events[1:]):
            revised += 1
    archived = len(
        {
            slug
            for (slug,) in s.execute(
                select(AuditEvent.object_id).where(
                    AuditEvent.action == "article.archive",
                    AuditEvent.at >= period.start,
                    AuditEvent.at < period.end,
                )
            )
            if slug in slugs
        }
    )
    ref = period.reference_day()
    live = [
        a
        for a in articles
        if a.status == "published" and (first_published(a, history) or period.end) < period.end
    ]
    stale = sum(1 for a in live if a.review_by is not None and a.review_by < ref)
    return {
        "published": len(live),
        "new": new,
        "revised": revised,
        "archived": archived,
        "stale": stale,
        "reads": reads.totals(s, period.first, period.last, owner_id=owner_id),
        "reads_by_units": reads.totals(
            s, period.first, period.last, owner_id=owner_id, org_kind=OrgKind.UNIT
        ),
    }


def _search_figures(s: Session, period: Period) -> dict[str, Any]:
    """Searches are logged without the enterprise, so they are always the province's."""
    where = (QueryLog.at >= period.start, QueryLog.at < period.end, QueryLog.query != "")
    total = s.scalar(select(func.count()).select_from(QueryLog).where(*where)) or 0
    clicked = (
        s.scalar(
            select(func.count()).select_from(QueryLog).where(*where, QueryLog.clicked.is_not(None))
        )
        or 0
    )
    zero = (
        s.scalar(select(func.count()).select_from(QueryLog).where(*where, QueryLog.results == 0))
        or 0
    )
    weak = (
        s.scalar(select(func.count()).select_from(QueryLog).where(*where, QueryLog.weak.is_(True)))
        or 0
    )

    def top(*cond: Any) -> list[tuple[str, int]]:
        rows = s.execute(
            select(QueryLog.query, func.count())
            .where(*where, *cond)
            .group_by(QueryLog.query)
            .order_by(func.count().desc(), QueryLog.query)
            .limit(TOP)
        )
        return [(q, n) for q, n in rows]

    return {
        "searches": total,
        "zero_result": zero,
        "weak": weak,
        "clicked": clicked,
        "click_through": _ratio(clicked, total),
        "top_zero": top(QueryLog.results == 0),
        "top_weak": top(QueryLog.weak.is_(True)),
    }


def _feedback_figures(s: Session, period: Period, owner_id: int | None) -> dict[str, Any]:
    query = (
        select(Feedback.helpful, func.count())
        .join(Article, Article.id == Feedback.article_id)
        .where(Feedback.updated_at >= period.start, Feedback.updated_at < period.end)
        .group_by(Feedback.helpful)
    )
    if owner_id is not None:
        query = query.where(Article.owner_id == owner_id)
    votes = {bool(h): n for h, n in s.execute(query)}
    yes, no = votes.get(True, 0), votes.get(False, 0)
    return {"helpful": yes, "not_helpful": no, "helpful_ratio": _ratio(yes, yes + no)}


def _request_figures(s: Session, period: Period, owner_id: int | None) -> dict[str, Any]:
    query = select(RevisionRequest).where(RevisionRequest.created_at < period.end)
    if owner_id is not None:
        query = query.where(RevisionRequest.owner_id == owner_id)
    limit, holidays, workdays = feedback.calendar()
    ref = period.reference_day()
    opened = closed = overdue = 0
    durations: list[float] = []
    for req in s.scalars(query):
        if _in(req.created_at, period):
            opened += 1
        done_at = req.closed_at if req.status != "open" else None
        if _in(done_at, period):
            closed += 1
            durations.append((done_at - req.created_at).total_seconds() / 86400)
        still_open = done_at is None or done_at >= period.end
        due = feedback.due_date(req.created_at.astimezone(CHINA).date(), limit, holidays, workdays)
        if still_open and ref > due:
            overdue += 1
    return {
        "opened": opened,
        "closed": closed,
        "overdue": overdue,
        "median_days_to_close": round(median(durations), 2) if durations else None,
    }


def _ticket_figures(s: Session, period: Period, owner_id: int | None) -> dict[str, Any]:
    query = select(Ticket).where(
        Ticket.received_at >= period.start, Ticket.received_at < period.end
    )
    if owner_id is not None:
        query = query.where(Ticket.enterprise_id == owner_id)
    tickets = list(s.scalars(query))
    cited = {
        t
        for (t,) in s.execute(
            select(TicketArticle.ticket_id).where(
                TicketArticle.ticket_id.in_([t.id for t in tickets] or [0])
            )
        )
    }
    linked = sum(1 for t in tickets if t.id in cited or _produced_published(t))
    return {"received": len(tickets), "linked": linked, "link_rate": _ratio(linked, len(tickets))}


def _produced_published(ticket: Ticket) -> bool:
    draft = ticket.draft_article
    return draft is not None and draft.published_revision_id is not None


def figures(s: Session, period: Period, org: Organisation | None) -> dict[str, Any]:
    owner_id = org.id if org is not None else None
    history = publications(s)
    return {
        "articles": _article_figures(s, period, owner_id, history),
        "search": _search_figures(s, period),
        "feedback": _feedback_figures(s, period, owner_id),
        "requests": _request_figures(s, period, owner_id),
        "tickets": _ticket_figures(s, period, owner_id),
    }


# (section, key, label, kind): the rows of the report, its charts and its exports, in order
ROWS: list[tuple[str, str, str, str]] = [
    ("articles", "published", "已发布文章（月末）", "n"),
    ("articles", "new", "新增文章", "n"),
    ("articles", "revised", "修订发布", "n"),
    ("articles", "archived", "归档文章", "n"),
    ("articles", "stale", "超过复核日期（月末）", "n"),
    ("articles", "reads", "阅读次数", "n"),
    ("articles", "reads_by_units", "其中采购单位用户阅读", "n"),
    ("search", "searches", "搜索次数（全区）", "n"),
    ("search", "zero_result", "无结果搜索", "n"),
    ("search", "weak", "弱答案搜索", "n"),
    ("search", "click_through", "搜索点击率", "%"),
    ("feedback", "helpful", "有帮助评价", "n"),
    ("feedback", "not_helpful", "没帮助评价", "n"),
    ("feedback", "helpful_ratio", "有帮助占比", "%"),
    ("requests", "opened", "新开修订请求", "n"),
    ("requests", "closed", "处理完毕的修订请求", "n"),
    ("requests", "overdue", "超期未处理（月末）", "n"),
    ("requests", "median_days_to_close", "处理用时中位数（天）", "d"),
    ("tickets", "received", "收到工单", "n"),
    ("tickets", "linked", "其中关联文章", "n"),
    ("tickets", "link_rate", "工单关联率", "%"),
]


def _change(now: Any, before: Any) -> Any:
    if now is None or before is None:
        return None
    return round(now - before, 4)


def monthly(s: Session, actor: Any, month_text: str | None, code: str | None) -> dict[str, Any]:
    """The 月报 of ``month_text`` (YYYY-MM) for the province or enterprise ``code``."""
    require_curator(actor)
    period = parse_month(month_text)
    org = enterprise(s, code)
    before = previous_month(period)
    current, previous = figures(s, period, org), figures(s, before, org)
    rows = [
        {
            "section": sec,
            "key": key,
            "label": label,
            "kind": kind,
            "current": current[sec][key],
            "previous": previous[sec][key],
            "change": _change(current[sec][key], previous[sec][key]),
        }
        for sec, key, label, kind in ROWS
    ]
    return {
        "month": period.label,
        "previous_month": before.label,
        "enterprise": org.code if org else None,
        "enterprise_name": org.name if org else "全区",
        "current": current,
        "previous": previous,
        "rows": rows,
    }


def _cell(value: Any, kind: str) -> Any:
    if value is None:
        return ""
    if kind == "%":
        return f"{value * 100:.1f}%"
    return value


def monthly_sheets(report: dict[str, Any]) -> list[tuple[str, list[list[Any]]]]:
    """The 月报 as sheets for the CSV/XLSX export."""
    head = f"{report['enterprise_name']} {report['month']} 月报"
    summary: list[list[Any]] = [["指标", report["month"], report["previous_month"], "变化"]]
    for r in report["rows"]:
        change = r["change"]
        if r["kind"] == "%" and change is not None:
            change = f"{change * 100:+.1f} 个百分点"
        summary.append(
            [r["label"], _cell(r["current"], r["kind"]), _cell(r["previous"], r["kind"]), change]
        )
    search = report["current"]["search"]
    return [
        (head, summary),
        ("无结果搜索 Top 20", [["搜索词", "次数"], *map(list, search["top_zero"])]),
        ("弱答案搜索 Top 20", [["搜索词", "次数"], *map(list, search["top_weak"])]),
    ]
