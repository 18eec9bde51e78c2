"""Article lifecycle operations: create, save, submit, withdraw, publish, return, archive, restore.

Each operation takes the acting user, asks the policy, and writes the change, its Revision,
its AuditEvent and an IndexTask in one transaction; ``commit`` then lets the index catch up.
Views and the CLI call these; none of them touches the tables directly.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from pypinyin import lazy_pinyin
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from kb import audit
from kb.checker import CheckContext, Report, check
from kb.errors import Conflict, Invalid, KbError, NotFound
from kb.frontmatter import SLUG_RE, ArticleDraft
from kb.models import Article, IndexTask, Organisation, Revision, utcnow
from kb.permissions import policy
from kb.permissions.policy import Gate
from kb.permissions.roles import STATUS_LABELS, Action, OrgKind

STATUSES = ("draft", "submitted", "returned", "published", "archived")
BUREAU_CODE = "bureau"


class TransitionRefused(Conflict):
    code = "transition_refused"


class SubmissionBlocked(KbError):
    status = 422
    code = "check_failed"


class EditConflict(Conflict):
    """A save started from a revision that is no longer the newest one (issue 9, point 8)."""

    code = "edit_conflict"


@dataclass
class Page:
    items: list[Article]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def commit(s: Session) -> None:
    """Commit, then let the search index catch up with what was committed."""
    s.commit()
    from kb.index import after_commit  # late import: the index is optional in unit tests

    after_commit()


def _enqueue(s: Session, article: Article) -> None:
    s.add(IndexTask(article_id=article.id))


def _set_face(article: Article, draft: ArticleDraft) -> None:
    """Copy a draft's metadata onto the article row (what lists, filters and ACLs read)."""
    article.title = draft.title
    article.type = draft.type
    article.category = draft.category
    article.products = draft.products
    article.os = draft.os
    article.tags = draft.tags
    article.summary = draft.summary
    article.visibility = draft.visibility
    article.allowed_orgs = draft.allowed_orgs
    article.review_by = draft.review_by
    article.acl = " " + " ".join(policy.document_acl(article, article.owner.code)) + " "


def draft_of(revision: Revision) -> ArticleDraft:
    from kb.frontmatter import validate_meta

    return validate_meta({k: v for k, v in revision.meta.items() if v is not None}, revision.body)


def _check_size(draft: ArticleDraft, limit: int) -> None:
    if len(draft.body.encode("utf-8", "surrogatepass")) > limit:
        raise Invalid(
            f"正文不能超过 {limit // 1024} KB",
            fields={"markdown": f"正文过长（上限 {limit // 1024} KB）"},
            status=413,
        )


def slug_from_title(s: Session, title: str) -> str:
    """A readable ASCII slug from a Chinese title (pinyin), unique in the database."""
    words = lazy_pinyin(title, errors=lambda chars: [c for c in chars if c.isascii()])
    base = re.sub(r"[^a-z0-9]+", "-", "-".join(words).lower()).strip("-")[:60].strip("-")
    base = base or "article"
    slug, n = base, 1
    while s.scalar(select(Article.id).where(Article.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _new_revision(
    s: Session, actor: Any, article: Article, draft: ArticleDraft, message: str, **kw: Any
) -> Revision:
    number = (
        s.scalar(select(func.max(Revision.number)).where(Revision.article_id == article.id)) or 0
    ) + 1
    draft.slug = article.slug
    draft.enterprise = article.owner.code
    revision = Revision(
        article_id=article.id,
        number=number,
        source=draft.source(),
        meta=draft.meta(),
        body=draft.body,
        author_id=getattr(actor, "id", None),
        author_name=getattr(actor, "username", "系统"),
        message=(message or "")[:500],
        state="draft",
        **kw,
    )
    s.add(revision)
    s.flush()
    return revision


def resolve_owner(
    s: Session, actor: Any, draft: ArticleDraft, enterprise: str | None
) -> Organisation:
    """The owning organisation: an editor's own enterprise, else the given code, else the bureau."""
    if policy.allows(actor, Gate.EDITOR):
        return actor.organisation
    code = enterprise or draft.enterprise
    if code:
        org = s.scalar(select(Organisation).where(Organisation.code == code))
        if org is None:
            raise Invalid(f"企业代码“{code}”不存在", fields={"enterprise": "企业不存在"})
        if org.kind != OrgKind.ENTERPRISE:
            raise Invalid(f"“{code}”不是入围企业", fields={"enterprise": "只能是入围企业"})
        return org
    org = s.scalar(
        select(Organisation).where(Organisation.kind == OrgKind.BUREAU).order_by(Organisation.id)
    )
    if org is None:
        raise Invalid(
            "没有指定所属企业，系统中也没有统筹协调单位", fields={"enterprise": "请指定所属企业"}
        )
    return org


def create(
    s: Session,
    actor: Any,
    draft: ArticleDraft,
    *,
    owner: Organisation | None = None,
    message: str = "",
    max_bytes: int = 200 * 1024,
) -> Article:
    """A new article with its first revision, as a draft."""
    _check_size(draft, max_bytes)
    owner = owner or resolve_owner(s, actor, draft, None)
    if not policy.may_create_for(actor, owner.id):
        raise KbError("您只能为本企业创建文章。", code="forbidden", status=403)
    slug = draft.slug or slug_from_title(s, draft.title)
    if not SLUG_RE.match(slug):
        raise Invalid("标识格式不正确", fields={"slug": "只能由小写字母、数字和 - 组成"})
    if s.scalar(select(Article.id).where(Article.slug == slug)) is not None:
        raise Conflict(f"标识“{slug}”已被其他文章使用", fields={"slug": "标识已被使用"})
    article = Article(
        slug=slug,
        owner=owner,
        status="draft",
        title=draft.title,
        type=draft.type,
        category=draft.category,
    )
    _set_face(article, draft)
    s.add(article)
    s.flush()
    revision = _new_revision(s, actor, article, draft, message or "创建")
    article.working_revision = revision
    audit.record(s, actor, "article.create", "article", slug, revision=revision.number)
    return article


def save(
    s: Session,
    actor: Any,
    article: Article,
    draft: ArticleDraft,
    *,
    message: str = "",
    max_bytes: int = 200 * 1024,
    resolves_request_id: int | None = None,
    base_revision: int | None = None,
) -> Revision:
    """Save a new working revision. A published article stays online unchanged meanwhile.

    ``base_revision`` is the number of the revision the author started from; when another
    revision has been saved since, nothing is saved and ``EditConflict`` says which one is
    current. Without it (older API clients) the save goes through as before.
    """
    policy.require(actor, Action.EDIT, article)
    if base_revision is not None:
        check_base(article, base_revision)
    _check_size(draft, max_bytes)
    if draft.slug and draft.slug != article.slug:
        raise Invalid(
            f"文章标识不能修改（当前为“{article.slug}”）",
            fields={"slug": "标识创建后不能修改"},
        )
    pending = article.pending if article.status == "published" else article.status
    if pending == "submitted":
        raise TransitionRefused("这篇文章的修订正在审核中，不能修改；如需修改，请先撤回提交。")
    revision = _new_revision(
        s, actor, article, draft, message or "修改", resolves_request_id=resolves_request_id
    )
    article.working_revision = revision
    article.updated_at = utcnow()
    if article.status == "published":
        article.pending = "draft"
    else:
        article.status = "draft"
        _set_face(article, draft)
    audit.record(s, actor, "article.edit", "article", article.slug, revision=revision.number)
    return revision


def check_base(article: Article, base_revision: int) -> None:
    """Refuse a save that did not start from the article's current revision."""
    current = article.review_revision
    if current is None or current.number == base_revision:
        return
    raise EditConflict(
        f"保存失败：您的修改基于修订 {base_revision}，但{current.author_name}已在此之后保存了"
        f"修订 {current.number}。请先查看两者的差异，再决定是否以您的内容为准重新保存。",
        fields={"base_revision": f"当前修订为 {current.number}"},
        extra={"current_revision": current.number, "base_revision": base_revision},
    )


def check_revision(s: Session, article: Article, revision: Revision, actor: Any) -> Report:
    """The checker's report on a revision, with the database as ``actor`` may see it as
    context: a link check must not tell an author which unreadable articles exist."""
    from kb.checker import context_from_db

    ctx: CheckContext = context_from_db(s, article.slug, actor=actor)
    return check(revision.source, ctx)


def submit(s: Session, actor: Any, article: Article) -> Report:
    """Send the working revision for review; refused while the checker reports errors."""
    policy.require(actor, Action.EDIT, article)
    revision = article.working_revision
    state = article.pending if article.status == "published" else article.status
    if revision is None or state not in ("draft", "returned"):
        label = STATUS_LABELS.get(state or article.status, "无待提交修订")
        raise TransitionRefused(
            f"当前状态（{label}）不能提交审核；只有草稿或已退回的修订可以提交。"
        )
    report = check_revision(s, article, revision, actor)
    if report.has_errors:
        raise SubmissionBlocked(
            f"内容检查发现 {len(report.errors)} 个错误，修正后才能提交审核。",
            extra={"findings": report.as_dicts()},
        )
    revision.state = "submitted"
    _set_pending(article, "submitted")
    audit.record(s, actor, "article.submit", "article", article.slug, revision=revision.number)
    return report


def _set_pending(article: Article, state: str | None) -> None:
    if article.status in ("published", "archived") and article.published_revision_id is not None:
        article.pending = state
    else:
        article.status = state or "draft"
    article.updated_at = utcnow()


def withdraw(s: Session, actor: Any, article: Article) -> None:
    """Take a submitted revision back to draft (the editor wants to change it)."""
    policy.require(actor, Action.EDIT, article)
    state = article.pending if article.status == "published" else article.status
    if state != "submitted" or article.working_revision is None:
        raise TransitionRefused("只有待审核的修订可以撤回。")
    article.working_revision.state = "draft"
    _set_pending(article, "draft")
    audit.record(s, actor, "article.withdraw", "article", article.slug)


def publish(s: Session, actor: Any, article: Article, note: str = "") -> Revision:
    """Publish the submitted working revision; it replaces the published one, if any."""
    policy.require(actor, Action.REVIEW, article)
    revision = article.working_revision
    state = article.pending if article.status == "published" else article.status
    if revision is None or state != "submitted":
        raise TransitionRefused("只有待审核的修订可以发布。")
    return _make_published(s, actor, article, revision, note)


def _make_published(
    s: Session, actor: Any, article: Article, revision: Revision, note: str
) -> Revision:
    old = article.published_revision
    old_visibility = article.visibility if old is not None else None
    if old is not None:
        old.state = "superseded"
    revision.state = "published"
    revision.review_note = note or revision.review_note
    article.published_revision = revision
    article.working_revision = None
    article.status = "published"
    article.pending = None
    now = utcnow()
    article.published_at = now
    article.updated_at = now
    _set_face(article, draft_of(revision))
    from kb import freshness  # issue 11: no article goes out without a review date

    freshness.apply_default(s, article)
    audit.record(
        s, actor, "article.publish", "article", article.slug, revision=revision.number, note=note
    )
    if old_visibility is not None and old_visibility != article.visibility:
        audit.record(
            s,
            actor,
            "article.visibility",
            "article",
            article.slug,
            before=old_visibility,
            after=article.visibility,
        )
    _enqueue(s, article)
    if revision.resolves_request_id:
        from kb import feedback  # the feedback loop closes its request when the fix is live

        feedback.on_revision_published(s, actor, article, revision)
    return revision


def publish_directly(s: Session, actor: Any, article: Article, note: str = "") -> Revision:
    """Publish the working revision without review: for the operator's bulk import only."""
    if not policy.allows(actor, Gate.ADMIN):
        raise KbError("只有系统导入可以直接发布。", code="forbidden", status=403)
    revision = article.working_revision
    if revision is None:
        raise TransitionRefused("没有可发布的修订。")
    return _make_published(s, actor, article, revision, note)


def return_(s: Session, actor: Any, article: Article, reason: str) -> None:
    """Send the submission back to its editors with a reason they will see."""
    policy.require(actor, Action.REVIEW, article)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(
            "退回时必须填写原因，编辑会看到这条说明。", fields={"reason": "请填写退回原因"}
        )
    if len(reason) > 2000:
        raise Invalid("退回原因不能超过 2000 字", fields={"reason": "退回原因过长"})
    revision = article.working_revision
    state = article.pending if article.status == "published" else article.status
    if revision is None or state != "submitted":
        raise TransitionRefused("只有待审核的修订可以退回。")
    revision.state = "returned"
    revision.review_note = reason
    _set_pending(article, "returned")
    audit.record(
        s, actor, "article.return", "article", article.slug, revision=revision.number, reason=reason
    )


def archive(
    s: Session, actor: Any, article: Article, reason: str = "", replaced_by: str | None = None
) -> None:
    """Take a published article offline (outdated, replaced); its history is kept. With
    ``replaced_by`` (another published article's slug) its address forwards there."""
    policy.require(actor, Action.ARCHIVE, article)
    if article.status != "published":
        raise TransitionRefused("只有已发布的文章可以归档。")
    from kb import freshness

    article.replaced_by = freshness.check_replacement(s, article, replaced_by)
    article.status = "archived"
    article.updated_at = utcnow()
    extra = {"replaced_by": article.replaced_by} if article.replaced_by else {}
    audit.record(
        s,
        actor,
        "article.archive",
        "article",
        article.slug,
        reason=(reason or "")[:2000],
        **extra,
    )
    _enqueue(s, article)


def restore(s: Session, actor: Any, article: Article) -> None:
    """Put an archived article back online with its last published revision."""
    policy.require(actor, Action.ARCHIVE, article)
    if article.status != "archived" or article.published_revision is None:
        raise TransitionRefused("只有已归档的文章可以恢复发布。")
    article.status = "published"
    article.replaced_by = None  # back online: its address is its own again
    article.updated_at = utcnow()
    audit.record(s, actor, "article.restore", "article", article.slug)
    _enqueue(s, article)


# ---- reading -------------------------------------------------------------------------------


def get(s: Session, actor: Any, slug: str) -> Article:
    """The article if the actor may know it exists; otherwise 404, whether or not it exists."""
    article = (
        s.scalar(select(Article).where(Article.slug == slug)) if SLUG_RE.match(slug or "") else None
    )
    if article is None or not (
        policy.can(actor, Action.READ, article) or policy.can(actor, Action.READ_WORK, article)
    ):
        raise NotFound("文章不存在，或您无权查看。")
    return article


def behind_sign_in(s: Session, actor: Any, slug: str) -> bool:
    """True when signing in would show this visitor the article (see policy.sign_in_shows)."""
    article = (
        s.scalar(select(Article).where(Article.slug == slug)) if SLUG_RE.match(slug or "") else None
    )
    return article is not None and policy.sign_in_shows(actor, article)


def readable_filter(actor: Any) -> Any:
    """SQL condition: the published articles the actor may read (mirrors policy.can READ)."""
    terms = policy.visible_terms(actor)
    return (Article.status == "published") & or_(*(Article.acl.contains(f" {t} ") for t in terms))


def work_filter(actor: Any) -> Any:
    """SQL condition: the articles whose work material (drafts, reviews) the actor may see."""
    scope = policy.desk_scope(actor)
    if scope == policy.ALL:
        return True
    if scope is not None:
        return Article.owner_id == scope
    return False


def listing(
    s: Session,
    actor: Any,
    *,
    status: str | None = None,
    type_: str | None = None,
    category: str | None = None,
    owner_id: int | None = None,
    pending: str | None = None,
    page: int = 1,
    per_page: int = 20,
    order: str = "updated",
) -> Page:
    """A page of articles the actor may see, filtered inside the query."""
    query: Select = select(Article)
    if status in (None, "", "published"):
        query = query.where(readable_filter(actor))
    elif status in STATUSES:
        query = query.where(Article.status == status).where(work_filter(actor))
    elif status == "pending":
        query = query.where(
            or_(Article.status == "submitted", Article.pending == "submitted")
        ).where(work_filter(actor))
    elif status == "all":
        query = query.where(or_(readable_filter(actor), work_filter(actor)))
    else:
        raise Invalid(f"未知的状态“{status}”", fields={"status": "应为 " + "、".join(STATUSES)})
    if type_:
        query = query.where(Article.type == type_)
    if category:
        query = query.where(Article.category == category)
    if owner_id is not None:
        query = query.where(Article.owner_id == owner_id)
    if pending:
        query = query.where(Article.pending == pending)
    total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordering = {
        "updated": Article.updated_at.desc(),
        "title": Article.title,
        "published": Article.published_at.desc(),  # what readers call 最近更新
    }[order]
    items = list(
        s.scalars(
            query.order_by(ordering, Article.id).offset((page - 1) * per_page).limit(per_page)
        )
    )
    return Page(items, total, page, per_page)


def counts_by(s: Session, actor: Any, column: Any) -> list[tuple[str, int]]:
    """How many readable published articles fall in each category or type."""
    rows = s.execute(
        select(column, func.count()).where(readable_filter(actor)).group_by(column).order_by(column)
    )
    return [(value, n) for value, n in rows]


def revisions(s: Session, actor: Any, article: Article) -> list[Revision]:
    policy.require(actor, Action.READ_WORK, article)
    return list(
        s.scalars(
            select(Revision).where(Revision.article_id == article.id).order_by(Revision.number)
        )
    )


def revision(s: Session, article: Article, number: int) -> Revision:
    found = s.scalar(
        select(Revision).where(Revision.article_id == article.id, Revision.number == number)
    )
    if found is None:
        raise NotFound(f"修订 {number} 不存在", fields={"revision": "修订不存在"})
    return found


def diff(s: Session, actor: Any, article: Article, old: int, new: int) -> list[tuple[str, str]]:
    """Line diff of two revisions' sources: (kind, line) with kind in ' ', '+', '-', '@'."""
    policy.require(actor, Action.READ_WORK, article)
    a = revision(s, article, old).source.splitlines()
    b = revision(s, article, new).source.splitlines()
    lines: list[tuple[str, str]] = []
    for line in difflib.unified_diff(a, b, f"修订 {old}", f"修订 {new}", lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        kind = line[:1] if line[:1] in "+-@ " else " "
        lines.append((kind, line[1:] if kind != "@" else line))
    return lines
