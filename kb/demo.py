"""Sample activity for a fresh demo database, so ``make run`` shows both loops alive.

``kb init --demo`` calls ``populate_loops`` only when it has just filled an empty database
with the sample articles: closed tickets posted by the demo enterprise's service platform
(two citing the articles that solved them, one turned into a draft article), readers' votes,
and one open revision request. Everything goes through the real operations (ticket upsert,
vote), so it is audited and indexed like real use. The people and numbers are invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import feedback, tickets
from kb.accounts import SYSTEM
from kb.models import Article, User, utcnow
from kb.web import CHINA

ENTERPRISE = "demo"
READER = "reader"


@dataclass
class Created:
    tickets: int = 0
    drafts: int = 0
    votes: int = 0
    requests: int = 0


def _when(days_ago: float, hours: float = 0) -> str:
    moment = utcnow() - timedelta(days=days_ago) + timedelta(hours=hours)
    return moment.astimezone(CHINA).isoformat(timespec="minutes")


def _ticket(no: str, days_ago: float, **fields: Any) -> dict[str, Any]:
    return {
        "ticket_no": no,
        "customer_org": "示例市政务服务中心",
        "contact_name": "陆晓岚",
        "contact_phone": "0771-5550123",
        "channel": "电话",
        "reported_at": _when(days_ago),
        "accepted_at": _when(days_ago, 0.1),
        "created_at": _when(days_ago, 0.2),
        "handling": "线上",
        "closed_at": _when(days_ago, 3),
        "user_reviewed": True,
        "satisfaction": "满意",
        **fields,
    }


TICKETS = (
    (
        "DEMO-2026-0001",
        9,
        {
            "product": "惠普 LaserJet Pro M1136 MFP",
            "symptom": "打印机显示脱机，打印任务停在队列中。",
            "solution": "按知识库文章删除旧队列、重新添加打印机后恢复。",
            "articles": ["kylin-hp-m1136-offline"],
        },
    ),
    (
        "DEMO-2026-0002",
        5,
        {
            "product": "龙脉 mToken GM3000",
            "symptom": "插入 UKey 后政务系统提示未检测到证书。",
            "solution": "重新安装证书助手并重启 pcscd 服务后识别正常。",
            "articles": ["ukey-not-recognized"],
            "handling": "线下",
            "satisfaction": "非常满意",
        },
    ),
    (
        "DEMO-2026-0003",
        2,
        {
            "product": "奔图 M6202",
            "symptom": "统信 UOS 打印中文文档时部分文字显示为方框。",
            "solution": (
                "1. 在打印机属性中把“字体下载方式”改为“位图”。\n"
                "2. 安装文泉驿正黑字体后重新打印测试页，中文显示正常。\n"
            ),
            # cites nothing: its solution becomes a draft article for the enterprise's editors
        },
    ),
)
# (article, helpful) by anonymous visitors, one browser each; only 有帮助, since a 没帮助 needs
# a reason and every reason opens a revision request (the demo has exactly one, below)
VISITOR_VOTES = (
    ("kylin-hp-m1136-offline", True),
    ("kylin-hp-m1136-offline", True),
    ("kylin-hp-m1136-offline", True),
    ("ukey-not-recognized", True),
    ("wps-export-pdf", True),
    ("wps-export-pdf", True),
)
OPEN_REQUEST = (
    "uos-pantum-m6202-driver",
    "内容过时",
    "统信 UOS 1070 上驱动安装界面已经变了，第 3 步找不到“添加打印机”按钮。",
)


def populate_loops(s: Session) -> Created:
    """Tickets, votes and one open revision request on the sample articles (caller commits)."""
    made = Created()
    slugs = {a.slug: a for a in s.scalars(select(Article).where(Article.status == "published"))}
    platform = tickets.platform_user(s, SYSTEM, ENTERPRISE)
    for no, days_ago, fields in TICKETS:
        cited = [slug for slug in fields.get("articles", []) if slug in slugs]
        if fields.get("articles") and not cited:
            continue  # the sample article it cites is not in this set
        body = _ticket(no, days_ago, **{**fields, "articles": cited})
        outcome = tickets.upsert(s, platform, body)
        made.tickets += 1
        made.drafts += outcome.draft is not None
    for n, (slug, helpful) in enumerate(VISITOR_VOTES):
        if slug in slugs:
            feedback.vote(s, None, slugs[slug], helpful=helpful, visitor_id=f"demo-visitor-{n}")
            made.votes += 1
    reader = s.scalar(select(User).where(User.username == READER))
    slug, reason, comment = OPEN_REQUEST
    if reader is not None and slug in slugs:
        fb = feedback.vote(s, reader, slugs[slug], helpful=False, reason=reason, comment=comment)
        made.votes += 1
        made.requests += fb.request_id is not None
    return made
