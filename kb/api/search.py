"""API handlers for search and type-ahead, permission-scoped like the search page (the search
itself, shared with the page, is ``kb.views.search.run_search``)."""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from kb import db, searchlog
from kb.api import models as m
from kb.api import operation, query, respond
from kb.index import searcher
from kb.permissions import policy
from kb.views.search import run_search
from kb.views.util import actor


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


@operation(
    "GET",
    "/search",
    summary="搜索：返回 query、total、page、per_page、results、facets、suggestion、notice、"
    "weak（最佳结果不可靠时为 true）",
    query=m.SearchQuery,
    response=m.SearchResult,
    errors=(503,),  # index_unavailable: the index is being rebuilt or cannot be read
    endpoint="search",
)
def api_search():  # type: ignore[no-untyped-def]
    query(m.SearchQuery)  # types and ranges; the searcher reads the same parameters
    result, _filters, _sort = run_search(10)
    if result.query and result.page == 1:
        searchlog.record(db.session(), actor(), result.query, result.total, weak=result.weak)
    return respond(
        m.SearchResult,
        {
            "query": result.query,
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "results": [hit_json(h) for h in result.hits],
            "facets": result.facets,
            "suggestion": result.suggestion,
            "notice": result.notice,
            "weak": result.weak,
        },
    )


@operation(
    "GET",
    "/suggest",
    summary="输入提示：{suggestions: [{text, slug}]}",
    query=m.SuggestQuery,
    response=m.Suggestions,
    errors=(503,),
    endpoint="suggest",
)
def api_suggest():  # type: ignore[no-untyped-def]
    q = request.args.get("q", "")
    if len(q) > searcher.MAX_QUERY_CHARS:
        raise searcher.SearchError(
            "输入过长", fields={"q": f"最多 {searcher.MAX_QUERY_CHARS} 个字符"}
        )
    suggestions = searcher.type_ahead(q, policy.visible_terms(actor()))
    return respond(m.Suggestions, {"suggestions": suggestions})
