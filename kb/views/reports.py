"""The bureau's report pages (issue 11): 月报, evaluation items 13/14 and their thresholds,
as printable HTML or (``format=csv|xlsx``) a file; their JSON twins are in kb/api/bureau.py.
Only curators (and administrators) see them; everyone else gets 404. A bearer token works
here as in the API, so the bureau's scripts can fetch each month's files."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for

from kb import charts, db, evaluation, exports, reports
from kb.errors import Invalid, KbError
from kb.views.util import actor

bp = Blueprint("reports", __name__)

FORMATS = ("html", "csv", "xlsx")


def export_format() -> str:
    fmt = request.args.get("format") or "html"
    if fmt not in FORMATS:
        raise Invalid("format 应为 csv 或 xlsx", fields={"format": "应为 csv 或 xlsx"})
    return fmt


def send(sheets: list, fmt: str, name: str) -> Response:
    """A CSV/XLSX download named ``name`` (ASCII: it goes into a header as is)."""
    return Response(
        exports.render(sheets, fmt),
        mimetype=exports.MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


@bp.get("/reports/monthly")
def monthly():  # type: ignore[no-untyped-def]
    fmt = export_format()
    s = db.session()
    code = request.args.get("enterprise") or None
    report = reports.monthly(s, actor(), request.args.get("month"), code)
    if fmt != "html":
        name = f"kb-monthly-{report['month']}" + (f"-{code}" if code else "")
        return send(reports.monthly_sheets(report), fmt, name)
    rows = {r["key"]: r for r in report["rows"]}

    def pair(keys: list[str]) -> tuple[list[str], list, list]:
        return (
            [rows[k]["label"] for k in keys],
            [rows[k]["current"] for k in keys],
            [rows[k]["previous"] for k in keys],
        )

    def pct_pair(keys: list[str]) -> tuple[list[str], list, list]:
        labels, now, before = pair(keys)
        scale = lambda v: None if v is None else round(v * 100, 1)  # noqa: E731
        return labels, [scale(v) for v in now], [scale(v) for v in before]

    groups = [
        ("文章", pair(["new", "revised", "archived", "stale"])),
        ("搜索", pair(["searches", "zero_result", "weak", "reads"])),
        ("比例（%）", pct_pair(["click_through", "helpful_ratio", "link_rate"])),
        ("修订请求与工单", pair(["opened", "closed", "overdue", "received", "linked"])),
    ]
    svg = [
        *(
            charts.compare_bars(
                title,
                *values,
                current_label=report["month"],
                previous_label=report["previous_month"],
            )
            for title, values in groups
        ),
        charts.ranked_bars("无结果搜索 Top 20", report["current"]["search"]["top_zero"]),
    ]
    return render_template(
        "reports/monthly.html",
        report=report,
        charts=svg,
        enterprises=reports.enterprises_list(s),
    )


@bp.get("/evaluation")
def evaluation_page():  # type: ignore[no-untyped-def]
    fmt = export_format()
    s = db.session()
    code = request.args.get("enterprise") or None
    data = evaluation.overview(s, actor(), request.args.get("year"), code)
    if fmt != "html":
        name = f"kb-evaluation-{data['year']}" + (f"-{code}" if code else "")
        return send(evaluation.sheets(data), fmt, name)
    return render_template(
        "reports/evaluation.html",
        data=data,
        ITEM_TITLES=evaluation.ITEM_TITLES,
        enterprises=reports.enterprises_list(s),
    )


@bp.route("/evaluation/settings", methods=["GET", "POST"])
def evaluation_settings():  # type: ignore[no-untyped-def]
    s = db.session()
    reports.require_curator(actor())
    error = None
    values = evaluation.thresholds(s)
    form = {
        k: (values[k] * 100 if kind == "%" else values[k])
        for k, (_d, _l, kind) in evaluation.THRESHOLDS.items()
    }
    if request.method == "POST":
        submitted = dict(request.form)
        # a field missing from the post is shown with its current value (was a 500)
        form = {**form, **submitted}
        try:
            evaluation.save_thresholds(s, actor(), submitted)
            s.commit()
            return redirect(url_for("reports.evaluation_settings", saved=1))
        except KbError as err:
            s.rollback()
            error = err
    page = render_template(
        "reports/evaluation_settings.html", form=form, labels=evaluation.THRESHOLDS, error=error
    )
    return (page, error.status) if error else page
