"""API handlers of the bureau's desk (issue 11): articles due for review, evaluation items
13/14 and the 月报. The operations (kb/freshness.py, kb/evaluation.py, kb/reports.py) decide who
may see them; everyone but curators (and, for 需复审, editors) gets 404."""

from __future__ import annotations

from kb import db, evaluation, freshness, reports
from kb.api import models as m
from kb.api import operation, query, require_user, respond


@operation(
    "GET",
    "/review-due",
    summary="需复审：30 天内到期或已过复审日期的已发布文章（编辑见本企业，审核员见全部）",
    query=m.ReviewDueQuery,
    response=m.ReviewDue,
    auth=True,
)
def review_due():  # type: ignore[no-untyped-def]
    user = require_user()
    args = query(m.ReviewDueQuery)
    items = freshness.due(db.session(), user, sort=args.sort or "date")
    return respond(
        m.ReviewDue,
        {
            "today": freshness.china_today().isoformat(),
            "within_days": freshness.DUE_WITHIN_DAYS,
            "total": len(items),
            "results": [i.as_dict() for i in items],
        },
    )


@operation(
    "GET",
    "/evaluation",
    summary="评价项 13、14（审核员）；不带 enterprise 时为全区（enterprise 为 null，"
    "evidence.enterprises 为各结论的企业数）",
    query=m.EvaluationQuery,
    response=m.Evaluation,
    auth=True,
)
def api_evaluation():  # type: ignore[no-untyped-def]
    user = require_user()
    args = query(m.EvaluationQuery)
    result = evaluation.evaluate(db.session(), user, args.year, args.enterprise)
    return respond(m.Evaluation, result)


@operation(
    "GET",
    "/reports/monthly",
    summary="月报（审核员）：本月与上月的各项指标；CSV/XLSX 见 /reports/monthly?format=csv|xlsx",
    query=m.MonthlyQuery,
    response=m.Monthly,
    auth=True,
)
def api_monthly():  # type: ignore[no-untyped-def]
    user = require_user()
    args = query(m.MonthlyQuery)
    report = reports.monthly(db.session(), user, args.month, args.enterprise)
    return respond(m.Monthly, report)
