"""The access policy used by every page, API route, operation and the search filter: every
decision "may this caller do this to that" is made here and nowhere else.

``can`` answers yes or no for an article; ``require`` turns a no into 404 when the reader may
not even know the object exists, and 403 when they may see it but not act on it.
``allows``/``require_gate`` answer the role questions (may this caller use the review desk,
the admin pages...), ``gate`` is the same as a view decorator. ``visible_terms`` gives the ACL
terms the searcher ANDs into every query, so search obeys the same rules as pages.

Each decision is recorded on the request (``checks_asked``), so a test can walk every route
and prove that each one that touches data asked the policy (datasette's
``assert_permissions_checked`` is the model). ``signed_in``/``is_staff`` are building blocks
and record nothing; ask a named decision instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from flask import current_app, g, has_request_context

from kb.errors import Forbidden, NotFound, Unauthorized
from kb.models import Article
from kb.permissions.roles import Action, Role, Visibility

STAFF_ROLES = {Role.CURATOR, Role.ADMIN}


class Gate(StrEnum):
    """Role questions that do not depend on one article."""

    SIGNED_IN = "signed_in"  # any account: 我的反馈, 修改密码, API writes
    STAFF = "staff"  # curator or admin: review desk, reports, glossary, synonyms
    ADMIN = "admin"  # users, organisations, audit log, direct publishing
    AUTHOR = "author"  # editor or admin: the editor's workbench
    EDITOR = "editor"  # an enterprise editor: acts for the own enterprise only
    DESK = "desk"  # editor or staff: revision requests, figures, tickets
    REVEAL = "reveal"  # curator: see personal data masked in feedback (audited)


GATE_MESSAGES = {
    Gate.SIGNED_IN: "请先登录。",
    Gate.STAFF: "只有数据局审核员或管理员可以使用此功能。",
    Gate.ADMIN: "只有系统管理员可以使用此功能。",
    Gate.AUTHOR: "只有企业编辑或管理员可以使用编辑工作台。",
    Gate.EDITOR: "只有企业编辑可以执行此操作。",
    Gate.DESK: "只有企业编辑和数据局审核员可以使用此功能。",
    Gate.REVEAL: "只有数据局审核员可以查看未遮盖的个人信息。",
}


def _record(check: str, allowed: bool) -> None:
    if has_request_context():
        g.setdefault("kb_policy_checks", []).append((check, allowed))


def checks_asked() -> list[tuple[str, bool]]:
    """The decisions this request asked so far, in order: (check, answer)."""
    return list(g.get("kb_policy_checks", [])) if has_request_context() else []


def mark_no_data(reason: str) -> None:
    """Say that this route reads and writes nothing protected (help page, sign-in form)."""
    _record(f"no_data:{reason}", True)


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


def _allows(user: Any, gate: Gate) -> bool:
    if not signed_in(user):
        return False
    role = user.role
    if gate == Gate.SIGNED_IN:
        return True
    if gate == Gate.STAFF:
        return role in STAFF_ROLES
    if gate == Gate.ADMIN:
        return role == Role.ADMIN
    if gate == Gate.AUTHOR:
        return role in (Role.EDITOR, Role.ADMIN)
    if gate == Gate.EDITOR:
        return role == Role.EDITOR
    if gate == Gate.DESK:
        return role == Role.EDITOR or role in STAFF_ROLES
    if gate == Gate.REVEAL:
        return role == Role.CURATOR
    return False


def allows(user: Any, gate: Gate) -> bool:
    """May ``user`` pass ``gate``? (recorded on the request)"""
    answer = _allows(user, gate)
    _record(f"gate:{gate}", answer)
    return answer


def require_gate(user: Any, gate: Gate, message: str | None = None) -> None:
    """Raise 401 for a visitor who must sign in first, 403 for a signed-in user without rights."""
    if allows(user, gate):
        return
    if not signed_in(user):
        raise Unauthorized("请先登录。")
    raise Forbidden(message or GATE_MESSAGES[gate])


def gate(which: Gate) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """View decorator (or blueprint ``before_request``): pages send a visitor to the sign-in
    page, the API answers 401; a signed-in user without rights gets 403."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from flask_login import current_user

            from kb.errors import wants_json

            user = current_user._get_current_object()
            if not signed_in(user) and not wants_json():
                _record(f"gate:{which}", False)
                return current_app.login_manager.unauthorized()
            require_gate(user, which)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def gate_request(which: Gate) -> Callable[[], Any]:
    """A ``before_request`` function for a blueprint that is wholly behind one gate."""
    return gate(which)(lambda: None)


def nav(user: Any) -> dict[str, bool]:
    """What the navigation offers this user (display only; every route decides again)."""
    return {
        "is_staff": _allows(user, Gate.STAFF),
        "is_editor": _allows(user, Gate.EDITOR),
        "is_admin": _allows(user, Gate.ADMIN),
    }


def can(user: Any, action: Action, article: Any) -> bool:
    """May ``user`` (a User, an anonymous user or None) do ``action`` on ``article``?

    ``article`` is an Article or any row with its status, visibility, owner_id and
    allowed_orgs (so a column-only query can be filtered without loading whole articles)."""
    answer = _can(user, action, article)
    _record(f"article:{action}", answer)
    return answer


def _can(user: Any, action: Action, article: Any) -> bool:
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
    if not (_can(user, Action.READ, article) or _can(user, Action.READ_WORK, article)):
        raise NotFound()
    raise Forbidden("您没有权限对这篇文章执行此操作。")


def may_create_for(user: Any, organisation_id: int) -> bool:
    answer = signed_in(user) and (
        user.organisation_id == organisation_id
        if user.role == Role.EDITOR
        else user.role == Role.ADMIN
    )
    _record("article:create", answer)
    return answer


ALL = "all"


def desk_scope(user: Any) -> str | int | None:
    """Whose desk records (work material, revision requests, tickets, figures) ``user`` sees:
    ``ALL`` for the bureau's staff, an organisation id for an enterprise editor (his own
    enterprise's), None for anyone else."""
    if is_staff(user):
        answer: str | int | None = ALL
    elif signed_in(user) and user.role == Role.EDITOR:
        answer = user.organisation_id
    else:
        answer = None
    _record("desk:scope", answer is not None)
    return answer


def may_handle_request(user: Any, owner_id: int) -> bool:
    """Editors of the owning enterprise and the bureau's staff answer a revision request."""
    scope = desk_scope(user)
    return scope == ALL or (scope is not None and scope == owner_id)


def readable_slugs(s: Any, user: Any) -> set[str]:
    """The slugs whose article ``user`` may read in some form (published face or work
    material): what a link check may confirm exists, so it never reveals another
    enterprise's draft or a restricted article."""
    from sqlalchemy import select

    rows = s.execute(
        select(
            Article.slug, Article.status, Article.visibility, Article.owner_id, Article.allowed_orgs
        )
    )
    _record("article:readable_slugs", True)
    return {
        row.slug
        for row in rows
        if _can(user, Action.READ, row) or _can(user, Action.READ_WORK, row)
    }


def visible_terms(user: Any) -> list[str]:
    """ACL terms a reader matches; a document is visible when it carries any one of them."""
    _record("search:visible_terms", True)
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
