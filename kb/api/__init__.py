"""The JSON API (/api/v1): one blueprint, one authentication path, typed bodies.

Every route is declared with ``operation``: its method and path, the pydantic models of its
query string, request body and response, and whether it needs a signed-in caller. The same
declarations drive request validation (``query``/``body``), response shaping (``respond``) and
the OpenAPI document (kb/api/openapi.py), so the three cannot disagree.

Authentication is the session cookie or ``Authorization: Bearer <token>``, decided once per
request for the whole app in kb/web.py (``_authenticate``; this blueprint is its
``API_BLUEPRINTS``): a session-authenticated write must carry the CSRF token (header
``X-CSRFToken``); a token-authenticated one need not, since a browser never sends the header by
itself. Handlers live in kb/api/articles.py, search.py, loops.py and bureau.py, grouped by subject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError

from kb import jsonio
from kb.api.messages import to_invalid
from kb.errors import Invalid
from kb.extensions import csrf
from kb.permissions import policy
from kb.permissions.policy import Gate
from kb.views.util import actor

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

M = TypeVar("M", bound=BaseModel)
JSON = "application/json"
MARKDOWN = "text/markdown"


@dataclass
class Operation:
    """One documented route: what it takes and what it answers."""

    method: str
    rule: str  # Flask rule, e.g. /articles/<slug>
    endpoint: str
    summary: str
    response: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    body_types: tuple[str, ...] = (JSON,)
    body_required: bool = True
    query: type[BaseModel] | None = None
    auth: bool = False
    errors: tuple[int, ...] = ()  # 5xx answers the operation may give on purpose


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    rule: str,
    *,
    summary: str,
    response: type[BaseModel],
    status: int = 200,
    body: type[BaseModel] | None = None,
    body_types: tuple[str, ...] = (JSON,),
    body_required: bool = True,
    query: type[BaseModel] | None = None,
    auth: bool = False,
    errors: tuple[int, ...] = (),
    endpoint: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler on the blueprint and describe it for the OpenAPI document."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        name = endpoint or view.__name__
        OPERATIONS.append(
            Operation(
                method.lower(),
                rule,
                name,
                summary,
                response,
                status,
                body,
                body_types,
                body_required,
                query,
                auth,
                errors,
            )
        )
        bp.add_url_rule(rule, name, view, methods=[method.upper()])
        return view

    return register


def require_user() -> Any:
    """The signed-in caller, or 401."""
    user = actor()
    policy.require_gate(user, Gate.SIGNED_IN)
    return user


def raw_json() -> Any:
    """The request body parsed strictly (depth, NaN, duplicates, lone surrogates → 400)."""
    return jsonio.loads(
        request.get_data(cache=True), max_depth=current_app.config["MAX_JSON_DEPTH"]
    )


def require_json() -> None:
    """Write bodies of the loop API must be JSON, so a cross-site form cannot post them."""
    if (request.mimetype or "") != JSON:
        raise Invalid(
            "请求体应为 JSON（Content-Type: application/json）",
            fields={"body": "应为 JSON"},
            status=415,
        )


def validate(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or the one error shape with a Chinese message per field (a body
    that is not an object at all is blamed on the field ``body``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise to_invalid(exc, model) from None


def body(model: type[M]) -> tuple[M, dict[str, Any]]:
    """The JSON request body checked against ``model``; also the fields as sent, for the
    operations that check the rules of the trade on the caller's own field names."""
    data = raw_json()
    return validate(model, data), data


def query(model: type[M]) -> M:
    """The query string as ``model``; empty parameters count as absent."""
    args = {k: v for k, v in request.args.items() if v != ""}
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        error = to_invalid(exc, model, where="参数")
        error.message = "参数有误：" + "；".join(f"{k} {v}" for k, v in error.fields.items())
        raise error from None


def respond(model: type[BaseModel], data: Any, status: int = 200) -> tuple[Response, int]:
    """Answer ``data`` through its response model: what is sent is what the spec says."""
    shaped = model.model_validate(data)
    return jsonify(shaped.model_dump(mode="json", by_alias=True, exclude_unset=True)), status


# the handlers register themselves on import
from kb.api import articles, bureau, loops, search  # noqa: E402, F401
from kb.api import openapi as _openapi  # noqa: E402, F401
