"""Public pages: home, browsing by category and type, reading, history and diffs, download."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from urllib.parse import quote

from flask import Blueprint, Response, redirect, render_template, request, url_for

from kb import articles as ops
from kb import atom, comments, db, freshness, reads, render
from kb import diff as revdiff
from kb.checker import body_lines
from kb.errors import Invalid, NotFound
from kb.frontmatter import CATEGORIES, TYPES
from kb.index.related import related
from kb.models import Article
from kb.permissions import policy
from kb.permissions.roles import Action
from kb.views.util import actor, int_arg

bp = Blueprint("articles", __name__)


@lru_cache(maxsize=1)
def standalone_css() -> str:
    """The stylesheet a downloaded HTML page carries inline."""
    return (resources.files("kb") / "static" / "standalone.css").read_text(encoding="utf-8")


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
    latest = ops.listing(s, user, per_page=8, order="published").items
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


def _changed_at(article: Article, revision):  # type: ignore[no-untyped-def]
    """When what the page shows last changed: the publication of the published revision, or
    the save of the working one an editor or curator is looking at."""
    if revision.id == article.published_revision_id and article.published_at is not None:
        return article.published_at
    return revision.created_at


@bp.get("/articles/<slug>")
def show(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    user = actor()
    moved_to = freshness.replacement_of(s, slug)
    if moved_to is not None:  # archived and replaced: the old address forwards for good
        return redirect(url_for("articles.show", slug=moved_to), 301)
    try:
        article = ops.get(s, user, slug)
    except NotFound:
        if ops.behind_sign_in(s, user, slug):
            # the title is withheld: the page only says that signing in shows the article
            back = url_for("articles.show", slug=slug)
            return render_template("articles/sign_in.html", next=back), 401
        raise
    revision = _shown_revision(article)
    if revision is article.published_revision and article.status == "published":
        reads.count_after_response(article.id, user)
    meta = revision.meta
    return render_template(
        "articles/show.html",
        article=article,
        revision=revision,
        meta=meta,
        rendered=render.render(revision.body, meta.get("title")),
        changed_at=_changed_at(article, revision),
        related=related(
            article_id=article.id,
            title=meta.get("title") or article.title,
            body=revision.body,
            category=meta.get("category") or article.category,
            products=list(meta.get("products") or []),
            visible_terms=policy.visible_terms(user),
        ),
        comments=comments.for_article(s, user, article),
        can_work=policy.can(user, Action.READ_WORK, article),
        can_edit=policy.can(user, Action.EDIT, article),
        can_review=policy.can(user, Action.REVIEW, article),
        fresh=freshness.face(s, user, article),
    )


@bp.get("/articles/<slug>/download")
def download(slug: str) -> Response:
    article = ops.get(db.session(), actor(), slug)
    revision = _shown_revision(article)
    return Response(
        revision.source,
        mimetype="text/markdown; charset=utf-8",
        headers={"Content-Disposition": _attachment(article, ".md")},
    )


def _attachment(article: Article, suffix: str) -> str:
    # ASCII name for old clients, the Chinese title for the rest (RFC 6266 / 5987)
    return (
        f'attachment; filename="{article.slug}{suffix}"; '
        f"filename*=UTF-8''{quote(article.title[:80] + suffix)}"
    )


@bp.get("/articles/<slug>/download.html")
def download_html(slug: str) -> Response:
    """The article as one self-contained HTML file: inline CSS, no external resources."""
    article = ops.get(db.session(), actor(), slug)
    revision = _shown_revision(article)
    meta = revision.meta
    rendered = render.render(revision.body, meta.get("title"))
    page = render_template(
        "articles/standalone.html",
        article=article,
        meta=meta,
        body=render.self_contained(rendered.html, request.host_url),
        changed_at=_changed_at(article, revision),
        url=url_for("articles.show", slug=slug, _external=True),
        css=standalone_css(),
    )
    return Response(
        page,
        mimetype="text/html",
        headers={
            "Content-Disposition": _attachment(article, ".html"),
            # opened from this site by mistake, it still loads nothing from anywhere
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


@bp.get("/feed.atom")
def feed() -> Response:
    """Atom feed of new and updated 公开 articles (never 登录可见 or 受限 ones)."""
    s = db.session()
    items = ops.listing(s, None, order="published", per_page=50).items
    xml = atom.feed(
        items,
        self_url=url_for("articles.feed", _external=True),
        home_url=url_for("articles.home", _external=True),
        url_of=lambda a: url_for("articles.show", slug=a.slug, _external=True),
    )
    return Response(xml, mimetype="application/atom+xml")


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page says; answer with the local icon."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


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
    rows = revdiff.between(s, actor(), article, old, new)
    old_rev, new_rev = ops.revision(s, article, old), ops.revision(s, article, new)
    return render_template(
        "articles/diff.html",
        article=article,
        rows=revdiff.folded(rows),
        old=old,
        new=new,
        old_line=body_lines(old_rev.source, old_rev.body),
        new_line=body_lines(new_rev.source, new_rev.body),
    )
