"""Request glue shared by all blueprints: who the user is (session or API token), template
helpers and labels, and security headers. No business logic lives here."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, request
from flask_login import current_user

from kb import accounts, db
from kb.extensions import login_manager
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


def init_app(app: Flask) -> None:
    @login_manager.user_loader
    def _load(user_id: str) -> Any:
        return accounts.load_user(db.session(), user_id)

    @login_manager.request_loader
    def _from_token(_request: Any) -> Any:
        token = bearer_token()
        if token is None:
            return None
        user = accounts.user_for_token(db.session(), token)
        if user is not None:
            db.session().commit()  # last_used_at
        return user

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
        return {
            "is_staff": policy.is_staff(current_user),
            "is_editor": policy.signed_in(current_user) and current_user.role == "editor",
            "is_admin": policy.signed_in(current_user) and current_user.role == "admin",
        }

    app.add_template_filter(localtime, "localtime")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
