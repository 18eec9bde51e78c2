"""The JSON API (/api/v1): the same operations and policy as the pages, errors as JSON.

Authentication is the session cookie or ``Authorization: Bearer <token>``. A session-authenticated
write must carry the CSRF token (header ``X-CSRFToken``); a token-authenticated one need not, since
a browser never sends the header by itself.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_login import current_user

from kb import accounts, comments, db, freshness, frontmatter, jsonio, reads, render
from kb import articles as ops
from kb import diff as revdiff
from kb.errors import Invalid, Unauthorized
from kb.extensions import csrf
from kb.models import Article, Revision
from kb.permissions import policy
from kb.permissions.roles import Action
from kb.views.util import actor, int_arg
from kb.web import bearer_token, localtime

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.before_request
def _authenticate() -> None:
    token = bearer_token()
    if token is not None:
        # The token alone speaks for the request: a session cookie sent alongside an invalid
        # token must not rescue it (nor stand in for it without a CSRF check).
        user = accounts.user_for_token(db.session(), token)
        if user is None:
            raise Unauthorized("API 令牌无效或已停用。")
        db.session().commit()  # last_used_at
        g._login_user = user  # Flask-Login's per-request user
        return
    if (
        request.method not in ("GET", "HEAD", "OPTIONS")
        and current_user.is_authenticated
        and current_app.config.get("WTF_CSRF_ENABLED", True)
    ):
        csrf.protect()


def require_user() -> Any:
    user = actor()
    if not policy.signed_in(user):
        raise Unauthorized("请先登录，或使用 Authorization: Bearer <令牌>。")
    return user


def body_json() -> Any:
    return jsonio.loads(
        request.get_data(cache=True), max_depth=current_app.config["MAX_JSON_DEPTH"]
    )


def article_json(
    article: Article, revision: Revision | None, *, full: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": article.slug,
        "title": article.title,
        "type": article.type,
        "category": article.category,
        "products": article.products,
        "os": article.os,
        "tags": article.tags,
        "summary": article.summary,
        "visibility": article.visibility,
        "allowed_orgs": article.allowed_orgs,
        "review_by": article.review_by.isoformat() if article.review_by else None,
        "enterprise": article.owner.code,
        "status": article.status,
        "pending": article.pending,
        "updated_at": article.updated_at.isoformat(),
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "url": url_for("articles.show", slug=article.slug),
        "helpful": {"yes": article.helpful_yes or 0, "no": article.helpful_no or 0},
    }
    if full:  # issue 5: how many closed tickets this article helped solve (no personal data)
        from kb import tickets

        data["tickets_solved"] = tickets.solved(db.session(), article).count
    if revision is not None:
        data["revision"] = revision.number
        data["revision_state"] = revision.state
    if full and revision is not None:
        meta = revision.meta
        data.update(
            {
                k: meta.get(k)
                for k in ("title", "type", "category", "products", "os", "tags", "summary")
            }
        )
        data["markdown"] = revision.body
        data["source"] = revision.source
        data["html"] = str(render.render(revision.body, meta.get("title")).html)
        if revision.review_note and policy.can(actor(), Action.READ_WORK, article):
            data["review_note"] = revision.review_note
    return data


def _draft_from_request() -> frontmatter.ArticleDraft:
    """A draft from either a Markdown body with front matter, or JSON fields plus "markdown"."""
    mimetype = request.mimetype or ""
    if mimetype == "application/json":
        data = body_json()
        if not isinstance(data, dict):
            raise Invalid("请求体应为 JSON 对象", fields={"body": "应为 JSON 对象"})
        if "source" in data:
            source = data["source"]
            if not isinstance(source, str):
                raise Invalid("source 应为文字", fields={"source": "应为文字"})
            return frontmatter.parse(source)
        body = data.get("markdown", "")
        if not isinstance(body, str):
            raise Invalid("markdown 应为文字", fields={"markdown": "应为文字"})
        meta = {k: v for k, v in data.items() if k not in ("markdown", "base_revision")}
        return frontmatter.validate_meta(meta, body)
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(
            "正文不是有效的 UTF-8 编码", fields={"markdown": "编码错误"}, status=400
        ) from None
    return frontmatter.parse(text.replace("\r\n", "\n"))


def _shown(article: Article) -> Revision | None:
    user = actor()
    if request.args.get("revision") == "working" and policy.can(user, Action.READ_WORK, article):
        return article.review_revision
    if article.published_revision is not None and policy.can(user, Action.READ, article):
        return article.published_revision
    return article.review_revision


@bp.get("/articles")
def list_articles():  # type: ignore[no-untyped-def]
    s = db.session()
    per_page = int_arg("per_page", 20, 1, 100)
    page = ops.listing(
        s,
        actor(),
        status=request.args.get("status") or None,
        type_=request.args.get("type") or None,
        category=request.args.get("category") or None,
        page=int_arg("page", 1),
        per_page=per_page,
    )
    return jsonify(
        {
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "results": [article_json(a, None) for a in page.items],
        }
    )


@bp.get("/articles/<slug>")
def get_article(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    revision = _shown(article)
    data = article_json(article, revision, full=True)
    # issue 11: freshness and replacement, read counted like the page
    data["stale"] = freshness.is_stale(article)
    data["replaced_by"] = article.replaced_by
    data["replaces"] = [a.slug for a in freshness.replaces(s, article)]
    if revision is article.published_revision and article.status == "published":
        reads.count_after_response(article.id, actor())
    return jsonify(data)


@bp.post("/articles/<slug>/confirm")
def confirm_article(slug: str):  # type: ignore[no-untyped-def]
    """复核无误 (issue 11): the owning editor or a curator confirms; the review date moves."""
    user = require_user()
    s = db.session()
    article = ops.get(s, user, slug)
    freshness.confirm(s, user, article)
    ops.commit(s)
    return jsonify(
        {"slug": article.slug, "review_by": article.review_by.isoformat(), "stale": False}
    )


@bp.get("/review-due")
def review_due():  # type: ignore[no-untyped-def]
    """需复审 (issue 11): articles due within 30 days or overdue, as the queue page shows them."""
    user = require_user()
    items = freshness.due(db.session(), user, sort=request.args.get("sort") or "date")
    return jsonify(
        {
            "today": freshness.china_today().isoformat(),
            "within_days": freshness.DUE_WITHIN_DAYS,
            "total": len(items),
            "results": [i.as_dict() for i in items],
        }
    )


@bp.post("/articles")
def create_article():  # type: ignore[no-untyped-def]
    user = require_user()
    s = db.session()
    draft = _draft_from_request()
    article = ops.create(
        s,
        user,
        draft,
        message=request.args.get("message", ""),
        max_bytes=current_app.config["MAX_MARKDOWN_BYTES"],
    )
    ops.commit(s)
    return jsonify(article_json(article, article.working_revision, full=True)), 201


@bp.put("/articles/<slug>")
def update_article(slug: str):  # type: ignore[no-untyped-def]
    user = require_user()
    s = db.session()
    article = ops.get(s, user, slug)
    policy.require(user, Action.EDIT, article)
    draft = _draft_from_request()
    base = _base_revision()
    resolves = int_arg("resolves", 0, 0, 2**31) or None
    if resolves is not None:
        from kb import feedback

        feedback.check_resolvable(s, user, article, resolves)
    revision = ops.save(
        s,
        user,
        article,
        draft,
        message=request.args.get("message", ""),
        max_bytes=current_app.config["MAX_MARKDOWN_BYTES"],
        resolves_request_id=resolves,
        base_revision=base,
    )
    ops.commit(s)
    return jsonify(article_json(article, revision, full=True))


def _base_revision() -> int | None:
    """``base_revision`` from the query string or the JSON body: the revision the client
    edited. Absent (older clients): no conflict check."""
    raw: Any = request.args.get("base_revision")
    if raw is None and (request.mimetype or "") == "application/json":
        data = body_json()
        raw = data.get("base_revision") if isinstance(data, dict) else None
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not str(raw).isdigit() or not 0 < int(raw) < 2**31:
        raise Invalid("base_revision 应为修订号（正整数）", fields={"base_revision": "应为正整数"})
    return int(raw)


def _reason() -> str:
    if not request.get_data(cache=True):
        return ""
    data = body_json()
    if not isinstance(data, dict):
        raise Invalid("请求体应为 JSON 对象", fields={"body": "应为 JSON 对象"})
    value = data.get("reason", data.get("note", ""))
    if not isinstance(value, str):
        raise Invalid("reason 应为文字", fields={"reason": "应为文字"})
    return value


def _replaced_by() -> str | None:
    if not request.get_data(cache=True):
        return None
    data = body_json()
    value = data.get("replaced_by") if isinstance(data, dict) else None
    if value is not None and not isinstance(value, str):
        raise Invalid("replaced_by 应为文章标识", fields={"replaced_by": "应为文字"})
    return value


def _transition(slug: str, name: str):  # type: ignore[no-untyped-def]
    user = require_user()
    s = db.session()
    article = ops.get(s, user, slug)
    if name == "submit":
        ops.submit(s, user, article)
    elif name == "withdraw":
        ops.withdraw(s, user, article)
    elif name == "publish":
        ops.publish(s, user, article, _reason())
    elif name == "return":
        ops.return_(s, user, article, _reason())
    elif name == "archive":
        ops.archive(s, user, article, _reason(), _replaced_by())
    elif name == "restore":
        ops.restore(s, user, article)
    ops.commit(s)
    return jsonify(article_json(article, article.review_revision))


for _name in ("submit", "withdraw", "publish", "return", "archive", "restore"):
    bp.add_url_rule(
        f"/articles/<slug>/{_name}",
        f"transition_{_name}",
        lambda slug, _n=_name: _transition(slug, _n),
        methods=["POST"],
    )


@bp.get("/articles/<slug>/revisions")
def list_revisions(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    revisions = ops.revisions(s, actor(), article)
    remarks: dict[int, list[dict[str, str]]] = {}
    for c in comments.for_article(s, actor(), article):  # curators' comments, oldest first
        remarks.setdefault(c.revision_id, []).insert(
            0, {"author": c.author_name, "body": c.body, "created_at": c.created_at.isoformat()}
        )
    return jsonify(
        {
            "slug": article.slug,
            "published": article.published_revision.number if article.published_revision else None,
            "working": article.working_revision.number if article.working_revision else None,
            "revisions": [
                {
                    "number": r.number,
                    "state": r.state,
                    "author": r.author_name,
                    "message": r.message,
                    "created_at": r.created_at.isoformat(),
                    "created_at_local": localtime(r.created_at),
                    "review_note": r.review_note,
                    "comments": remarks.get(r.id, []),
                }
                for r in revisions
            ],
        }
    )


@bp.get("/articles/<slug>/diff")
def diff(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    old = int_arg("from", 0, 1)
    new = int_arg("to", 0, 1)
    if not old or not new:
        raise Invalid("需要 from 和 to 两个修订号", fields={"from": "必填", "to": "必填"})
    lines = ops.diff(s, actor(), article, old, new)
    rows = revdiff.between(s, actor(), article, old, new)
    return jsonify(
        {
            "slug": slug,
            "from": old,
            "to": new,
            "lines": [{"op": k, "text": t} for k, t in lines],
            # the review desk's marks: escaped text, <del>/<ins> the only markup
            "html": str(revdiff.unified_html(rows)),
            "rows": [r.as_dict() for r in rows if r.op != "equal"],
        }
    )


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    from kb.openapi import spec

    return jsonify(spec())


@bp.post("/check")
def check_markdown():  # type: ignore[no-untyped-def]
    """Run the content checker on Markdown (raw body, or JSON {"source"} / {"markdown", …})."""
    import yaml

    from kb.checker import check, context_from_db
    from kb.checker.report import Finding, Report

    user = require_user()
    raw = request.get_data(cache=True)
    slug = request.args.get("slug") or None
    if (request.mimetype or "") == "application/json":
        data = body_json()
        if not isinstance(data, dict):
            raise Invalid("请求体应为 JSON 对象", fields={"body": "应为 JSON 对象"})
        slug = data.get("slug") if isinstance(data.get("slug"), str) else slug
        if isinstance(data.get("source"), str):
            text = data["source"]
        elif isinstance(data.get("markdown"), str):
            fields = {k: v for k, v in data.items() if k in frontmatter.FIELD_LABELS}
            fields.pop("markdown", None)
            head = yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)
            text = f"---\n{head}---\n\n{data['markdown']}" if fields else data["markdown"]
        else:
            raise Invalid("请提供 source（完整文章）或 markdown（正文）", fields={"source": "必填"})
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            message = "内容不是有效的 UTF-8 编码，请另存为 UTF-8 后再检查。"
            finding = Finding("KB-STRUCT-011", "error", message, 1)
            return jsonify({"findings": Report([finding]).as_dicts()})
    if slug is None:
        meta = frontmatter.split(text).meta or {}
        slug = meta.get("slug") if isinstance(meta.get("slug"), str) else None
    report = check(text, context_from_db(db.session(), slug, actor=user))
    return jsonify({"findings": report.as_dicts()})
