"""Search pages and the search API: /search, type-ahead, click tracking, curators' reports
and synonym editing. Parsing and permissions live in kb/index/searcher.py and the policy."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from kb import accounts, db, searchlog
from kb.errors import KbError
from kb.index import searcher, synonyms
from kb.permissions import policy
from kb.views.util import actor, int_arg

bp = Blueprint("search", __name__)
api_bp = Blueprint("search_api", __name__, url_prefix="/api/v1")


def _run(per_page_default: int) -> tuple[searcher.ResultPage, dict[str, str], str]:
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


def _weak(result: searcher.ResultPage) -> bool | None:
    """Whether the ranker judged the best answer weak (None while it does not say): the 月报
    counts weak-answer queries from the log (issue 11)."""
    weak = getattr(result, "weak", None)
    return None if weak is None else bool(weak)


@bp.get("/search")
def search():  # type: ignore[no-untyped-def]
    q = request.args.get("q", "")
    try:
        result, filters, sort = _run(10)
    except KbError as err:
        return render_template(
            "search/results.html", q=q[:200], result=None, error=err, filters={}, sort="relevance"
        ), err.status
    log_id = None
    if result.query and result.page == 1:
        log_id = searchlog.record(
            db.session(), actor(), result.query, result.total, weak=_weak(result)
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
    searchlog.click(db.session(), log_id, slug)
    return redirect(url_for("articles.show", slug=slug))


def _staff_only() -> None:
    if not policy.is_staff(actor()):
        abort(403)


@bp.get("/search/report")
@login_required
def report():  # type: ignore[no-untyped-def]
    _staff_only()
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
@login_required
def edit_synonyms():  # type: ignore[no-untyped-def]
    _staff_only()
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


def hit_json(hit: searcher.Hit) -> dict[str, Any]:
    return {
        "slug": hit.slug,
        "title": hit.title,
        "title_html": str(hit.title_html),
        "snippet_html": str(hit.snippet_html),
        "type": hit.type,
        "category": hit.category,
        "products": hit.products,
        "enterprise": hit.enterprise,
        "updated_at": hit.updated_at,
        "helpful": hit.helpful,
        "url": url_for("articles.show", slug=hit.slug),
    }


@api_bp.get("/search")
def api_search():  # type: ignore[no-untyped-def]
    result, _filters, _sort = _run(10)
    if result.query and result.page == 1:
        searchlog.record(db.session(), actor(), result.query, result.total, weak=_weak(result))
    return jsonify(
        {
            "query": result.query,
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "results": [hit_json(h) for h in result.hits],
            "facets": result.facets,
            "suggestion": result.suggestion,
            "notice": result.notice,
        }
    )


@api_bp.get("/suggest")
def api_suggest():  # type: ignore[no-untyped-def]
    q = request.args.get("q", "")
    if len(q) > searcher.MAX_QUERY_CHARS:
        raise searcher.SearchError(
            "输入过长", fields={"q": f"最多 {searcher.MAX_QUERY_CHARS} 个字符"}
        )
    return jsonify({"suggestions": searcher.type_ahead(q, policy.visible_terms(actor()))})


def _api_auth() -> None:
    from kb.views.api import _authenticate

    _authenticate()


api_bp.before_request(_api_auth)
