"""Public pages: home, browsing by category and type, reading, history and diffs, download."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, render_template, request

from kb import articles as ops
from kb import db, render
from kb.errors import Invalid
from kb.frontmatter import CATEGORIES, TYPES
from kb.models import Article
from kb.permissions import policy
from kb.permissions.roles import Action
from kb.views.util import actor, int_arg

bp = Blueprint("articles", __name__)


def _in_order(rows: list[tuple[str, int]], order: tuple[str, ...]) -> list[tuple[str, int]]:
    """Facet rows in the standard's order (unknown values last, alphabetically)."""
    return sorted(rows, key=lambda r: (order.index(r[0]) if r[0] in order else len(order), r[0]))


def _facets(s, user):  # type: ignore[no-untyped-def]
    return (
        _in_order(ops.counts_by(s, user, Article.category), CATEGORIES),
        _in_order(ops.counts_by(s, user, Article.type), TYPES),
    )


@bp.get("/")
def home() -> str:
    s = db.session()
    user = actor()
    latest = ops.listing(s, user, per_page=8).items
    categories, types = _facets(s, user)
    return render_template("articles/home.html", categories=categories, types=types, latest=latest)


@bp.get("/help")
def help_page() -> str:
    return render_template("articles/help.html")


@bp.get("/articles")
def index() -> str:
    s = db.session()
    category = request.args.get("category") or None
    type_ = request.args.get("type") or None
    if type_ and type_ not in TYPES:
        raise Invalid(f"未知的文章类型“{type_}”", fields={"type": "未知的文章类型"})
    page = ops.listing(
        s,
        actor(),
        type_=type_,
        category=category,
        page=int_arg("page", 1),
        per_page=20,
    )
    categories, types = _facets(s, actor())
    return render_template(
        "articles/index.html",
        page=page,
        category=category,
        type_=type_,
        categories=categories,
        types=types,
    )


def _shown_revision(article: Article):  # type: ignore[no-untyped-def]
    """Readers see the published revision; editors and curators see work before publication."""
    if (
        article.status in ("published", "archived")
        and article.published_revision is not None
        and policy.can(actor(), Action.READ, article)
    ):
        return article.published_revision
    return article.review_revision


@bp.get("/articles/<slug>")
def show(slug: str) -> str:
    s = db.session()
    user = actor()
    article = ops.get(s, user, slug)
    revision = _shown_revision(article)
    return render_template(
        "articles/show.html",
        article=article,
        revision=revision,
        meta=revision.meta,
        rendered=render.render(revision.body, revision.meta.get("title")),
        can_work=policy.can(user, Action.READ_WORK, article),
        can_edit=policy.can(user, Action.EDIT, article),
        can_review=policy.can(user, Action.REVIEW, article),
    )


@bp.get("/articles/<slug>/download")
def download(slug: str) -> Response:
    article = ops.get(db.session(), actor(), slug)
    revision = _shown_revision(article)
    filename = f"{article.slug}.md"
    return Response(
        revision.source,
        mimetype="text/markdown; charset=utf-8",
        headers={
            # ASCII name for old clients, the Chinese title for the rest (RFC 6266 / 5987)
            "Content-Disposition": f'attachment; filename="{filename}"; '
            f"filename*=UTF-8''{quote(article.title[:80] + '.md')}"
        },
    )


@bp.get("/articles/<slug>/revisions")
def history(slug: str) -> str:
    s = db.session()
    article = ops.get(s, actor(), slug)
    revisions = ops.revisions(s, actor(), article)
    return render_template("articles/revisions.html", article=article, revisions=revisions)


@bp.get("/articles/<slug>/diff")
def diff(slug: str) -> str:
    s = db.session()
    article = ops.get(s, actor(), slug)
    old = int_arg("from", 1)
    new = int_arg("to", 1)
    lines = ops.diff(s, actor(), article, old, new)
    return render_template("articles/diff.html", article=article, lines=lines, old=old, new=new)
