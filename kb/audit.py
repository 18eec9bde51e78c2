"""The audit trail: who did what to which object, when. Called by operations, never by views.

Besides ``record``, this module reads the trail back for the audit log viewer: filters by user,
action, object and date range (China time), Chinese names for the actions, and each event's
details as readable text (real characters, no JSON escapes) for the page and the CSV export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kb.models import AuditEvent

ACTION_LABELS: dict[str, str] = {
    "article.create": "新建文章",
    "article.edit": "修改文章",
    "article.submit": "提交审核",
    "article.withdraw": "撤回提交",
    "article.publish": "发布文章",
    "article.force_publish": "直接发布（导入）",
    "article.return": "退回修改",
    "article.archive": "归档文章",
    "article.restore": "恢复发布",
    "article.visibility": "变更可见范围",
    "article.confirm": "复核无误",
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "org.create": "新建单位",
    "user.create": "新建账号",
    "user.update": "修改账号",
    "token.create": "创建 API 令牌",
    "platform.account": "创建服务平台账号",
    "feedback.vote": "评价文章",
    "request.open": "开启修订请求",
    "request.close": "修订请求已修订",
    "request.decline": "修订请求已答复",
    "request.reassign": "指派修订请求",
    "request.escalate": "督办修订请求",
    "ticket.create": "接收工单",
    "ticket.update": "更新工单",
    "ticket.draft": "工单生成草稿",
    "synonyms.update": "修改同义词",
    "synonyms.reset": "恢复默认同义词",
    "glossary.update": "修改术语表",
    "glossary.reset": "恢复默认术语表",
    "freshness.settings": "修改复审周期",
    "evaluation.settings": "修改评价阈值",
}
OBJECT_LABELS = {
    "article": "文章",
    "user": "账号",
    "organisation": "单位",
    "request": "修订请求",
    "ticket": "工单",
    "setting": "设置",
}
DETAIL_LABELS = {
    "revision": "修订",
    "note": "意见",
    "reason": "原因",
    "before": "原值",
    "after": "新值",
    "replaced_by": "替代文章",
    "ip": "IP",
    "name": "名称",
    "kind": "类型",
    "role": "角色",
    "organisation": "单位",
    "enterprise": "企业",
    "helpful": "有帮助",
    "active": "启用",
}
# coded detail values shown in words
VALUE_LABELS = {"bad_credentials": "用户名或密码错误", "inactive": "账号已停用"}
PER_PAGE = 50


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


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action) or FAMILY_LABELS.get(action) or action


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "，".join(f"{DETAIL_LABELS.get(k, k)}：{_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "、".join(_text(v) for v in value)
    return VALUE_LABELS.get(str(value), str(value))


def describe(detail: dict[str, Any] | None) -> str:
    """An event's details as one readable line: 原因：……；修订：3."""
    if not detail:
        return ""
    return "；".join(f"{DETAIL_LABELS.get(k, k)}：{_text(v)}" for k, v in detail.items())


@dataclass
class Filters:
    user: str = ""
    action: str = ""
    object: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_args(self) -> dict[str, str]:
        args = {"user": self.user, "action": self.action, "object": self.object}
        args["from"] = self.date_from.isoformat() if self.date_from else ""
        args["to"] = self.date_to.isoformat() if self.date_to else ""
        return {k: v for k, v in args.items() if v}


def parse_filters(args: Any) -> Filters:
    """Filters from query arguments; a bad date is a clear error naming the field."""
    from kb.errors import Invalid

    def day(name: str) -> date | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise Invalid(
                f"日期格式应为 YYYY-MM-DD：{raw}", fields={name: "格式应为 YYYY-MM-DD"}
            ) from None

    f = Filters(
        user=(args.get("user") or "").strip()[:100],
        action=(args.get("action") or "").strip()[:50],
        object=(args.get("object") or "").strip()[:100],
        date_from=day("from"),
        date_to=day("to"),
    )
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise Invalid("开始日期晚于结束日期", fields={"from": "应不晚于结束日期"})
    return f


def _query(f: Filters) -> Any:
    from kb.web import CHINA

    query = select(AuditEvent)
    if f.user:
        query = query.where(AuditEvent.actor_name == f.user)
    if f.action:
        # an exact action, or a whole family by prefix ("article" → article.*)
        query = query.where(
            or_(AuditEvent.action == f.action, AuditEvent.action.startswith(f.action + "."))
        )
    if f.object:
        # "article:slug", or just the slug / id
        kind, _sep, ident = f.object.partition(":")
        if _sep:
            query = query.where(AuditEvent.object_type == kind, AuditEvent.object_id == ident)
        else:
            query = query.where(AuditEvent.object_id == f.object)
    if f.date_from:
        query = query.where(AuditEvent.at >= datetime.combine(f.date_from, time(), CHINA))
    if f.date_to:
        end = datetime.combine(f.date_to + timedelta(days=1), time(), CHINA)
        query = query.where(AuditEvent.at < end)
    return query


def search(
    s: Session, f: Filters, *, page: int = 1, per_page: int = PER_PAGE
) -> tuple[list[AuditEvent], int]:
    """A page of matching events, newest first, and how many match in all."""
    query = _query(f)
    total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
    events = s.scalars(
        query.order_by(AuditEvent.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(events), total


FAMILY_LABELS = {
    "article": "文章（全部）",
    "auth": "登录与退出（全部）",
    "user": "账号（全部）",
    "request": "修订请求（全部）",
    "ticket": "工单（全部）",
}


def action_choices(s: Session) -> list[tuple[str, str]]:
    """(value, label) for the action filter: each family, then every action seen."""
    seen = list(s.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
    families = sorted({a.split(".")[0] for a in seen} & FAMILY_LABELS.keys())
    return [(f, FAMILY_LABELS[f]) for f in families] + [(a, action_label(a)) for a in seen]


def sheets(s: Session, f: Filters, limit: int = 100_000) -> list[tuple[str, list[list[Any]]]]:
    """The matching events (up to ``limit``) as one sheet for the CSV export."""
    from kb.web import localtime

    rows: list[list[Any]] = [
        ["时间（北京时间）", "操作人", "操作", "操作代码", "对象类型", "对象", "详情"]
    ]
    for e in s.scalars(_query(f).order_by(AuditEvent.id.desc()).limit(limit)):
        rows.append(
            [
                localtime(e.at, "%Y-%m-%d %H:%M:%S"),
                e.actor_name,
                action_label(e.action),
                e.action,
                OBJECT_LABELS.get(e.object_type, e.object_type),
                e.object_id,
                describe(e.detail),
            ]
        )
    return [("", rows)]


def recent(
    s: Session, *, action: str | None = None, page: int = 1, per_page: int = 50
) -> list[AuditEvent]:
    """The newest events, optionally of one action family (kept for older callers)."""
    return search(s, Filters(action=action or ""), page=page, per_page=per_page)[0]
