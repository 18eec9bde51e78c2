"""Curators' comments on a revision (the review desk): written by the bureau, read by the
owning enterprise's editors on their workbench and the article's pages.

A comment belongs to one revision, so an editor knows which version it speaks about; adding
one is audited. Who may write is the review permission, who may read is the work permission.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import audit
from kb.errors import Invalid
from kb.models import Article, Revision, RevisionComment
from kb.permissions import policy
from kb.permissions.roles import Action

MAX_COMMENT = 2000


def add(s: Session, actor: Any, article: Article, revision: Revision, body: Any) -> RevisionComment:
    """A curator's comment on ``revision`` of ``article``."""
    policy.require(actor, Action.REVIEW, article)
    if revision.article_id != article.id:
        raise Invalid("修订不属于这篇文章", fields={"revision": "修订不存在"})
    text = body.strip() if isinstance(body, str) else ""
    if not text:
        raise Invalid("请填写审核意见", fields={"comment": "请填写审核意见"})
    if len(text) > MAX_COMMENT:
        raise Invalid(
            f"审核意见不能超过 {MAX_COMMENT} 字", fields={"comment": f"不能超过 {MAX_COMMENT} 字"}
        )
    comment = RevisionComment(
        article_id=article.id,
        revision_id=revision.id,
        author_id=getattr(actor, "id", None),
        author_name=getattr(actor, "display_name", "") or getattr(actor, "username", "审核员"),
        body=text,
    )
    s.add(comment)
    s.flush()
    audit.record(s, actor, "revision.comment", "article", article.slug, revision=revision.number)
    return comment


def for_article(s: Session, actor: Any, article: Article) -> list[RevisionComment]:
    """Every comment on the article's revisions, newest first (work material)."""
    if not policy.can(actor, Action.READ_WORK, article):
        return []
    return list(
        s.scalars(
            select(RevisionComment)
            .where(RevisionComment.article_id == article.id)
            .order_by(RevisionComment.created_at.desc(), RevisionComment.id.desc())
        )
    )


def latest_by_article(
    s: Session, actor: Any, articles: list[Article]
) -> dict[int, RevisionComment]:
    """The newest comment on each article's current revision (the workbench's column)."""
    current = {
        a.review_revision.id: a.id
        for a in articles
        if a.review_revision is not None and policy.can(actor, Action.READ_WORK, a)
    }
    if not current:
        return {}
    found: dict[int, RevisionComment] = {}
    for comment in s.scalars(
        select(RevisionComment)
        .where(RevisionComment.revision_id.in_(current))
        .order_by(RevisionComment.created_at, RevisionComment.id)
    ):
        found[current[comment.revision_id]] = comment
    return found
