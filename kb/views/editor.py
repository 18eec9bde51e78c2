"""The enterprise editor's pages: workbench, write and revise with live preview, submit."""

from __future__ import annotations

import re
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

from kb import articles as ops
from kb import comments, db, render
from kb import diff as revdiff
from kb.checker import check, context_from_db, located
from kb.errors import Invalid, KbError
from kb.frontmatter import ArticleDraft, validate_meta
from kb.permissions import policy
from kb.permissions.roles import Action, Role
from kb.views.util import actor

bp = Blueprint("editor", __name__, url_prefix="/editor")

LIST_FIELDS = ("products", "os", "tags", "allowed_orgs")
TEXT_FIELDS = ("title", "slug", "type", "category", "summary", "visibility", "review_by")


@bp.before_request
@login_required
def _editors_only() -> None:
    if actor().role not in (Role.EDITOR, Role.ADMIN):
        abort(403)


def form_meta() -> dict[str, Any]:
    meta: dict[str, Any] = {k: request.form.get(k, "").strip() for k in TEXT_FIELDS}
    for key in LIST_FIELDS:
        meta[key] = [
            v.strip() for v in re.split(r"[\n,，、]", request.form.get(key, "")) if v.strip()
        ]
    return meta


def form_draft() -> ArticleDraft:
    return validate_meta(form_meta(), request.form.get("markdown", "").replace("\r\n", "\n"))


def _form_values(draft_meta: dict[str, Any], body: str) -> dict[str, Any]:
    values = {k: draft_meta.get(k) or "" for k in TEXT_FIELDS}
    for key in LIST_FIELDS:
        items = draft_meta.get(key) or []
        values[key] = "\n".join(items) if isinstance(items, list) else str(items)
    values["markdown"] = body
    return values


@bp.get("/")
def workbench() -> str:
    s = db.session()
    user = actor()
    owner = user.organisation_id if user.role == Role.EDITOR else None
    page = ops.listing(s, user, status="all", owner_id=owner, per_page=200)
    latest = comments.latest_by_article(s, user, page.items)
    return render_template("editor/workbench.html", articles=page.items, comments=latest)


@bp.route("/new", methods=["GET", "POST"])
def new():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        values = _form_values({"visibility": "public"}, "")
        return render_template("editor/edit.html", article=None, values=values, errors={})
    s = db.session()
    try:
        draft = form_draft()
        article = ops.create(
            s,
            actor(),
            draft,
            message=request.form.get("message", ""),
            max_bytes=current_app.config["MAX_MARKDOWN_BYTES"],
        )
        ops.commit(s)
    except KbError as err:
        s.rollback()
        return _form_again(None, err)
    return redirect(url_for("editor.edit", slug=article.slug, saved=1))


def _form_again(article: Any, err: KbError):  # type: ignore[no-untyped-def]
    """Show the form again with the author's input intact and the problems beside the fields."""
    values = _form_values(form_meta(), request.form.get("markdown", ""))
    return (
        render_template(
            "editor/edit.html",
            article=article,
            values=values,
            errors=err.fields,
            message=err.message,
        ),
        err.status,
    )


def _conflict(article: Any, draft: ArticleDraft, err: ops.EditConflict):  # type: ignore[no-untyped-def]
    """Someone saved a newer revision meanwhile: keep the author's text in the form and show
    how it differs from the current revision; saving again (now based on the current one)
    is the author's informed choice."""
    current = article.review_revision
    draft.slug = article.slug
    draft.enterprise = article.owner.code
    values = _form_values(form_meta(), request.form.get("markdown", ""))
    return (
        render_template(
            "editor/edit.html",
            article=article,
            revision=current,
            values=values,
            errors={},
            message=err.message,
            comments=comments.for_article(db.session(), actor(), article),
            conflict={
                "current": current,
                "base": err.extra["base_revision"],
                "rows": revdiff.folded(revdiff.compare(current.source, draft.source())),
            },
        ),
        err.status,
    )


@bp.route("/<slug>/edit", methods=["GET", "POST"])
def edit(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    policy.require(actor(), Action.EDIT, article)
    if request.method == "GET":
        revision = article.review_revision
        values = _form_values(revision.meta, revision.body)
        return render_template(
            "editor/edit.html",
            article=article,
            revision=revision,
            values=values,
            errors={},
            saved=request.args.get("saved"),
            comments=comments.for_article(s, actor(), article),
        )
    try:
        draft = form_draft()
        resolves = request.form.get("resolves", type=int)
        if resolves is not None:
            from kb import feedback

            feedback.check_resolvable(s, actor(), article, resolves)
        ops.save(
            s,
            actor(),
            article,
            draft,
            message=request.form.get("message", ""),
            max_bytes=current_app.config["MAX_MARKDOWN_BYTES"],
            resolves_request_id=resolves,
            base_revision=request.form.get("base_revision", type=int),
        )
        ops.commit(s)
    except ops.EditConflict as err:
        s.rollback()
        return _conflict(article, draft, err)
    except KbError as err:
        s.rollback()
        return _form_again(article, err)
    return redirect(url_for("editor.edit", slug=slug, saved=1))


@bp.post("/<slug>/submit")
def submit(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    try:
        ops.submit(s, actor(), article)
        ops.commit(s)
    except KbError as err:
        s.rollback()
        revision = article.review_revision
        return (
            render_template(
                "editor/edit.html",
                article=article,
                revision=revision,
                values=_form_values(revision.meta, revision.body),
                errors=err.fields,
                message=err.message,
                findings=located(err.extra.get("findings", []), revision.source, revision.body),
            ),
            err.status,
        )
    return redirect(url_for("articles.show", slug=slug))


@bp.post("/<slug>/withdraw")
def withdraw(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    ops.withdraw(s, actor(), article)
    ops.commit(s)
    return redirect(url_for("editor.edit", slug=slug))


@bp.post("/preview")
def preview():  # type: ignore[no-untyped-def]
    """Live preview: the rendered body and the checker's findings for the form as it stands."""
    s = db.session()
    body = request.form.get("markdown", "").replace("\r\n", "\n")
    if len(body.encode("utf-8", "surrogatepass")) > current_app.config["MAX_MARKDOWN_BYTES"]:
        raise Invalid("正文过长", fields={"markdown": "正文过长"}, status=413)
    meta = form_meta()
    try:
        source = validate_meta(meta, body).source()
    except Invalid:
        source = ArticleDraft(
            title=meta["title"],
            type=meta["type"],
            category=meta["category"],
            visibility=meta["visibility"],
            body=body,
        ).source()
    report = check(source, context_from_db(s, meta.get("slug") or None))
    findings = located(report.as_dicts(), source, body)
    return jsonify({"html": str(render.render(body, meta.get("title")).html), "findings": findings})
