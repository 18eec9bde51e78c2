"""Freshness pages (issue 11): the 需复审 queue, the months per type, and 复核无误."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from kb import articles as ops
from kb import db, freshness
from kb.errors import KbError, NotFound
from kb.frontmatter import TYPES
from kb.permissions import policy
from kb.views.util import actor, safe_next

bp = Blueprint("freshness", __name__)


@bp.get("/review-due")
def queue() -> str:
    sort = request.args.get("sort") or "date"
    items = freshness.due(db.session(), actor(), sort=sort)
    return render_template(
        "freshness/queue.html",
        items=items,
        sort=sort,
        within=freshness.DUE_WITHIN_DAYS,
        today=freshness.china_today(),
        show_settings=policy.is_staff(actor()),
    )


@bp.route("/review-due/settings", methods=["GET", "POST"])
def settings():  # type: ignore[no-untyped-def]
    user = actor()
    if not policy.is_staff(user):
        raise NotFound()
    s = db.session()
    error = None
    values: dict[str, object] = dict(freshness.months_by_type(s))
    if request.method == "POST":
        values = {t: request.form.get(t, "") for t in TYPES}
        try:
            freshness.save_months(s, user, values)
            ops.commit(s)
            return redirect(url_for("freshness.settings", saved=1))
        except KbError as err:
            s.rollback()
            error = err
    page = render_template(
        "freshness/settings.html",
        types=TYPES,
        values=values,
        error=error,
        max_months=freshness.MAX_MONTHS,
    )
    return (page, error.status) if error else page


@bp.post("/articles/<slug>/confirm")
def confirm(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    freshness.confirm(s, actor(), article)
    ops.commit(s)
    target = safe_next(request.form.get("next"), url_for("articles.show", slug=slug))
    return redirect(target)
