"""The access policy used by every page, API route and the search filter.

``can`` answers yes or no; ``require`` turns a no into 404 when the reader may not even know
the object exists, and 403 when they may see it but not act on it. ``visible_terms`` gives
the ACL terms the searcher ANDs into every query, so search obeys the same rules as pages.
"""

from __future__ import annotations

from typing import Any

from kb.errors import Forbidden, NotFound
from kb.models import Article
from kb.permissions.roles import Action, Role, Visibility

STAFF_ROLES = {Role.CURATOR, Role.ADMIN}


def signed_in(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def is_staff(user: Any) -> bool:
    return signed_in(user) and user.role in STAFF_ROLES


def is_owner_editor(user: Any, article: Article) -> bool:
    return signed_in(user) and user.role == Role.EDITOR and user.organisation_id == article.owner_id


def _may_read_visibility(user: Any, article: Article) -> bool:
    if article.visibility == Visibility.PUBLIC:
        return True
    if not signed_in(user):
        return False
    if article.visibility == Visibility.REGISTERED:
        return True
    # restricted: the bureau, the owning enterprise and the organisations listed on the article
    return (
        is_staff(user)
        or user.organisation_id == article.owner_id
        or user.organisation.code in (article.allowed_orgs or [])
    )


def can(user: Any, action: Action, article: Article) -> bool:
    """May ``user`` (a User, an anonymous user or None) do ``action`` on ``article``?"""
    if action == Action.READ:
        if article.status == "published":
            return _may_read_visibility(user, article)
        # drafts, submissions and archived articles are work material
        return is_staff(user) or is_owner_editor(user, article)
    if action == Action.READ_WORK:
        return is_staff(user) or is_owner_editor(user, article)
    if action == Action.EDIT:
        return (
            is_owner_editor(user, article) or (signed_in(user) and user.role == Role.ADMIN)
        ) and (article.status != "archived")
    if action in (Action.REVIEW, Action.ARCHIVE):
        return is_staff(user)
    return False


def sign_in_shows(user: Any, article: Article) -> bool:
    """A visitor who is not signed in asks for a published 登录可见 article: signing in would
    show it, so the page may say so (title withheld). A 受限 article stays unknown (404)."""
    return (
        not signed_in(user)
        and article.status == "published"
        and article.visibility == Visibility.REGISTERED
    )


def require(user: Any, action: Action, article: Article) -> None:
    """Raise 404 if the user may not know the article exists, 403 if they may but not act."""
    if can(user, action, article):
        return
    if not (can(user, Action.READ, article) or can(user, Action.READ_WORK, article)):
        raise NotFound()
    raise Forbidden("您没有权限对这篇文章执行此操作。")


def may_create_for(user: Any, organisation_id: int) -> bool:
    if not signed_in(user):
        return False
    if user.role == Role.EDITOR:
        return user.organisation_id == organisation_id
    return user.role == Role.ADMIN


def visible_terms(user: Any) -> list[str]:
    """ACL terms a reader matches; a document is visible when it carries any one of them."""
    terms = ["public"]
    if signed_in(user):
        terms.append("registered")
        terms.append(f"org:{user.organisation.code}")
        if is_staff(user):
            terms.append("staff")
    return terms


def document_acl(article: Article, owner_code: str) -> list[str]:
    """ACL terms stored with an article's search document (see ``visible_terms``)."""
    if article.visibility == Visibility.PUBLIC:
        return ["public"]
    if article.visibility == Visibility.REGISTERED:
        return ["registered"]
    return ["staff", f"org:{owner_code}", *(f"org:{code}" for code in article.allowed_orgs or [])]
