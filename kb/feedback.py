"""The feedback loop: votes on articles, revision requests (修订请求) and how they are answered.

A vote (有帮助 / 没帮助) is one row per signed-in user or per browser and can be changed. A
"没帮助" with a reason opens a revision request for the article's enterprise; its editors answer
by publishing a revision that names the request (``on_revision_published`` closes it) or by
declining with a reply. Curators see every open request, which are overdue (working days), and
can reassign or escalate. Every change goes through here, with its audit event, in one
transaction; vote counts are read from the database wherever they are shown, and reach the
search index's sort column in the background (kb.index.writer.sync_counts), never in the request.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kb import audit, pii
from kb.errors import Conflict, Invalid, NotFound
from kb.models import Article, Feedback, RevisionRequest, User, utcnow
from kb.permissions import policy
from kb.permissions.policy import Gate
from kb.permissions.roles import Action, Role
from kb.web import CHINA

REASONS = ("内容有误", "步骤无法操作", "内容过时", "表述不清", "缺少内容", "其他")
STATUSES = ("open", "closed", "declined")
STATUS_LABELS = {"open": "处理中", "closed": "已修订", "declined": "已答复（未修改）"}
MAX_COMMENT = 1000
MAX_REPLY = 2000


# ---- working days -----------------------------------------------------------------------


def _dates(value: Any) -> set[date]:
    """Dates from config: a list of ISO dates, or one string of them; bad ones skipped."""
    if not value:
        return set()
    items = value if isinstance(value, list | tuple | set) else str(value).replace(",", " ").split()
    out: set[date] = set()
    for item in items:
        try:
            out.add(item if isinstance(item, date) else date.fromisoformat(str(item).strip()))
        except ValueError:
            continue
    return out


def calendar() -> tuple[int, set[date], set[date]]:
    """(overdue working days, extra holidays, make-up working weekend days) from the app config."""
    if not has_app_context():
        return 5, set(), set()
    cfg = current_app.config
    return (
        int(cfg.get("REQUEST_OVERDUE_DAYS") or 5),
        _dates(cfg.get("REQUEST_HOLIDAYS")),
        _dates(cfg.get("REQUEST_WORKDAYS")),
    )


def is_workday(day: date, holidays: Collection[date] = (), workdays: Collection[date] = ()) -> bool:
    if day in workdays:
        return True
    return day.weekday() < 5 and day not in holidays


def working_days_between(
    start: date, end: date, holidays: Collection[date] = (), workdays: Collection[date] = ()
) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        if is_workday(day, holidays, workdays):
            count += 1
    return count


def due_date(
    start: date, days: int, holidays: Collection[date] = (), workdays: Collection[date] = ()
) -> date:
    """The last day to answer: ``days`` working days after the day the request was opened."""
    day, left = start, days
    while left > 0:
        day += timedelta(days=1)
        if is_workday(day, holidays, workdays):
            left -= 1
    return day


@dataclass
class Age:
    days: int  # calendar days since opened
    working_days: int
    due: date
    overdue: bool


def age_of(req: RevisionRequest, now: datetime | None = None) -> Age:
    limit, holidays, workdays = calendar()
    now = now or utcnow()
    end = req.closed_at if req.status != "open" and req.closed_at else now
    opened = req.created_at.astimezone(CHINA).date()
    today = end.astimezone(CHINA).date()
    due = due_date(opened, limit, holidays, workdays)
    return Age(
        days=(today - opened).days,
        working_days=working_days_between(opened, today, holidays, workdays),
        due=due,
        overdue=req.status == "open" and today > due,
    )


# ---- votes ------------------------------------------------------------------------------


def _clean_vote(helpful: Any, reason: Any, comment: Any) -> tuple[bool, str | None, str]:
    errors: dict[str, str] = {}
    if not isinstance(helpful, bool):
        errors["helpful"] = "应为 true（有帮助）或 false（没帮助）"
    if reason in (None, ""):
        reason = None
    elif not isinstance(reason, str) or reason not in REASONS:
        errors["reason"] = "原因应为：" + "、".join(REASONS)
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        errors["comment"] = "补充说明应为文字"
        comment = ""
    comment = comment.replace("\r\n", "\n").strip()
    if len(comment) > MAX_COMMENT:
        errors["comment"] = f"补充说明最多 {MAX_COMMENT} 个字"
    if any(ord(c) < 32 and c not in "\n\t" for c in comment):
        errors["comment"] = "补充说明含有不可见的控制字符"
    if helpful is False and reason is None and "reason" not in errors:
        errors["reason"] = "请选择没帮助的原因：" + "、".join(REASONS)
    if helpful is True and (reason is not None or comment):
        errors["reason"] = "选择“有帮助”时不需要填写原因"
    if errors:
        raise Invalid("反馈内容有误：" + "；".join(errors.values()), fields=errors)
    return bool(helpful), reason, comment


def _find_vote(s: Session, article: Article, user: Any, visitor_id: str | None) -> Feedback | None:
    if policy.signed_in(user):
        return s.scalar(
            select(Feedback).where(Feedback.article_id == article.id, Feedback.user_id == user.id)
        )
    return s.scalar(
        select(Feedback).where(Feedback.article_id == article.id, Feedback.visitor_id == visitor_id)
    )


def vote(
    s: Session,
    user: Any,
    article: Article,
    *,
    helpful: Any,
    reason: Any = None,
    comment: Any = None,
    visitor_id: str | None = None,
) -> Feedback:
    """Record (or change) a vote; "没帮助" with a reason opens a revision request.

    The caller commits (``kb.articles.commit``).
    """
    helpful, reason, comment = _clean_vote(helpful, reason, comment)
    if article.status != "published" or not policy.can(user, Action.READ, article):
        raise NotFound("文章不存在，或您无权查看。")
    signed = policy.signed_in(user)
    if not signed:
        if article.visibility != "public":
            raise NotFound("文章不存在，或您无权查看。")
        if not visitor_id:
            raise Invalid(
                "无法识别您的浏览器，请允许 Cookie 后再评价。", fields={"cookie": "缺少访客标识"}
            )
    now = utcnow()
    fb = _find_vote(s, article, user, visitor_id)
    if fb is None:
        fb = Feedback(
            article_id=article.id,
            user_id=user.id if signed else None,
            visitor_id=None if signed else visitor_id,
            helpful=helpful,
            created_at=now,
        )
        try:
            with s.begin_nested():
                s.add(fb)
        except IntegrityError:
            # the same reader's simultaneous first vote won the race: change that one instead
            fb = _find_vote(s, article, user, visitor_id)
            if fb is None:
                raise
    fb.helpful = helpful
    fb.reason = reason
    fb.comment = comment
    fb.updated_at = now
    fb.revision_number = article.published_revision.number if article.published_revision else None
    s.flush()
    # counted from the votes themselves, so two votes at once cannot lose one
    article.helpful_yes, article.helpful_no = _vote_counts(s, article.id)
    if reason is not None:
        req = fb.request if fb.request_id else None
        if req is not None and req.status == "open":
            req.reason, req.comment = reason, comment  # the same reader, restating the problem
        else:
            req = RevisionRequest(
                article_id=article.id,
                owner_id=article.owner_id,
                feedback_id=fb.id,
                reason=reason,
                comment=comment,
                status="open",
                created_at=now,
            )
            s.add(req)
            s.flush()
            fb.request_id = req.id
            audit.record(
                s,
                user,
                "request.open",
                "revision_request",
                req.id,
                article=article.slug,
                reason=reason,
            )
    audit.record(s, user, "feedback.vote", "article", article.slug, helpful=helpful, reason=reason)
    return fb


def _vote_counts(s: Session, article_id: int) -> tuple[int, int]:
    rows = dict(
        s.execute(
            select(Feedback.helpful, func.count())
            .where(Feedback.article_id == article_id)
            .group_by(Feedback.helpful)
        ).all()
    )
    return rows.get(True, 0), rows.get(False, 0)


def feedback_status(fb: Feedback) -> str:
    """What the reader sees: 已记录 for a plain vote, else the request's state."""
    if fb.request is None:
        return "recorded"
    return fb.request.status


def mine(s: Session, user: Any) -> list[Feedback]:
    if not policy.allows(user, Gate.SIGNED_IN):
        return []
    return list(
        s.scalars(
            select(Feedback).where(Feedback.user_id == user.id).order_by(Feedback.updated_at.desc())
        )
    )


def vote_of(s: Session, user: Any, article: Article, visitor_id: str | None) -> Feedback | None:
    if not policy.signed_in(user) and not visitor_id:
        return None
    return _find_vote(s, article, user, visitor_id)


# ---- revision requests ------------------------------------------------------------------


def _may_handle(user: Any, req: RevisionRequest) -> bool:
    return policy.may_handle_request(user, req.owner_id)


def may_see(user: Any, req: RevisionRequest) -> bool:
    return _may_handle(user, req)


def get_request(s: Session, user: Any, request_id: int) -> RevisionRequest:
    req = s.get(RevisionRequest, request_id)
    if req is None or not _may_handle(user, req):
        raise NotFound("修订请求不存在，或您无权查看。")
    return req


def requests_for(
    s: Session, user: Any, *, status: str | None = "open", article: Article | None = None
) -> list[RevisionRequest]:
    """Requests the user may see: an editor his enterprise's, a curator all, a reader his own."""
    if status is not None and status not in STATUSES:
        raise Invalid(f"未知的状态“{status}”", fields={"status": "应为 open、closed 或 declined"})
    query = select(RevisionRequest)
    if status is not None:
        query = query.where(RevisionRequest.status == status)
    if article is not None:
        query = query.where(RevisionRequest.article_id == article.id)
    if not policy.allows(user, Gate.SIGNED_IN):
        return []
    scope = policy.desk_scope(user)
    if scope == policy.ALL:
        pass
    elif scope is not None:
        query = query.where(RevisionRequest.owner_id == scope)
    else:
        query = query.join(Feedback, Feedback.request_id == RevisionRequest.id).where(
            Feedback.user_id == user.id
        )
    return list(s.scalars(query.order_by(RevisionRequest.created_at, RevisionRequest.id)))


def feedback_of(s: Session, req: RevisionRequest) -> Feedback | None:
    return s.scalar(select(Feedback).where(Feedback.request_id == req.id))


def check_resolvable(s: Session, user: Any, article: Article, request_id: int) -> RevisionRequest:
    """The open request of this article that a revision may answer, or a clear 4xx."""
    req = s.get(RevisionRequest, request_id)
    if req is None or not _may_handle(user, req):
        raise NotFound(
            f"修订请求 {request_id} 不存在，或您无权处理。", fields={"resolves": "修订请求不存在"}
        )
    if req.article_id != article.id:
        raise Invalid(
            f"修订请求 {request_id} 针对的是另一篇文章（{req.article.slug}）。",
            fields={"resolves": "请求不属于这篇文章"},
        )
    if req.status != "open":
        raise Conflict(
            f"修订请求 {request_id} 已{STATUS_LABELS[req.status]}，不能再关联修订。",
            fields={"resolves": "请求已关闭"},
        )
    return req


def on_revision_published(s: Session, actor: Any, article: Article, revision: Any) -> None:
    """Publishing a revision that names an open request of this article closes the request."""
    req = s.get(RevisionRequest, revision.resolves_request_id)
    if req is None or req.article_id != article.id or req.status != "open":
        return  # a stale or foreign id (e.g. a hand-edited form) closes nothing
    req.status = "closed"
    req.closed_at = utcnow()
    req.closed_by = getattr(actor, "username", "系统")
    req.revision_number = revision.number
    if not req.reply:
        req.reply = f"已根据您的反馈修订文章（第 {revision.number} 版），现已发布。"
    audit.record(
        s,
        actor,
        "request.close",
        "revision_request",
        req.id,
        article=article.slug,
        revision=revision.number,
    )


def decline(s: Session, user: Any, request_id: int, reply: Any) -> RevisionRequest:
    req = get_request(s, user, request_id)
    if not isinstance(reply, str) or not reply.strip():
        raise Invalid(
            "不修改时必须填写答复，反馈人会看到这条说明。", fields={"reply": "请填写答复"}
        )
    reply = reply.replace("\r\n", "\n").strip()
    if len(reply) > MAX_REPLY:
        raise Invalid(f"答复最多 {MAX_REPLY} 个字", fields={"reply": "答复过长"})
    if req.status != "open":
        raise Conflict(f"修订请求已{STATUS_LABELS[req.status]}，不能再答复。")
    req.status = "declined"
    req.reply = reply
    req.closed_at = utcnow()
    req.closed_by = user.username
    audit.record(s, user, "request.decline", "revision_request", req.id, article=req.article.slug)
    return req


def reassign(s: Session, user: Any, request_id: int, assignee: Any) -> RevisionRequest:
    """A curator hands the request to one editor of the owning enterprise."""
    policy.require_gate(user, Gate.STAFF, "只有数据局审核员可以指派修订请求。")
    req = get_request(s, user, request_id)
    if req.status != "open":
        raise Conflict("只有处理中的修订请求可以指派。")
    if not isinstance(assignee, str) or not assignee.strip():
        raise Invalid("请选择要指派的编辑", fields={"assignee": "请选择编辑"})
    target = s.scalar(select(User).where(User.username == assignee.strip()))
    if (
        target is None
        or not target.active
        or target.role != Role.EDITOR
        or target.organisation_id != req.owner_id
    ):
        raise Invalid(
            f"“{assignee}”不是{req.owner.name}的在职编辑。",
            fields={"assignee": "只能指派给文章所属企业的编辑"},
        )
    req.assignee_id = target.id
    audit.record(s, user, "request.reassign", "revision_request", req.id, assignee=target.username)
    return req


def escalate(s: Session, user: Any, request_id: int, note: Any) -> RevisionRequest:
    """A curator escalates a request (督办); it goes to the top of the enterprise's inbox."""
    policy.require_gate(user, Gate.STAFF, "只有数据局审核员可以督办修订请求。")
    req = get_request(s, user, request_id)
    if req.status != "open":
        raise Conflict("只有处理中的修订请求可以督办。")
    note = note if isinstance(note, str) else ""
    note = note.strip()
    if len(note) > MAX_REPLY:
        raise Invalid(f"督办说明最多 {MAX_REPLY} 个字", fields={"note": "说明过长"})
    req.escalated_at = utcnow()
    req.escalation_note = note
    audit.record(s, user, "request.escalate", "revision_request", req.id, note=note)
    return req


def editors_of(s: Session, owner_id: int) -> list[User]:
    return list(
        s.scalars(
            select(User)
            .where(
                User.organisation_id == owner_id, User.role == Role.EDITOR, User.active.is_(True)
            )
            .order_by(User.username)
        )
    )


def request_json(req: RevisionRequest, *, fb: Feedback | None = None) -> dict[str, Any]:
    age = age_of(req)
    return {
        "id": req.id,
        "article": req.article.slug,
        "title": req.article.title,
        "enterprise": req.owner.code,
        "reason": req.reason,
        "comment": pii.mask(req.comment),
        "status": req.status,
        "status_label": STATUS_LABELS[req.status],
        "created_at": req.created_at.isoformat(),
        "closed_at": req.closed_at.isoformat() if req.closed_at else None,
        "reply": req.reply,
        "revision": req.revision_number,
        "age_days": age.days,
        "age_working_days": age.working_days,
        "due": age.due.isoformat(),
        "overdue": age.overdue,
        "assignee": req.assignee.username if req.assignee else None,
        "escalated": req.escalated_at is not None,
        "escalation_note": req.escalation_note,
    }
