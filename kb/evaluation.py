"""Evaluation items 13 and 14 of the service-guarantee evaluation (seed 000, 五、知识库能力):

- 13 是否建立了服务保障知识库，汇聚常见服务问题、疑难问题、解决方案、操作指南等内容。
- 14 是否面向用户开放共享知识库。

Each is judged 是 / 否 / 不涉及 for one 入围企业 and a calendar year, or for the whole province
(all enterprises' articles pooled, ``enterprise`` null, plus how many enterprises got each
verdict). The evidence is counted from the records, the thresholds are the curators' (stored
in the Setting table) and every 否 comes with an 整改建议 naming what fell short.

Rules (a criterion whose figure has nothing to count, e.g. no tickets in the year, passes):
- 不涉及: the enterprise did not exist yet at the end of the year (for the province: no
  enterprise did).
- 13 是 when: published articles ≥ min_published; of the seed's four kinds of content
  (常见问题, 疑难问题, 解决方案 = 故障处理, 操作指南) at least min_kinds present; articles added or
  updated in the year ≥ min_changed; share passing the checker ≥ min_check_pass; share fresh
  (review date not passed at the end of the year) ≥ min_fresh.
- 14 是 when: at least one published article; share open to procurement units (公开 + 登录可见)
  ≥ min_open; reads by procurement-unit users in the year ≥ min_unit_reads; share of the
  year's revision requests answered within the deadline ≥ min_answered; share of the year's
  tickets linked to an article ≥ min_linked.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import audit, feedback, reads
from kb.errors import Invalid
from kb.frontmatter import TYPES
from kb.models import (
    Article,
    Organisation,
    RevisionRequest,
    Setting,
    Ticket,
    TicketArticle,
    utcnow,
)
from kb.permissions.roles import OrgKind, Visibility
from kb.reports import (
    Period,
    enterprise,
    first_published,
    parse_year,
    publications,
    require_curator,
)
from kb.web import CHINA

SETTING_KEY = "evaluation.thresholds"
YES, NO, NA = "是", "否", "不涉及"
ITEM_TITLES = {
    13: "是否建立了服务保障知识库，汇聚常见服务问题、疑难问题、解决方案、操作指南等内容",
    14: "是否面向用户开放共享知识库",
}
# The seed's kinds of content and the article types that hold them.
KINDS: dict[str, tuple[str, ...]] = {
    "常见问题": ("常见问题",),
    "疑难问题": ("疑难问题",),
    "解决方案": ("故障处理",),
    "操作指南": ("操作指南",),
}
# name: (default, label, kind) — kind "n" a count, "%" a share between 0 and 1
THRESHOLDS: dict[str, tuple[float, str, str]] = {
    "min_published": (10, "已发布文章不少于（篇）", "n"),
    "min_kinds": (3, "涵盖内容种类不少于（种，共 4 种）", "n"),
    "min_changed": (1, "年内新增或更新不少于（篇）", "n"),
    "min_check_pass": (0.9, "通过内容检查的比例不低于", "%"),
    "min_fresh": (0.8, "未过复核日期的比例不低于", "%"),
    "min_open": (0.8, "向采购单位开放（公开+登录可见）的比例不低于", "%"),
    "min_unit_reads": (10, "采购单位用户年内阅读不少于（次）", "n"),
    "min_answered": (0.8, "修订请求按期答复的比例不低于", "%"),
    "min_linked": (0.5, "工单关联文章的比例不低于", "%"),
}


# ---- thresholds ------------------------------------------------------------------------------


def thresholds(s: Session) -> dict[str, float]:
    values = {k: v[0] for k, v in THRESHOLDS.items()}
    row = s.get(Setting, SETTING_KEY)
    if row is not None:
        try:
            stored = json.loads(row.value)
        except ValueError:
            stored = {}
        values.update({k: v for k, v in stored.items() if k in values})
    return values


def save_thresholds(s: Session, actor: Any, form: dict[str, Any]) -> dict[str, float]:
    """Store the curators' thresholds; shares are given in per cent (0–100) on the form."""
    require_curator(actor)
    errors: dict[str, str] = {}
    values: dict[str, float] = {}
    for name, (_default, label, kind) in THRESHOLDS.items():
        raw = str(form.get(name, "")).strip()
        try:
            number = float(raw)
        except ValueError:
            errors[name] = f"{label}：应为数字"
            continue
        if kind == "%":
            if not 0 <= number <= 100:
                errors[name] = f"{label}：应在 0～100 之间"
                continue
            values[name] = round(number / 100, 4)
        else:
            if number < 0 or number != int(number) or number > 1_000_000:
                errors[name] = f"{label}：应为不小于 0 的整数"
                continue
            values[name] = int(number)
    if errors:
        raise Invalid("评价阈值填写有误：" + "；".join(errors.values()), fields=errors)
    before = thresholds(s)
    text = json.dumps(values, ensure_ascii=False)
    row = s.get(Setting, SETTING_KEY)
    if row is None:
        s.add(Setting(key=SETTING_KEY, value=text, updated_at=utcnow()))
    else:
        row.value, row.updated_at = text, utcnow()
    audit.record(
        s, actor, "evaluation.settings", "setting", SETTING_KEY, before=before, after=values
    )
    return values


# ---- evidence --------------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _passes_checker(s: Session, articles: list[Article], cache: dict[int, bool]) -> int:
    """How many published revisions have no blocking finding (duplicates not compared).
    ``cache`` (revision id → passed) spares re-checking when the province and every
    enterprise are judged in one go."""
    from kb.checker import check, context_from_db

    base = None
    passed = 0
    for a in articles:
        revision = a.published_revision
        if revision is None:
            continue
        if revision.id not in cache:
            base = base or context_from_db(s, None, duplicates=False)
            cache[revision.id] = not check(
                revision.source, replace(base, self_slug=a.slug)
            ).has_errors
        passed += cache[revision.id]
    return passed


def evidence(
    s: Session, period: Period, owner_ids: list[int], cache: dict[int, bool] | None = None
) -> dict[str, Any]:
    """The figures of both items for the articles, requests and tickets of ``owner_ids``."""
    history = publications(s)
    articles = [
        a
        for a in s.scalars(
            select(Article)
            .where(Article.status == "published", Article.owner_id.in_(owner_ids or [0]))
            .order_by(Article.slug)
        )
        if (first_published(a, history) or period.end) < period.end
    ]
    by_type = {t: 0 for t in TYPES}
    for a in articles:
        by_type[a.type] = by_type.get(a.type, 0) + 1
    kinds = [k for k, types in KINDS.items() if any(by_type.get(t) for t in types)]
    added = updated = 0
    for a in articles:
        events = history.get(a.slug, [])
        first = first_published(a, history)
        if first is not None and period.start <= first < period.end:
            added += 1
        elif any(period.start <= at < period.end for at in events[1:]):
            updated += 1
    ref = period.reference_day()
    fresh = sum(1 for a in articles if a.review_by is None or a.review_by >= ref)
    passed = _passes_checker(s, articles, {} if cache is None else cache)
    open_ = sum(1 for a in articles if a.visibility in (Visibility.PUBLIC, Visibility.REGISTERED))
    unit_reads = sum(
        reads.totals(s, period.first, period.last, owner_id=o, org_kind=OrgKind.UNIT)
        for o in owner_ids
    )
    # revision requests of the year: answered within the deadline, among those already due
    limit, holidays, workdays = feedback.calendar()
    on_time = due_count = 0
    for req in s.scalars(
        select(RevisionRequest).where(
            RevisionRequest.owner_id.in_(owner_ids or [0]),
            RevisionRequest.created_at >= period.start,
            RevisionRequest.created_at < period.end,
        )
    ):
        due = feedback.due_date(req.created_at.astimezone(CHINA).date(), limit, holidays, workdays)
        answered = req.status != "open" and req.closed_at is not None
        if answered:
            due_count += 1
            on_time += req.closed_at.astimezone(CHINA).date() <= due
        elif ref > due:  # still open after its deadline
            due_count += 1
    tickets = list(
        s.scalars(
            select(Ticket).where(
                Ticket.enterprise_id.in_(owner_ids or [0]),
                Ticket.closed_at >= period.start,
                Ticket.closed_at < period.end,
            )
        )
    )
    cited = {
        t
        for (t,) in s.execute(
            select(TicketArticle.ticket_id).where(
                TicketArticle.ticket_id.in_([t.id for t in tickets] or [0])
            )
        )
    }
    linked = sum(
        1
        for t in tickets
        if t.id in cited
        or (t.draft_article is not None and t.draft_article.published_revision_id is not None)
    )
    return {
        "13": {
            "published": len(articles),
            "by_type": by_type,
            "kinds_covered": kinds,
            "added": added,
            "updated": updated,
            "passing_checker": passed,
            "passing_checker_share": _share(passed, len(articles)),
            "fresh": fresh,
            "fresh_share": _share(fresh, len(articles)),
            "reference_day": ref.isoformat(),
        },
        "14": {
            "published": len(articles),
            "open_to_units": open_,
            "open_share": _share(open_, len(articles)),
            "reads_by_units": unit_reads,
            "requests_due": due_count,
            "requests_answered_on_time": on_time,
            "answered_share": _share(on_time, due_count),
            "tickets_closed": len(tickets),
            "tickets_linked": linked,
            "linked_share": _share(linked, len(tickets)),
        },
    }


# ---- verdicts --------------------------------------------------------------------------------


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def _check(name: str, value: float | None, limit: float, shown: str) -> dict[str, Any]:
    _default, label, kind = THRESHOLDS[name]
    passed = True if value is None else value >= limit  # nothing to count: nothing failed
    return {
        "name": name,
        "label": label,
        "value": value,
        "shown": shown,
        "threshold": limit,
        "threshold_shown": _pct(limit) if kind == "%" else f"{limit:g}",
        "passed": bool(passed),
    }


ADVICE = {
    "min_published": (
        "已发布文章 {v} 篇，未达 {t} 篇："
        "请把日常服务中的常见问题、故障处理和操作指南整理成文章提交审核"
    ),
    "min_kinds": ("内容种类只有 {v} 种（{k}），未达 {t} 种：请补充缺少的种类（{m}）"),
    "min_changed": (
        "年内新增或更新 {v} 篇，未达 {t} 篇：请定期更新知识库，纳入新产品、新版本和闭环工单的经验"
    ),
    "min_check_pass": ("通过内容检查的文章占 {v}，低于 {t}：请按检查器提示修订未通过的文章"),
    "min_fresh": (
        "未过复核日期的文章占 {v}，低于 {t}：请复核“需复审”列表中的过期文章，修订或确认无误"
    ),
    "min_open": (
        "向采购单位开放的文章占 {v}，低于 {t}：除确需保密的内容外，请将文章设为公开或登录可见"
    ),
    "min_unit_reads": (
        "采购单位用户年内阅读 {v} 次，未达 {t} 次："
        "请在服务热线、工单回复和培训中向采购单位推荐知识库文章"
    ),
    "min_answered": ("修订请求按期答复占 {v}，低于 {t}：请在期限内修订文章或答复反馈人"),
    "min_linked": (
        "闭环工单关联文章占 {v}，低于 {t}：工单闭环时请引用解决问题的文章，或将解决方案转化为新文章"
    ),
}


def _advice(checks: list[dict[str, Any]], ev: dict[str, Any]) -> str | None:
    failed = [c for c in checks if not c["passed"]]
    if not failed:
        return None
    lines = []
    for c in failed:
        missing = [k for k in KINDS if k not in ev.get("kinds_covered", [])]
        lines.append(
            ADVICE[c["name"]].format(
                v=c["shown"],
                t=c["threshold_shown"],
                k="、".join(ev.get("kinds_covered", [])) or "无",
                m="、".join(missing),
            )
        )
    return "；".join(lines) + "。"


def judge(ev: dict[str, Any], th: dict[str, float], applicable: bool) -> list[dict[str, Any]]:
    """Items 13 and 14 from their evidence: verdict, evidence with the checks, advice."""
    e13, e14 = ev["13"], ev["14"]
    checks13 = [
        _check("min_published", e13["published"], th["min_published"], str(e13["published"])),
        _check(
            "min_kinds", len(e13["kinds_covered"]), th["min_kinds"], str(len(e13["kinds_covered"]))
        ),
        _check(
            "min_changed",
            e13["added"] + e13["updated"],
            th["min_changed"],
            str(e13["added"] + e13["updated"]),
        ),
        _check(
            "min_check_pass",
            e13["passing_checker_share"] or 0.0,
            th["min_check_pass"],
            _pct(e13["passing_checker_share"]),
        ),
        _check("min_fresh", e13["fresh_share"] or 0.0, th["min_fresh"], _pct(e13["fresh_share"])),
    ]
    checks14 = [
        _check("min_open", e14["open_share"] or 0.0, th["min_open"], _pct(e14["open_share"])),
        _check(
            "min_unit_reads",
            e14["reads_by_units"],
            th["min_unit_reads"],
            str(e14["reads_by_units"]),
        ),
        _check(
            "min_answered", e14["answered_share"], th["min_answered"], _pct(e14["answered_share"])
        ),
        _check("min_linked", e14["linked_share"], th["min_linked"], _pct(e14["linked_share"])),
    ]
    items = []
    for number, e, checks in ((13, e13, checks13), (14, e14, checks14)):
        if not applicable:
            verdict, advice = NA, None
        else:
            ok = all(c["passed"] for c in checks) and (number == 13 or e["published"] > 0)
            verdict = YES if ok else NO
            advice = (
                None
                if ok
                else (_advice(checks, e) or "尚无已发布的文章：请先建设知识库并向采购单位开放。")
            )
        items.append(
            {
                "item": number,
                "verdict": verdict,
                "evidence": {**e, "checks": checks},
                "advice": advice,
            }
        )
    return items


def _enterprises(s: Session) -> list[Organisation]:
    return list(
        s.scalars(
            select(Organisation)
            .where(Organisation.kind == OrgKind.ENTERPRISE)
            .order_by(Organisation.code)
        )
    )


def _existed(org: Organisation, period: Period) -> bool:
    return org.created_at < period.end


def evaluate(
    s: Session,
    actor: Any,
    year: str | None,
    code: str | None,
    cache: dict[int, bool] | None = None,
) -> dict[str, Any]:
    """``{"enterprise", "year", "items"}`` for one enterprise, or the province when ``code`` is
    empty (then ``enterprise`` is null and each item's evidence also counts the enterprises by
    verdict under ``enterprises``)."""
    require_curator(actor)
    period = parse_year(year)
    th = thresholds(s)
    cache = {} if cache is None else cache
    org = enterprise(s, code)
    if org is not None:
        items = judge(evidence(s, period, [org.id], cache), th, _existed(org, period))
        return {"enterprise": org.code, "year": period.first.year, "items": items}
    orgs = [o for o in _enterprises(s) if _existed(o, period)]
    items = judge(evidence(s, period, [o.id for o in orgs], cache), th, bool(orgs))
    tally: dict[int, dict[str, int]] = {13: {YES: 0, NO: 0, NA: 0}, 14: {YES: 0, NO: 0, NA: 0}}
    for o in _enterprises(s):
        for it in judge(evidence(s, period, [o.id], cache), th, _existed(o, period)):
            tally[it["item"]][it["verdict"]] += 1
    for it in items:
        it["evidence"]["enterprises"] = tally[it["item"]]
    return {"enterprise": None, "year": period.first.year, "items": items}


def overview(s: Session, actor: Any, year: str | None, code: str | None = None) -> dict[str, Any]:
    """The page: the province and every enterprise (or only ``code``), with the thresholds."""
    require_curator(actor)
    only = enterprise(s, code)
    cache: dict[int, bool] = {}
    province = evaluate(s, actor, year, None, cache)
    rows = []
    for o in [only] if only is not None else _enterprises(s):
        result = evaluate(s, actor, str(province["year"]), o.code, cache)
        rows.append({"code": o.code, "name": o.name, **result})
    return {
        "year": province["year"],
        "province": province,
        "enterprises": rows,
        "only": only.code if only is not None else None,
        "thresholds": thresholds(s),
    }


def sheets(data: dict[str, Any]) -> list[tuple[str, list[list[Any]]]]:
    """The evaluation as sheets for CSV/XLSX: one row per enterprise and item, then the checks."""
    summary: list[list[Any]] = [["企业代码", "企业名称", "评价项", "结论", "整改建议"]]
    checks: list[list[Any]] = [["企业代码", "评价项", "指标", "实际", "阈值", "是否达到"]]
    units = [
        ("", "全区", data["province"]),
        *((e["code"], e["name"], e) for e in data["enterprises"]),
    ]
    for code, name, result in units:
        for it in result["items"]:
            summary.append([code or "全区", name, it["item"], it["verdict"], it["advice"] or ""])
            for c in it["evidence"]["checks"]:
                checks.append(
                    [
                        code or "全区",
                        it["item"],
                        c["label"],
                        c["shown"],
                        c["threshold_shown"],
                        "是" if c["passed"] else "否",
                    ]
                )
    return [(f"{data['year']} 年评价项 13、14", summary), ("评价依据", checks)]
