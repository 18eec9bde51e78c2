"""Timeliness checks (时效性检查, seed 002 §六(三)): review dates, 复核无误, the 需复审 queue,
the stale banner, and replacement of archived articles.

Every published article has a review date (``Article.review_by``): the author's ``review_by``
from the front matter, else the date of publication plus the months curators configured for
its type. After that date it is *stale*: it keeps serving with a banner (and ranks a little
lower, see kb/index/), until its owning editor or a curator confirms it (复核无误), which moves
the date forward by the same months, or revises it.
"""

from __future__ import annotations

import calendar as _calendar
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import audit
from kb.errors import Conflict, Forbidden, Invalid, NotFound
from kb.frontmatter import SLUG_RE, TYPES
from kb.models import Article, IndexTask, Organisation, Setting, utcnow
from kb.permissions import policy
from kb.permissions.roles import Action, Role
from kb.web import CHINA

SETTING_KEY = "freshness.months"
# Months until review, by article type: fault fixes and hard problems age with software
# updates, background knowledge ages slowly.
DEFAULT_MONTHS: dict[str, int] = {
    "常见问题": 12,
    "故障处理": 12,
    "操作指南": 12,
    "产品配置": 12,
    "技术原理": 24,
    "疑难问题": 6,
}
MAX_MONTHS = 120
DUE_WITHIN_DAYS = 30
BANNER = "本文已超过复核日期（{date}），内容可能已过时"


def china_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(CHINA).date()


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, _calendar.monthrange(year, month)[1]))


# ---- the months per type (curators' setting) ----------------------------------------------


def months_by_type(s: Session) -> dict[str, int]:
    row = s.get(Setting, SETTING_KEY)
    months = dict(DEFAULT_MONTHS)
    if row is not None:
        try:
            stored = json.loads(row.value)
        except ValueError:  # a hand-edited row: fall back to the defaults rather than fail pages
            stored = {}
        months.update({k: int(v) for k, v in stored.items() if k in months})
    return months


def save_months(s: Session, actor: Any, values: dict[str, Any]) -> dict[str, int]:
    """Store the months per type (1–120 each); articles still without a date get one."""
    if not policy.is_staff(actor):
        raise NotFound()
    errors: dict[str, str] = {}
    months: dict[str, int] = {}
    for type_ in TYPES:
        raw = values.get(type_)
        try:
            n = int(str(raw).strip())
        except (TypeError, ValueError):
            errors[type_] = "应为整数（月数）"
            continue
        if not 1 <= n <= MAX_MONTHS:
            errors[type_] = f"应在 1～{MAX_MONTHS} 之间"
            continue
        months[type_] = n
    if errors:
        raise Invalid(
            "复审周期填写有误：" + "；".join(f"{k}{v}" for k, v in errors.items()), fields=errors
        )
    before = months_by_type(s)
    row = s.get(Setting, SETTING_KEY)
    text = json.dumps(months, ensure_ascii=False)
    if row is None:
        s.add(Setting(key=SETTING_KEY, value=text, updated_at=utcnow()))
    else:
        row.value, row.updated_at = text, utcnow()
    audit.record(
        s, actor, "freshness.settings", "setting", SETTING_KEY, before=before, after=months
    )
    s.flush()
    fill_missing(s)
    return months


# ---- review dates ---------------------------------------------------------------------------


def default_review_by(s: Session, article: Article, start: date) -> date:
    return add_months(start, months_by_type(s).get(article.type, 12))


def apply_default(s: Session, article: Article) -> None:
    """Called on publication: an article without a review date gets its type's default."""
    if article.review_by is None:
        start = china_today(article.published_at)
        article.review_by = default_review_by(s, article, start)


def fill_missing(s: Session) -> int:
    """Give every published article without a review date its default (older data)."""
    n = 0
    for article in s.scalars(
        select(Article).where(Article.status == "published", Article.review_by.is_(None))
    ):
        apply_default(s, article)
        s.add(IndexTask(article_id=article.id))
        n += 1
    return n


def is_stale(article: Article, today: date | None = None) -> bool:
    return (
        article.status == "published"
        and article.review_by is not None
        and article.review_by < (today or china_today())
    )


def banner(article: Article, today: date | None = None) -> str | None:
    if not is_stale(article, today):
        return None
    return BANNER.format(date=article.review_by.isoformat())


def may_confirm(actor: Any, article: Article) -> bool:
    return policy.is_staff(actor) or policy.is_owner_editor(actor, article)


def confirm(s: Session, actor: Any, article: Article) -> date:
    """复核无误: the content was checked and still holds; the review date moves forward."""
    if not may_confirm(actor, article):
        if policy.signed_in(actor) and policy.can(actor, Action.READ, article):
            raise Forbidden("只有文章所属企业的编辑或数据局审核员可以复核。")
        raise NotFound("文章不存在，或您无权查看。")
    if article.status != "published":
        raise Conflict("只有已发布的文章可以复核。")
    before = article.review_by
    article.review_by = default_review_by(s, article, china_today())
    article.reviewed_at = utcnow()
    audit.record(
        s,
        actor,
        "article.confirm",
        "article",
        article.slug,
        before=before.isoformat() if before else None,
        after=article.review_by.isoformat(),
    )
    s.add(IndexTask(article_id=article.id))  # the ranking reads the review date from the index
    return article.review_by


# ---- the 需复审 queue ------------------------------------------------------------------------


@dataclass
class DueItem:
    article: Article
    review_by: date
    days_left: int  # negative when overdue

    @property
    def overdue(self) -> bool:
        return self.days_left < 0

    def as_dict(self) -> dict[str, Any]:
        a = self.article
        return {
            "slug": a.slug,
            "title": a.title,
            "type": a.type,
            "enterprise": a.owner.code,
            "enterprise_name": a.owner.name,
            "review_by": self.review_by.isoformat(),
            "days_left": self.days_left,
            "overdue": self.overdue,
            "reviewed_at": a.reviewed_at.isoformat() if a.reviewed_at else None,
        }


SORTS = ("date", "enterprise")


def due(s: Session, actor: Any, *, sort: str = "date", today: date | None = None) -> list[DueItem]:
    """Published articles due within 30 days or overdue: an editor's enterprise, or all for
    curators; anyone else is told the page does not exist."""
    if sort not in SORTS:
        raise Invalid("排序方式应为 date 或 enterprise", fields={"sort": "应为 date 或 enterprise"})
    today = today or china_today()
    query = (
        select(Article)
        .join(Organisation, Organisation.id == Article.owner_id)
        .where(Article.status == "published", Article.review_by.is_not(None))
        .where(Article.review_by <= date.fromordinal(today.toordinal() + DUE_WITHIN_DAYS))
    )
    if policy.is_staff(actor):
        pass
    elif policy.signed_in(actor) and actor.role == Role.EDITOR:
        query = query.where(Article.owner_id == actor.organisation_id)
    else:
        raise NotFound()
    if sort == "enterprise":
        query = query.order_by(Organisation.code, Article.review_by, Article.slug)
    else:
        query = query.order_by(Article.review_by, Organisation.code, Article.slug)
    return [DueItem(a, a.review_by, (a.review_by - today).days) for a in s.scalars(query).unique()]


# ---- replacement of archived articles ----------------------------------------------------------


def check_replacement(s: Session, article: Article, replaced_by: str | None) -> str | None:
    """The slug of a valid replacement (a published article other than this one), or None."""
    replaced_by = (replaced_by or "").strip() or None
    if replaced_by is None:
        return None
    field_error = {"replaced_by": "应为另一篇已发布文章的标识"}
    if replaced_by == article.slug or not SLUG_RE.match(replaced_by):
        raise Invalid("替代文章应为另一篇已发布的文章", fields=field_error)
    target = s.scalar(select(Article).where(Article.slug == replaced_by))
    if target is None or target.status != "published":
        raise Invalid(f"替代文章“{replaced_by}”不存在或未发布", fields=field_error)
    return replaced_by


def replacement_of(s: Session, slug: str) -> str | None:
    """Where an archived article's old address now points (None: nowhere)."""
    if not SLUG_RE.match(slug or ""):
        return None
    row = s.execute(select(Article.status, Article.replaced_by).where(Article.slug == slug)).first()
    if row is None or row.status != "archived" or not row.replaced_by:
        return None
    return row.replaced_by


def replaces(s: Session, article: Article) -> list[Article]:
    """The archived articles this one replaced."""
    return list(
        s.scalars(
            select(Article)
            .where(Article.replaced_by == article.slug, Article.status == "archived")
            .order_by(Article.slug)
        )
    )


@dataclass
class Face:
    """What the article page and API say about freshness."""

    stale: bool
    banner: str | None
    review_by: date | None
    may_confirm: bool
    replaces: list[Article] = field(default_factory=list)


def face(s: Session, actor: Any, article: Article) -> Face:
    return Face(
        stale=is_stale(article),
        banner=banner(article),
        review_by=article.review_by,
        may_confirm=article.status == "published" and may_confirm(actor, article),
        replaces=replaces(s, article),
    )
