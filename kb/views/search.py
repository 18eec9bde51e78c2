"""Search pages: /search, click tracking, curators' reports and synonym editing (the search
API is kb/api/search.py and shares ``run_search``). Parsing and permissions live in
kb/index/searcher.py and the policy."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from kb import accounts, db, searchlog
from kb.errors import KbError
from kb.index import searcher, synonyms
from kb.permissions import policy
from kb.permissions.policy import Gate
from kb.views.util import actor, int_arg

bp = Blueprint("search", __name__)


def run_search(per_page_default: int) -> tuple[searcher.ResultPage, dict[str, str], str]:
    filters = {
        name: (request.args.get(name) or "").strip()[:100] for name in searcher.FILTER_FIELDS
    }
    sort = request.args.get("sort") or "relevance"
    per_page = int_arg("per_page", per_page_default, 1, 50)
    page = int_arg("page", 1, 1, 100)
    result = searcher.search(
        request.args.get("q", ""),
        policy.visible_terms(actor()),
        db.session(),
        filters=filters,
        sort=sort,
        page=page,
        per_page=per_page,
        time_limit=current_app.config["SEARCH_TIME_LIMIT"],
    )
    return result, filters, sort


@bp.get("/search")
def search():  # type: ignore[no-untyped-def]
    q = request.args.get("q", "")
    try:
        result, filters, sort = run_search(10)
    except KbError as err:
        return render_template(
            "search/results.html", q=q[:200], result=None, error=err, filters={}, sort="relevance"
        ), err.status
    log_id = None
    if result.query and result.page == 1:
        log_id = searchlog.record(
            db.session(), actor(), result.query, result.total, weak=result.weak
        )
    active = {k: v for k, v in filters.items() if v}
    return render_template(
        "search/results.html",
        q=q,
        result=result,
        filters=active,
        sort=sort,
        log_id=log_id,
        error=None,
        without=lambda name: {k: v for k, v in active.items() if k != name},
        org_names=accounts.org_names(db.session()),
    )


@bp.get("/search/click/<int:log_id>/<slug>")
def click(log_id: int, slug: str):  # type: ignore[no-untyped-def]
    from kb import articles as ops

    # only a click through to an article the caller may read is counted (404 otherwise)
    article = ops.get(db.session(), actor(), slug)
    searchlog.click(db.session(), log_id, article.slug)
    return redirect(url_for("articles.show", slug=article.slug))


@bp.get("/search/report")
@policy.gate(Gate.STAFF)
def report():  # type: ignore[no-untyped-def]
    from kb import reports
    from kb.views.reports import export_format, send

    fmt = export_format()
    month_text = request.args.get("month") or None
    if month_text:  # a calendar month (China time) instead of the last N days
        period = reports.parse_month(month_text)
        data = searchlog.report(db.session(), start=period.start, end=period.end)
        days, label = 0, period.label
    else:
        days = int_arg("days", 30, 1, 365)
        data = searchlog.report(db.session(), days)
        label = f"最近 {days} 天"
    if fmt != "html":
        name = f"kb-search-{month_text or f'{days}d'}"
        return send(searchlog.report_sheets(data, label), fmt, name)
    from kb import charts

    drawn = [
        charts.ranked_bars("无结果的搜索 Top 20", [(q, n) for q, n, _c in data["zero"][:20]]),
        charts.ranked_bars("热门搜索 Top 20", [(q, n) for q, n, _c in data["top"][:20]]),
    ]
    return render_template(
        "search/report.html",
        report=data,
        days=days,
        month=month_text or "",
        label=label,
        charts=drawn,
    )


@bp.route("/search/synonyms", methods=["GET", "POST"])
@policy.gate(Gate.STAFF)
def edit_synonyms():  # type: ignore[no-untyped-def]
    s = db.session()
    error = None
    if request.method == "POST":
        text = request.form.get("synonyms", "").replace("\r\n", "\n")
        try:
            if request.form.get("reset"):
                synonyms.reset(s, actor())
            else:
                synonyms.save(s, actor(), text)
            s.commit()
            return redirect(url_for("search.edit_synonyms", saved=1))
        except KbError as err:
            s.rollback()
            error = err
            return render_template("search/synonyms.html", text=text, error=error), err.status
    return render_template("search/synonyms.html", text=synonyms.current_text(s), error=None)
