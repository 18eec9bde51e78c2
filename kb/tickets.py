"""Ticket closure links (工单闭环): closed work orders posted by service platforms.

A platform token is bound to one enterprise (``platform_user``). ``upsert`` validates the work
order fields of the standard (seed 002, 五), stores the ticket (idempotent on enterprise and
ticket number), links it to the articles it cites, or, citing none, turns its solution into a
draft 故障处理 article for the enterprise's editors with personal data removed by the checker's
KB-PRIV rules. The link to that draft counts once the draft has been published.

Contact names and phone numbers stay in the ticket row: only the enterprise and curators see
them, and they are never copied into an article or a figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import audit
from kb.errors import Forbidden, Invalid, NotFound
from kb.frontmatter import CATEGORIES, SLUG_RE, ArticleDraft
from kb.models import Article, Organisation, PlatformAccount, Ticket, TicketArticle, User, utcnow
from kb.permissions import policy
from kb.permissions.roles import Action, OrgKind, Role
from kb.web import CHINA

CHANNELS = ("电话", "在线", "邮件")
HANDLINGS = ("线上", "线下")
SATISFACTION = ("非常满意", "满意", "一般", "不满意", "非常不满意")
REQUIRED = (
    "ticket_no",
    "customer_org",
    "channel",
    "reported_at",
    "created_at",
    "handling",
    "product",
    "solution",
    "closed_at",
)
TIMES = (
    "reported_at",
    "accepted_at",
    "created_at",
    "onsite_responded_at",
    "onsite_arrived_at",
    "onsite_completed_at",
    "closed_at",
)
TEXTS = {  # field: (label, max characters)
    "ticket_no": ("工单编号", 64),
    "customer_org": ("建设单位名称", 200),
    "contact_name": ("客户联系人", 100),
    "contact_phone": ("联系电话", 40),
    "product": ("涉及产品品牌型号", 200),
    "symptom": ("问题现象", 2000),
    "follow_up": ("用户回访建议", 2000),
    "category": ("文章分类", 50),
    "enterprise": ("企业代码", 64),
}
FIELDS = (
    set(REQUIRED)
    | set(TIMES)
    | set(TEXTS)
    | {"channel", "handling", "solution", "user_reviewed", "satisfaction", "articles"}
)
MAX_SOLUTION_BYTES = 50 * 1024
MAX_ARTICLES = 20
CLOCK_SKEW = timedelta(minutes=10)
_TICKET_NO = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.:/#\-]{0,63}$")
_PHONE = re.compile(r"^[0-9+()（）\- 转]{3,40}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CATEGORY_HINTS = (  # product words -> category, for the draft's first guess
    (("打印", "扫描", "复印", "奔图", "惠普", "得力", "光电通", "LaserJet"), "打印与扫描"),
    (("WPS", "永中", "数科", "OFD", "办公"), "办公软件"),
    (("达梦", "金仓", "KingbaseES", "神通", "瀚高", "南大通用", "GBase", "数据库"), "数据库"),
    (("东方通", "TongWeb", "宝兰德", "中间件", "金蝶 Apusic"), "中间件"),
    (("浏览器", "插件", "奇安信可信浏览器", "360"), "浏览器与插件"),
    (("飞腾", "鲲鹏", "龙芯", "海光", "兆芯", "申威", "BIOS", "固件"), "处理器与固件"),
    (("CA", "Ukey", "UKey", "签章", "政务", "安全"), "安全与政务客户端"),
    (("麒麟", "统信", "UOS", "Kylin", "操作系统"), "桌面操作系统"),
)


# ---- platform accounts ------------------------------------------------------------------


def platform_user(s: Session, actor: Any, code: str) -> User:
    """The enterprise's platform account (``platform-<code>``, role reader), created if missing."""
    from kb import accounts

    org = s.scalar(select(Organisation).where(Organisation.code == (code or "").strip()))
    if org is None:
        raise NotFound(f"企业代码“{code}”不存在", fields={"platform": "企业不存在"})
    if org.kind != OrgKind.ENTERPRISE:
        raise Invalid(
            f"“{code}”不是入围企业，不能绑定服务平台令牌", fields={"platform": "只能是入围企业"}
        )
    link = s.scalar(select(PlatformAccount).where(PlatformAccount.organisation_id == org.id))
    if link is not None:
        user = s.get(User, link.user_id)
        if user is not None:
            return user
    username = f"platform-{org.code}"[:64]
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        from kb import passwords

        user = accounts.create_user(
            s,
            actor,
            username,
            passwords.generate(),  # never used: the platform signs in with its token
            Role.READER,
            org.code,
            f"{org.name} 服务保障平台",
        )
    elif user.organisation_id != org.id or user.role != Role.READER:
        raise Invalid(
            f"用户名“{username}”已被其他账号使用", fields={"platform": "平台账号名被占用"}
        )
    s.add(PlatformAccount(user_id=user.id, organisation_id=org.id))
    s.flush()
    audit.record(s, actor, "platform.account", "user", username, enterprise=org.code)
    return user


def platform_org(s: Session, user: Any) -> Organisation | None:
    """The enterprise a platform account speaks for, or None for anyone else."""
    if not policy.signed_in(user) or getattr(user, "id", None) is None:
        return None
    link = s.scalar(select(PlatformAccount).where(PlatformAccount.user_id == user.id))
    return s.get(Organisation, link.organisation_id) if link is not None else None


# ---- validation -------------------------------------------------------------------------


def parse_time(value: Any) -> datetime:
    """ISO 8601 with a UTC offset; raises ValueError with a Chinese message."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("应为 ISO 8601 时间文字，如 2025-03-01T09:30:00+08:00")
    text = value.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text):
        raise ValueError("应为 ISO 8601 时间，如 2025-03-01T09:30:00+08:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("不是有效的时间（格式或日期有误），如 2025-03-01T09:30:00+08:00") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("缺少时区，请写明 UTC 偏移，如 +08:00")
    return parsed


@dataclass
class TicketData:
    values: dict[str, Any]
    articles: list[str]


def validate(data: Any, now: datetime | None = None) -> TicketData:
    """Every problem of the posted body at once, each under its field name."""
    if not isinstance(data, dict):
        raise Invalid("请求体应为 JSON 对象", fields={"body": "应为 JSON 对象"})
    errors: dict[str, str] = {}
    status = 422
    for key in sorted(set(data) - FIELDS):
        errors[str(key)[:64]] = "无法识别的字段"
    for key in REQUIRED:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors[key] = "必填"
    values: dict[str, Any] = {}
    for key, (label, limit) in TEXTS.items():
        value = data.get(key)
        if key in errors or value is None:
            continue
        if not isinstance(value, str):
            errors[key] = f"{label}应为文字"
            continue
        value = value.replace("\r\n", "\n").strip()
        if len(value) > limit:
            errors[key] = f"{label}不能超过 {limit} 个字符"
        elif _CONTROL.search(value):
            errors[key] = f"{label}含有不可见的控制字符"
        else:
            values[key] = value
    if "ticket_no" in values and not _TICKET_NO.match(values["ticket_no"]):
        errors["ticket_no"] = (
            "工单编号只能由字母、数字和 - _ . : / # 组成，以字母或数字开头，最长 64 个字符"
        )
    if values.get("category") and values["category"] not in CATEGORIES:
        errors["category"] = "文章分类应为：" + "、".join(CATEGORIES)
    if values.get("contact_phone") and not _PHONE.match(values["contact_phone"]):
        errors["contact_phone"] = "联系电话只能含数字、+、-、括号和空格"
    for key, allowed, label in (
        ("channel", CHANNELS, "问题反馈渠道"),
        ("handling", HANDLINGS, "处理方式"),
        ("satisfaction", SATISFACTION, "客户满意度"),
    ):
        value = data.get(key)
        if key in errors or value is None:
            continue
        if value not in allowed:
            errors[key] = f"{label}应为：" + "、".join(allowed)
        else:
            values[key] = value
    solution = data.get("solution")
    if "solution" not in errors:
        if not isinstance(solution, str):
            errors["solution"] = "问题解决方案应为 Markdown 文字"
        elif len(solution.encode("utf-8", "surrogatepass")) > MAX_SOLUTION_BYTES:
            errors["solution"] = f"问题解决方案不能超过 {MAX_SOLUTION_BYTES // 1024} KB"
            status = 413
        elif _CONTROL.search(solution):
            errors["solution"] = "问题解决方案含有不可见的控制字符"
        else:
            values["solution"] = solution.replace("\r\n", "\n").strip()
    reviewed = data.get("user_reviewed")
    if reviewed is not None and not isinstance(reviewed, bool):
        errors["user_reviewed"] = "用户是否点评应为 true 或 false"
    values["user_reviewed"] = reviewed if isinstance(reviewed, bool) else None
    times: dict[str, datetime] = {}
    for key in TIMES:
        value = data.get(key)
        if key in errors or value is None:
            continue
        try:
            times[key] = parse_time(value)
        except ValueError as err:
            errors[key] = str(err)
    now = now or utcnow()
    order = (  # (earlier, later, message on the later field)
        ("reported_at", "accepted_at", "受理时间不能早于用户反馈时间"),
        ("reported_at", "created_at", "工单创建时间不能早于用户反馈时间"),
        ("onsite_responded_at", "onsite_arrived_at", "到场时间不能早于响应时间"),
        ("onsite_arrived_at", "onsite_completed_at", "完成时间不能早于到场时间"),
        ("reported_at", "closed_at", "问题闭环时间不能早于用户反馈时间"),
        ("created_at", "closed_at", "问题闭环时间不能早于工单创建时间"),
        ("onsite_completed_at", "closed_at", "问题闭环时间不能早于现场完成时间"),
    )
    for earlier, later, message in order:
        if (
            earlier in times
            and later in times
            and times[later] < times[earlier]
            and later not in errors
        ):
            errors[later] = message
    if "closed_at" in times and times["closed_at"] > now + CLOCK_SKEW and "closed_at" not in errors:
        errors["closed_at"] = "问题闭环时间在将来：只能提交已闭环的工单"
    values.update(times)
    slugs: list[str] = []
    cited = data.get("articles")
    if cited is not None:
        if not isinstance(cited, list) or not all(isinstance(x, str) for x in cited):
            errors["articles"] = "articles 应为文章标识（slug）的列表"
        elif len(cited) > MAX_ARTICLES:
            errors["articles"] = f"最多引用 {MAX_ARTICLES} 篇文章"
        else:
            slugs = list(dict.fromkeys(x.strip().lower() for x in cited if x.strip()))
            bad = [x for x in slugs if not SLUG_RE.match(x)]
            if bad:
                errors["articles"] = "文章标识格式不正确：" + "、".join(b[:80] for b in bad[:5])
    if errors:
        missing = [k for k, v in errors.items() if v == "必填"]
        head = ("缺少必填字段：" + "、".join(missing) + "。") if missing else ""
        raise Invalid(
            head + f"工单有 {len(errors)} 处问题，见 fields。", fields=errors, status=status
        )
    return TicketData(values, slugs)


# ---- personal data ----------------------------------------------------------------------

_PLACEHOLDERS = {
    "KB-PRIV-001": "【联系电话】",
    "KB-PRIV-002": "【联系电话】",
    "KB-PRIV-003": "【身份证号】",
    "KB-PRIV-004": "【电子邮箱】",
    "KB-PRIV-005": "192.0.2.10",
    "KB-PRIV-006": "【密码】",
    "KB-PRIV-007": "【访问令牌】",
    "KB-PRIV-008": "【激活码】",
}
# the datum starting at a finding's column: an ASCII run (full-width brackets of an area code
# allowed), with space- or hyphen-separated digit groups of a phone number
_TOKEN = re.compile(r"[!-~（）]+(?:[ \-][0-9][!-~（）]*)*")


def _placeholder(finding: Any) -> str:
    """Our own placeholder per rule: a finding's fix may be a masked value (still partly
    personal) or a whole corrected line, so it is not pasted in."""
    return _PLACEHOLDERS.get(finding.rule, "【个人信息已删除】")


def scrub(text: str, literal: dict[str, str] | None = None) -> tuple[str, int]:
    """Remove personal data found by the checker's KB-PRIV rules (and the given literal values).

    Returns the cleaned text and how many items were removed. Each finding's line and column
    mark where the datum starts; the ASCII run from there is replaced by a placeholder. A line
    that still reports personal data after a few passes is dropped, so nothing found survives.
    """
    from kb.checker import check

    removed = 0
    for value, placeholder in (literal or {}).items():
        if value and len(value) >= 2 and value in text:
            removed += text.count(value)
            text = text.replace(value, placeholder)
    for attempt in range(6):
        findings = [f for f in check(text).findings if f.rule.startswith("KB-PRIV") and f.line]
        if not findings:
            return text, removed
        lines = text.split("\n")
        if attempt == 5:
            for line_no in sorted({f.line for f in findings}, reverse=True):
                if 0 < line_no <= len(lines):
                    lines[line_no - 1] = "（此处含个人或敏感信息，已删除）"
                    removed += 1
            return "\n".join(lines), removed
        # right to left within a line so earlier columns stay valid
        for f in sorted(findings, key=lambda f: (f.line, f.column or 1), reverse=True):
            if not 0 < f.line <= len(lines):
                continue
            line = lines[f.line - 1]
            start = max((f.column or 1) - 1, 0)
            m = _TOKEN.search(line, start)
            if m is None:
                continue
            lines[f.line - 1] = line[: m.start()] + _placeholder(f) + line[m.end() :]
            removed += 1
        text = "\n".join(lines)
    return text, removed


# ---- storing a ticket -------------------------------------------------------------------


@dataclass
class Outcome:
    ticket: Ticket
    created: bool
    linked: list[str]
    draft: str | None


def _cited_articles(s: Session, user: Any, slugs: list[str]) -> list[Article]:
    found: list[Article] = []
    refused: list[str] = []
    for slug in slugs:
        article = s.scalar(select(Article).where(Article.slug == slug))
        if (
            article is None
            or article.status != "published"
            or not policy.can(user, Action.READ, article)
        ):
            refused.append(slug)
        else:
            found.append(article)
    if refused:
        raise Invalid(
            "以下文章不存在、未发布，或本企业无权查看，不能作为解决工单的文章引用："
            + "、".join(refused),
            fields={"articles": "不存在或无权查看：" + "、".join(refused)},
        )
    return found


def _slug_for(s: Session, org: Organisation, ticket_no: str) -> str:
    tail = re.sub(r"[^a-z0-9]+", "-", ticket_no.lower()).strip("-") or "x"
    base = f"ticket-{org.code}-{tail}"[:76].strip("-")
    slug, n = base, 1
    while (
        not SLUG_RE.match(slug)
        or s.scalar(select(Article.id).where(Article.slug == slug)) is not None
    ):
        n += 1
        slug = f"{base}-{n}"
    return slug


def _category(product: str, wanted: str | None) -> str:
    if wanted in CATEGORIES:
        return wanted  # type: ignore[return-value]
    lowered = product.lower()
    for words, category in CATEGORY_HINTS:
        if any(w.lower() in lowered for w in words):
            return category
    return "外部设备"


def _first_sentence(text: str, limit: int = 40) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^[#>*\-\d.\s]+", "", line)
    cut = re.split(r"[。！？!?；;]", line)[0]
    return cut[:limit].rstrip("，,、：: ")


def draft_for(ticket: Ticket, wanted_category: str | None = None) -> tuple[ArticleDraft, int]:
    """The 故障处理 draft a ticket's solution becomes, with personal data removed."""
    literal = {
        ticket.contact_name: "【联系人】",
        ticket.contact_phone: "【联系电话】",
        ticket.customer_org: "【用户单位】",
    }
    product, n1 = scrub(ticket.product, literal)
    symptom, n2 = scrub(ticket.symptom or "", literal)
    solution, n3 = scrub(ticket.solution, literal)
    headline = _first_sentence(symptom) or "故障"
    title = f"{product}：{headline}的处理方法" if symptom else f"{product} 故障的处理方法"
    month = ticket.closed_at.astimezone(CHINA).strftime("%Y 年 %m 月")
    body = (
        "## 现象\n\n"
        + (symptom or "（工单未记录问题现象，请根据处理过程补充读者能看到的现象。）")
        + "\n\n## 原因\n\n（请根据工单处理过程补充原因分析。）\n\n## 解决步骤\n\n"
        + solution
        + f"\n\n## 来源\n\n本文根据{month}闭环的服务工单"
        f"（{ticket.channel}受理，{ticket.handling}处理）整理，已删除其中的个人信息。\n"
    )
    draft = ArticleDraft(
        title=title[:200],
        type="故障处理",
        category=_category(product, wanted_category),
        visibility="public",
        body=body,
        products=[product[:100]],
        tags=["服务工单"],
        summary=(
            f"{product}出现“{headline}”时的处理方法（根据服务工单整理）。"
            if symptom
            else f"{product} 故障的处理方法（根据服务工单整理）。"
        )[:500],
    )
    return draft, n1 + n2 + n3


def upsert(s: Session, user: Any, data: Any) -> Outcome:
    """Store a posted ticket for the caller's enterprise (create or update); nothing on error."""
    org = platform_org(s, user)
    if org is None:
        raise Forbidden(
            "只有服务保障平台的令牌可以提交工单（kb token create --platform 企业代码）。"
        )
    parsed = validate(data)
    values = parsed.values
    claimed = values.pop("enterprise", None)
    if claimed is not None and claimed != org.code:
        raise Forbidden(
            f"此令牌绑定企业“{org.code}”，不能提交企业“{claimed}”的工单。",
            fields={"enterprise": f"令牌只能提交 {org.code} 的工单"},
        )
    cited = _cited_articles(s, user, parsed.articles)
    wanted_category = values.pop("category", None)
    ticket = s.scalar(
        select(Ticket).where(
            Ticket.enterprise_id == org.id, Ticket.ticket_no == values["ticket_no"]
        )
    )
    created = ticket is None
    now = utcnow()
    if ticket is None:
        ticket = Ticket(enterprise_id=org.id, ticket_no=values["ticket_no"], received_at=now)
        ticket.enterprise = org
        s.add(ticket)
    for key in (
        "customer_org",
        "channel",
        "reported_at",
        "accepted_at",
        "handling",
        "onsite_responded_at",
        "onsite_arrived_at",
        "onsite_completed_at",
        "product",
        "solution",
        "closed_at",
        "user_reviewed",
        "satisfaction",
    ):
        setattr(ticket, key, values.get(key))
    ticket.opened_at = values["created_at"]
    for key in ("contact_name", "contact_phone", "symptom", "follow_up"):
        setattr(ticket, key, values.get(key, ""))
    ticket.updated_at = now
    s.flush()
    # cited links: the posted list replaces the previous one
    old = {
        link.article_id: link
        for link in s.scalars(select(TicketArticle).where(TicketArticle.ticket_id == ticket.id))
    }
    wanted = {a.id for a in cited}
    for article_id, link in old.items():
        if article_id not in wanted:
            s.delete(link)
    for article in cited:
        if article.id not in old:
            s.add(TicketArticle(ticket_id=ticket.id, article_id=article.id))
    removed = 0
    if not cited and ticket.draft_article_id is None:
        from kb import articles as ops
        from kb.accounts import SYSTEM

        draft, removed = draft_for(ticket, wanted_category)
        draft.slug = _slug_for(s, org, ticket.ticket_no)
        article = ops.create(
            s,
            SYSTEM,
            draft,
            owner=org,
            message=f"由服务工单 {ticket.ticket_no} 生成（{user.username}）",
        )
        ticket.draft_article_id = article.id
        audit.record(
            s,
            user,
            "ticket.draft",
            "article",
            article.slug,
            ticket=ticket.ticket_no,
            removed=removed,
        )
    audit.record(
        s,
        user,
        "ticket.create" if created else "ticket.update",
        "ticket",
        f"{org.code}/{ticket.ticket_no}",
        cited=[a.slug for a in cited],
    )
    s.flush()
    return Outcome(ticket, created, linked_slugs(s, ticket), draft_slug(s, ticket))


def linked_slugs(s: Session, ticket: Ticket) -> list[str]:
    """Articles the ticket links to: those it cites, and its own draft once published."""
    slugs = list(
        s.scalars(
            select(Article.slug)
            .join(TicketArticle, TicketArticle.article_id == Article.id)
            .where(TicketArticle.ticket_id == ticket.id)
            .order_by(Article.slug)
        )
    )
    if ticket.draft_article_id is not None:
        article = s.get(Article, ticket.draft_article_id)
        if (
            article is not None
            and article.published_revision_id is not None
            and article.slug not in slugs
        ):
            slugs.append(article.slug)
    return slugs


def draft_slug(s: Session, ticket: Ticket) -> str | None:
    if ticket.draft_article_id is None:
        return None
    article = s.get(Article, ticket.draft_article_id)
    return article.slug if article is not None else None


# ---- what an article shows ----------------------------------------------------------------


@dataclass
class Solved:
    count: int
    products: list[str]
    months: list[str]


def tickets_for(s: Session, article: Article) -> list[Ticket]:
    cited = select(TicketArticle.ticket_id).where(TicketArticle.article_id == article.id)
    query = select(Ticket).where(Ticket.id.in_(cited))
    tickets = list(s.scalars(query))
    if article.published_revision_id is not None:
        seen = {t.id for t in tickets}
        tickets += [
            t
            for t in s.scalars(select(Ticket).where(Ticket.draft_article_id == article.id))
            if t.id not in seen
        ]
    return tickets


def solved(s: Session, article: Article) -> Solved:
    """已帮助解决 N 个工单: the count, product models and months; never who or which unit."""
    tickets = tickets_for(s, article)
    products = sorted({t.product for t in tickets})
    months = sorted({t.closed_at.astimezone(CHINA).strftime("%Y-%m") for t in tickets})
    return Solved(len(tickets), products, months)


def source_ticket(s: Session, article: Article) -> Ticket | None:
    return s.scalar(select(Ticket).where(Ticket.draft_article_id == article.id))


def _ticket_scope(s: Session, user: Any) -> Any:
    """Whose tickets ``user`` may see: ``policy.ALL``, one enterprise's id (a service
    platform's account sees its own platform's), or None (nobody's)."""
    scope = policy.desk_scope(user)
    if scope == policy.ALL:
        return policy.ALL
    org = platform_org(s, user)
    return org.id if org is not None else scope


def visible_tickets(s: Session, user: Any, limit: int = 200) -> list[Ticket]:
    query = select(Ticket).order_by(Ticket.closed_at.desc()).limit(limit)
    scope = _ticket_scope(s, user)
    if scope == policy.ALL:
        return list(s.scalars(query))
    if scope is None:
        raise Forbidden("只有本企业编辑、服务平台和数据局审核员可以查看工单。")
    return list(s.scalars(query.where(Ticket.enterprise_id == scope)))


def visible_ticket(s: Session, user: Any, ticket_id: int) -> Ticket:
    """One ticket under the rule of ``visible_tickets`` (contact details included: whoever
    may see a ticket sees all of it, as in the API); 404 when it is not the user's to see."""
    ticket = s.get(Ticket, ticket_id)
    scope = _ticket_scope(s, user) if ticket is not None else None
    mine = scope is not None and (scope == policy.ALL or ticket.enterprise_id == scope)
    if ticket is None or not mine:
        raise NotFound("工单不存在，或您无权查看。")
    return ticket


def articles_of(s: Session, user: Any, ticket: Ticket) -> tuple[list[Article], Article | None]:
    """The articles a ticket cites and the draft it produced, as far as ``user`` may see them."""
    cited = list(
        s.scalars(
            select(Article)
            .join(TicketArticle, TicketArticle.article_id == Article.id)
            .where(TicketArticle.ticket_id == ticket.id)
            .order_by(Article.title)
        )
    )
    readable = [
        a
        for a in cited
        if policy.can(user, Action.READ, a) or policy.can(user, Action.READ_WORK, a)
    ]
    draft = s.get(Article, ticket.draft_article_id) if ticket.draft_article_id else None
    if draft is not None and not (
        policy.can(user, Action.READ, draft) or policy.can(user, Action.READ_WORK, draft)
    ):
        draft = None
    return readable, draft


def ticket_json(s: Session, ticket: Ticket) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "ticket_no": ticket.ticket_no,
        "enterprise": ticket.enterprise.code,
        "customer_org": ticket.customer_org,
        "contact_name": ticket.contact_name,
        "contact_phone": ticket.contact_phone,
        "channel": ticket.channel,
        "reported_at": iso(ticket.reported_at),
        "accepted_at": iso(ticket.accepted_at),
        "created_at": iso(ticket.opened_at),
        "handling": ticket.handling,
        "onsite_responded_at": iso(ticket.onsite_responded_at),
        "onsite_arrived_at": iso(ticket.onsite_arrived_at),
        "onsite_completed_at": iso(ticket.onsite_completed_at),
        "product": ticket.product,
        "symptom": ticket.symptom,
        "solution": ticket.solution,
        "closed_at": iso(ticket.closed_at),
        "user_reviewed": ticket.user_reviewed,
        "satisfaction": ticket.satisfaction,
        "follow_up": ticket.follow_up,
        "linked": linked_slugs(s, ticket),
        "draft": draft_slug(s, ticket),
    }
