"""Request glue shared by all blueprints: who the caller is, template helpers and labels, and
security headers. No business logic lives here.

Authentication is wired here and nowhere else: an ``Authorization: Bearer`` token, when a
request carries one, alone decides who the caller is (a session cookie sent alongside is
ignored, and an invalid token is refused rather than falling back to the cookie); otherwise
the server-side session behind the session or remember cookie (kb/sessions.py). A write to the
JSON API made with a session must carry the CSRF token; one made with a token need not, since
a browser never adds the header by itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, g, redirect, request, url_for
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from kb import accounts, db, pii, sessions
from kb.errors import Forbidden, Unauthorized, wants_json
from kb.extensions import csrf, login_manager
from kb.frontmatter import CATEGORIES, TYPES
from kb.permissions import policy
from kb.permissions.roles import (
    ORG_KIND_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    VISIBILITY_LABELS,
)

# Every date a person reads is China time; the database keeps UTC.
CHINA = ZoneInfo("Asia/Shanghai")

# Offline intranet: everything comes from this server; inline script is never needed.
CSP = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def localtime(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """The one date filter of every template: a UTC datetime (or ISO text with an offset, as
    search hits carry) shown in China time."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return ""
        if value.tzinfo is None:
            return ""
    return value.astimezone(CHINA).strftime(fmt)


class RowId(IntegerConverter):
    """``<int:...>`` in every route: a database row id, so at most SQLite's 64-bit integer; a
    longer number is no such page (404) rather than an overflow in the query (500)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


# Blueprints exempt from the form CSRF check because they speak JSON to tokens as well
API_BLUEPRINTS = {"api"}  # the whole JSON API is one blueprint (kb/api/)
# Where a user who must change the password may still go
_PASSWORD_CHANGE_OPEN = {"auth.change_password", "auth.logout", "auth.login", "static"}


# pages that set or clear sign-in state are never cached either
_NO_STORE = {"auth.login", "auth.logout", "auth.change_password"}


def _authenticate() -> Any:
    """Decide who the caller is (see the module docstring); runs before every view."""
    token = bearer_token()
    if token is not None:
        user = accounts.user_for_token(db.session(), token)
        if user is None:
            raise Unauthorized("API 令牌无效、已过期或已吊销。")
        db.session().commit()  # last_used_at
        g._login_user = user  # Flask-Login's per-request user: the cookie is never consulted
        g.kb_auth = "token"
        return None
    g.kb_auth = "session"
    user = current_user._get_current_object()
    if not user.is_authenticated:
        return None
    if (
        request.blueprint in API_BLUEPRINTS
        and request.method not in ("GET", "HEAD", "OPTIONS")
        and current_app.config.get("WTF_CSRF_ENABLED", True)
    ):
        csrf.protect()
    due = accounts.password_change_due(user)
    if due and request.endpoint not in _PASSWORD_CHANGE_OPEN:
        if wants_json():
            raise Forbidden(due, code="password_change_required")
        return redirect(url_for("auth.change_password", next=request.full_path.rstrip("?")))
    return None


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = RowId  # before the blueprints add their rules

    @login_manager.user_loader
    def _load(session_key: str) -> Any:
        return sessions.load(db.session(), session_key)

    app.before_request(_authenticate)

    # Constant vocabularies are Jinja globals, so macros imported without context see them too.
    app.jinja_env.globals.update(
        TYPES=TYPES,
        CATEGORIES=CATEGORIES,
        STATUS_LABELS=STATUS_LABELS,
        VISIBILITY_LABELS=VISIBILITY_LABELS,
        ROLE_LABELS=ROLE_LABELS,
        ORG_KIND_LABELS=ORG_KIND_LABELS,
    )

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return policy.nav(current_user)

    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(pii.mask, "masked")

    @app.after_request
    def _headers(response: Response) -> Response:
        # g._login_user is set once anyone asked who the caller is; a signed-in answer is
        # personal and must not be kept by the browser or a proxy (back button after logout)
        user = g.get("_login_user")
        if (user is not None and user.is_authenticated) or request.endpoint in _NO_STORE:
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        # a banner set by the app or a library; the WSGI server's own is switched off where it
        # is started (`kb serve`: waitress ident="")
        response.headers.pop("Server", None)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
