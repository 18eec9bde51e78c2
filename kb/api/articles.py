"""API handlers for articles: list, read, create, save, the review steps, revisions, diff and
the content check. The operations (kb/articles.py, kb/checker) decide; these read the request
and answer through the response models."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for

from kb import articles as ops
from kb import comments, db, freshness, frontmatter, reads, render
from kb import diff as revdiff
from kb.api import MARKDOWN, body, operation, query, raw_json, require_user, respond, validate
from kb.api import models as m
from kb.errors import Invalid
from kb.models import Article, Revision
from kb.permissions import policy
from kb.permissions.roles import Action
from kb.views.util import actor
from kb.web import localtime

BOTH = ("application/json", MARKDOWN)


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


def _draft_from_request() -> tuple[frontmatter.ArticleDraft, int | None]:
    """A draft from either a Markdown body with front matter, or JSON fields plus "markdown";
    and the JSON body's ``base_revision``, if it gave one."""
    if (request.mimetype or "") == "application/json":
        fields, data = body(m.ArticleFields)
        if fields.source is not None:
            return frontmatter.parse(fields.source), fields.base_revision
        # the rules of the trade (known types, dates, slugs) are checked on the fields as sent
        meta = {k: v for k, v in data.items() if k not in ("markdown", "base_revision")}
        return frontmatter.validate_meta(meta, fields.markdown or ""), fields.base_revision
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(
            "正文不是有效的 UTF-8 编码", fields={"markdown": "编码错误"}, status=400
        ) from None
    return frontmatter.parse(text.replace("\r\n", "\n")), None


def _shown(article: Article) -> Revision | None:
    user = actor()
    if request.args.get("revision") == "working" and policy.can(user, Action.READ_WORK, article):
        return article.review_revision
    if article.published_revision is not None and policy.can(user, Action.READ, article):
        return article.published_revision
    return article.review_revision


@operation(
    "GET",
    "/articles",
    summary="文章列表（按权限过滤）",
    query=m.ArticleListQuery,
    response=m.ArticleList,
)
def list_articles():  # type: ignore[no-untyped-def]
    args = query(m.ArticleListQuery)
    page = ops.listing(
        db.session(),
        actor(),
        status=args.status,
        type_=args.type,
        category=args.category,
        page=args.page,
        per_page=args.per_page,
    )
    return respond(
        m.ArticleList,
        {
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "results": [article_json(a, None) for a in page.items],
        },
    )


@operation(
    "GET",
    "/articles/<slug>",
    summary="文章元数据、Markdown、HTML 与修订号；stale（已过复核日期）、replaced_by、replaces",
    query=m.ArticleQuery,
    response=m.Article,
)
def get_article(slug: str):  # type: ignore[no-untyped-def]
    query(m.ArticleQuery)
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
    return respond(m.Article, data)


@operation(
    "POST",
    "/articles/<slug>/confirm",
    summary="复核无误（所属企业编辑或审核员）：复审日期顺延，返回 {slug, review_by, stale}",
    response=m.Confirmed,
    auth=True,
)
def confirm_article(slug: str):  # type: ignore[no-untyped-def]
    """复核无误 (issue 11): the owning editor or a curator confirms; the review date moves."""
    user = require_user()
    s = db.session()
    article = ops.get(s, user, slug)
    freshness.confirm(s, user, article)
    ops.commit(s)
    return respond(
        m.Confirmed,
        {"slug": article.slug, "review_by": article.review_by.isoformat(), "stale": False},
    )


@operation(
    "POST",
    "/articles",
    summary="新建文章草稿（Markdown+front matter，或 JSON 字段）",
    body=m.ArticleFields,
    body_types=BOTH,
    query=m.CreateQuery,
    response=m.Article,
    status=201,
    auth=True,
)
def create_article():  # type: ignore[no-untyped-def]
    user = require_user()
    args = query(m.CreateQuery)
    s = db.session()
    draft, _base = _draft_from_request()  # a new article has nothing to conflict with
    article = ops.create(
        s,
        user,
        draft,
        message=args.message or "",
        max_bytes=current_app.config["MAX_MARKDOWN_BYTES"],
    )
    ops.commit(s)
    return respond(m.Article, article_json(article, article.working_revision, full=True), 201)


@operation(
    "PUT",
    "/articles/<slug>",
    summary="保存新的工作修订；base_revision 为编辑所基于的修订号，之后已有更新的修订时"
    "答复 409 edit_conflict（含 current_revision）",
    body=m.ArticleFields,
    body_types=BOTH,
    query=m.SaveQuery,
    response=m.Article,
    auth=True,
)
def update_article(slug: str):  # type: ignore[no-untyped-def]
    user = require_user()
    args = query(m.SaveQuery)
    s = db.session()
    article = ops.get(s, user, slug)
    policy.require(user, Action.EDIT, article)
    draft, body_base = _draft_from_request()
    # the revision the client edited (query string first); absent (older clients): no check
    base = args.base_revision if args.base_revision is not None else body_base
    resolves = args.resolves or None
    if resolves is not None:
        from kb import feedback

        feedback.check_resolvable(s, user, article, resolves)
    revision = ops.save(
        s,
        user,
        article,
        draft,
        message=args.message or "",
        max_bytes=current_app.config["MAX_MARKDOWN_BYTES"],
        resolves_request_id=resolves,
        base_revision=base,
    )
    ops.commit(s)
    return respond(m.Article, article_json(article, revision, full=True))


def _reason(model: type[m.Reason] = m.Reason) -> m.Reason:
    """The optional body of a review step (empty: no note)."""
    if not request.get_data(cache=True):
        return model()
    return validate(model, raw_json())


def _note(reason: m.Reason) -> str:
    return reason.reason if reason.reason is not None else (reason.note or "")


def _transition(slug: str, name: str):  # type: ignore[no-untyped-def]
    user = require_user()
    s = db.session()
    article = ops.get(s, user, slug)
    if name == "submit":
        ops.submit(s, user, article)
    elif name == "withdraw":
        ops.withdraw(s, user, article)
    elif name == "publish":
        ops.publish(s, user, article, _note(_reason()))
    elif name == "return":
        ops.return_(s, user, article, _note(_reason()))
    elif name == "archive":
        archive = _reason(m.Archive)
        assert isinstance(archive, m.Archive)
        ops.archive(s, user, article, _note(archive), archive.replaced_by)
    elif name == "restore":
        ops.restore(s, user, article)
    ops.commit(s)
    return respond(m.ArticleSummary, article_json(article, article.review_revision))


for _name, _summary, _body in (
    ("submit", "提交审核", m.Reason),
    ("withdraw", "撤回提交", m.Reason),
    ("publish", "发布（审核员），可附 reason", m.Reason),
    ("return", "退回（审核员，需 reason）", m.Reason),
    (
        "archive",
        "归档（审核员）：{reason, replaced_by（替代文章标识，旧地址 301 跳转）}",
        m.Archive,
    ),
    ("restore", "恢复发布（审核员）", m.Reason),
):
    operation(
        "POST",
        f"/articles/<slug>/{_name}",
        summary=_summary,
        body=_body,
        body_required=False,
        response=m.ArticleSummary,
        auth=True,
        endpoint=f"transition_{_name}",
    )(lambda slug, _n=_name: _transition(slug, _n))


@operation(
    "GET",
    "/articles/<slug>/revisions",
    summary="修订历史，每个修订附审核员的评论",
    response=m.Revisions,
    auth=True,
)
def list_revisions(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    revisions = ops.revisions(s, actor(), article)
    remarks: dict[int, list[dict[str, str]]] = {}
    for c in comments.for_article(s, actor(), article):  # curators' comments, oldest first
        remarks.setdefault(c.revision_id, []).insert(
            0, {"author": c.author_name, "body": c.body, "created_at": c.created_at.isoformat()}
        )
    return respond(
        m.Revisions,
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
        },
    )


@operation(
    "GET",
    "/articles/<slug>/diff",
    summary="两个修订的差异：lines 为行差异；html 与 rows 在行内用 <del>/<ins> 标出改动的字词"
    "（其余文字已转义）",
    query=m.DiffQuery,
    response=m.Diff,
    auth=True,
)
def diff(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    article = ops.get(s, actor(), slug)
    if not request.args.get("from") or not request.args.get("to"):
        raise Invalid("需要 from 和 to 两个修订号", fields={"from": "必填", "to": "必填"})
    args = query(m.DiffQuery)
    old, new = args.from_, args.to
    lines = ops.diff(s, actor(), article, old, new)
    rows = revdiff.between(s, actor(), article, old, new)
    return respond(
        m.Diff,
        {
            "slug": slug,
            "from": old,
            "to": new,
            "lines": [{"op": k, "text": t} for k, t in lines],
            # the review desk's marks: escaped text, <del>/<ins> the only markup
            "html": str(revdiff.unified_html(rows)),
            "rows": [r.as_dict() for r in rows if r.op != "equal"],
        },
    )


@operation(
    "POST",
    "/check",
    summary="内容检查：请求体为文章 Markdown（含 front matter），或 JSON {source} / "
    "{markdown, 各字段}；返回 {findings: [{rule, severity, line, column, message, fix}]}",
    body=m.CheckBody,
    body_types=BOTH,
    query=m.CheckQuery,
    response=m.CheckResult,
    auth=True,
)
def check_markdown():  # type: ignore[no-untyped-def]
    """Run the content checker on Markdown (raw body, or JSON {"source"} / {"markdown", …})."""
    import yaml

    from kb.checker import check, context_from_db
    from kb.checker.report import Finding, Report

    user = require_user()
    slug = query(m.CheckQuery).slug
    if (request.mimetype or "") == "application/json":
        fields, data = body(m.CheckBody)
        slug = fields.slug if fields.slug is not None else slug
        if fields.source is not None:
            text = fields.source
        elif fields.markdown is not None:
            meta = {k: v for k, v in data.items() if k in frontmatter.FIELD_LABELS}
            meta.pop("markdown", None)
            head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
            text = f"---\n{head}---\n\n{fields.markdown}" if meta else fields.markdown
        else:
            raise Invalid("请提供 source（完整文章）或 markdown（正文）", fields={"source": "必填"})
    else:
        try:
            text = request.get_data(cache=True).decode("utf-8-sig")
        except UnicodeDecodeError:
            message = "内容不是有效的 UTF-8 编码，请另存为 UTF-8 后再检查。"
            finding = Finding("KB-STRUCT-011", "error", message, 1)
            return respond(m.CheckResult, {"findings": Report([finding]).as_dicts()})
    if slug is None:
        meta = frontmatter.split(text).meta or {}
        slug = meta.get("slug") if isinstance(meta.get("slug"), str) else None
    report = check(text, context_from_db(db.session(), slug, actor=user))
    return respond(m.CheckResult, {"findings": report.as_dicts()})
