"""API paths added by later features (search, checker, feedback, tickets), kept apart so each
feature registers its own description."""

from __future__ import annotations

from typing import Any


def extra_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    paths.update(_search_paths())
    paths.update(_loop_paths())
    paths.update(_checker_paths())
    paths.update(_bureau_paths())
    return paths


def _bureau_paths() -> dict[str, Any]:
    """Issue 11: freshness, evaluation items 13/14 and the 月报 (curators; others get 404)."""
    from kb.openapi import _op

    evaluation = _op(
        "评价项 13、14（审核员）：{enterprise, year, items: [{item, verdict: 是|否|不涉及, "
        "evidence: {…, checks: [{name, label, value, threshold, passed}]}, advice}]}；"
        "不带 enterprise 时为全区（enterprise 为 null，evidence.enterprises 为各结论的企业数）",
        params=["enterprise", "year"],
        auth=True,
    )
    return {
        "/review-due": {
            "get": _op(
                "需复审：30 天内到期或已过复审日期的已发布文章（编辑见本企业，审核员见全部）："
                "{today, within_days, total, results: [{slug, title, enterprise, review_by, "
                "days_left, overdue}]}",
                params=["sort"],
                auth=True,
            )
        },
        "/articles/{slug}/confirm": {
            "post": _op(
                "复核无误（所属企业编辑或审核员）：复审日期顺延，返回 {slug, review_by, stale}",
                params=["{slug}"],
                auth=True,
            )
        },
        "/evaluation": {"get": evaluation},
        "/reports/monthly": {
            "get": _op(
                "月报（审核员）：本月与上月的各项指标 {month, previous_month, enterprise, rows, "
                "current, previous}；CSV/XLSX 见 /reports/monthly?format=csv|xlsx",
                params=["month", "enterprise"],
                auth=True,
            )
        },
    }


def _checker_paths() -> dict[str, Any]:
    """Issue 4: the content checker, the same one the editor and submission use."""
    from kb.openapi import _op

    op = _op(
        "内容检查：请求体为文章 Markdown（含 front matter），"
        "或 JSON {source} / {markdown, 各字段}；"
        "返回 {findings: [{rule, severity, line, column, message, fix}]}",
        params=["slug"],
        body="text/markdown",
        auth=True,
    )
    op["requestBody"]["content"]["application/json"] = {"schema": {"type": "object"}}
    return {"/check": {"post": op}}


def _search_paths() -> dict[str, Any]:
    """Issue 3: search and type-ahead, permission-scoped like the pages."""
    from kb.openapi import _op

    return {
        "/search": {
            "get": _op(
                "搜索：返回 query、total、page、per_page、results、facets、suggestion",
                params=[
                    "q",
                    "type",
                    "category",
                    "product",
                    "enterprise",
                    "sort",
                    "page",
                    "per_page",
                ],
            )
        },
        "/suggest": {"get": _op("输入提示：{suggestions: [{text, slug}]}", params=["q"])},
    }


def _loop_paths() -> dict[str, Any]:
    """Issue 5: feedback, revision requests, tickets and figures."""
    from kb.openapi import _op

    slug, rid, JSON = "{slug}", "{request_id}", "application/json"
    return {
        "/articles/{slug}/feedback": {
            "post": _op(
                "评价文章：{helpful, reason, comment}；没帮助并给出原因时开启修订请求",
                params=[slug],
                body="application/json",
                ok="201",
            ),
        },
        "/feedback/mine": {"get": _op("我的反馈及处理状态、答复", auth=True)},
        "/requests": {"get": _op("修订请求列表（按权限）", params=["status"], auth=True)},
        "/requests/{request_id}/decline": {
            "post": _op("不修改，答复反馈人：{reply}", params=[rid], body=JSON, auth=True)
        },
        "/requests/{request_id}/reassign": {
            "post": _op("指派给企业编辑（审核员）：{assignee}", params=[rid], body=JSON, auth=True)
        },
        "/requests/{request_id}/escalate": {
            "post": _op("督办（审核员）：{note}", params=[rid], body=JSON, auth=True)
        },
        "/tickets": {
            "post": _op(
                "服务平台提交闭环工单（新建 201，更新 200）", body=JSON, ok="201", auth=True
            ),
            "get": _op("工单记录（本企业编辑、服务平台、审核员）", auth=True),
        },
        "/stats": {"get": _op("闭环统计：关联率、工单转化文章、复用、评价、修订请求", auth=True)},
    }
