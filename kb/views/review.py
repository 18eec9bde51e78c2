"""The bureau curator's pages: review queue, review a submission, publish, return, archive."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from kb import articles as ops
from kb import comments, db, render
from kb import diff as revdiff
from kb.checker import body_lines, located
from kb.errors import KbError
from kb.permissions import policy
from kb.permissions.policy import Gate
from kb.views.util import actor, int_arg

bp = Blueprint("review", __name__, url_prefix="/review")


bp.before_request(policy.gate_request(Gate.STAFF))


@bp.get("/")
def queue() -> str:
    s = db.session()
    page = ops.listing(
        s, actor(), status="pending", page=int_arg("page", 1), per_page=50, order="updated"
    )
    return render_template("review/queue.html", page=page)


@bp.get("/<slug>")
def show(slug: str) -> str:
    s = db.session()
    article = ops.get(s, actor(), slug)
    return _review_page(s, article)


def _review_page(s, article, error: KbError | None = None):  # type: ignore[no-untyped-def]
    """The review desk: published and submitted side by side with inline marks, the
    checker's findings and the curators' comments beside them."""
    user = actor()
    revision = article.review_revision
    published = article.published_revision
    rows = []
    if published is not None and revision.id != published.id:
        rows = revdiff.folded(revdiff.between(s, user, article, published.number, revision.number))
    report = ops.check_revision(s, article, revision, user)
    page = render_template(
        "review/show.html",
        article=article,
        revision=revision,
        published=published,
        meta=revision.meta,
        rendered=render.render(revision.body, revision.meta.get("title")),
        rows=rows,
        old_line=body_lines(published.source, published.body) if published else None,
        new_line=body_lines(revision.source, revision.body),
        findings=located(report.as_dicts(), revision.source, revision.body),
        comments=comments.for_article(s, user, article),
        error=error,
    )
    return (page, error.status) if error else page


def _transition(slug: str, operation, *args):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    try:
        operation(s, actor(), article, *args)
        ops.commit(s)
    except KbError as err:
        s.rollback()
        return _review_page(s, ops.get(s, actor(), slug), err)
    return redirect(url_for("review.show", slug=slug, done=operation.__name__))


@bp.post("/<slug>/publish")
def publish(slug: str):  # type: ignore[no-untyped-def]
    return _transition(slug, ops.publish, request.form.get("note", ""))


@bp.post("/<slug>/return")
def return_(slug: str):  # type: ignore[no-untyped-def]
    return _transition(slug, ops.return_, request.form.get("reason", ""))


@bp.post("/<slug>/archive")
def archive(slug: str):  # type: ignore[no-untyped-def]
    return _transition(
        slug, ops.archive, request.form.get("reason", ""), request.form.get("replaced_by") or None
    )


@bp.post("/<slug>/restore")
def restore(slug: str):  # type: ignore[no-untyped-def]
    return _transition(slug, ops.restore)


@bp.post("/<slug>/comment")
def comment(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    try:
        comments.add(s, actor(), article, article.review_revision, request.form.get("comment"))
        s.commit()
    except KbError as err:
        s.rollback()
        return _review_page(s, ops.get(s, actor(), slug), err)
    return redirect(url_for("review.show", slug=slug, done="comment") + "#comments")
