"""Small request helpers shared by the blueprints."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import request
from flask_login import current_user

from kb.errors import Invalid


def actor() -> Any:
    """The signed-in user object, or the anonymous user."""
    return current_user._get_current_object()


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target on this site only: a path, never another host or scheme."""
    if not target or any(ord(c) < 32 or c == "\\" for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def int_arg(name: str, default: int, low: int = 1, high: int = 10_000) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"参数 {name} 应为整数", fields={name: "应为整数"}) from None
    if not low <= value <= high:
        raise Invalid(
            f"参数 {name} 应在 {low}～{high} 之间", fields={name: f"应在 {low}～{high} 之间"}
        )
    return value
