"""One error family for the whole product, and one handler that answers as a page or as JSON.

Operations raise ``KbError`` with a Chinese message (and per-field messages where a field is
to blame); views never build error responses themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class KbError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra or {}


class Invalid(KbError):
    status = 422
    code = "invalid"


class NotFound(KbError):
    status = 404
    code = "not_found"

    def __init__(self, message: str = "页面不存在，或您无权查看。", **kw: Any) -> None:
        super().__init__(message, **kw)


class Forbidden(KbError):
    status = 403
    code = "forbidden"


class Conflict(KbError):
    status = 409
    code = "conflict"


class Unauthorized(KbError):
    status = 401
    code = "unauthorized"


class TooLarge(KbError):
    status = 413
    code = "too_large"


class RateLimited(KbError):
    status = 429
    code = "rate_limited"


HTTP_MESSAGES = {
    400: "请求格式不正确。",
    401: "请先登录。",
    403: "您没有权限执行此操作。",
    404: "页面不存在，或您无权查看。",
    405: "不支持此请求方法。",
    413: "提交的内容过大（请求体不能超过 1 MB）。",
    429: "请求过于频繁，请稍后再试。",
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(err: KbError) -> tuple[Response | str, int]:
    if wants_json():
        body: dict[str, Any] = {"code": err.code, "message": err.message, "fields": err.fields}
        body.update(err.extra)
        return jsonify({"error": body}), err.status
    return render_template("errors/error.html", error=err), err.status


def init_app(app: Flask) -> None:
    @app.errorhandler(KbError)
    def _kb_error(err: KbError):  # type: ignore[no-untyped-def]
        return error_response(err)

    @app.errorhandler(CSRFError)
    def _csrf(err: CSRFError):  # type: ignore[no-untyped-def]
        return error_response(
            KbError("页面已过期或请求来源不可信，请刷新页面后重试。", code="csrf", status=400)
        )

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):  # type: ignore[no-untyped-def]
        status = err.code or 500
        message = HTTP_MESSAGES.get(status, "请求无法处理。")
        return error_response(KbError(message, code=f"http_{status}", status=status))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            KbError("服务器内部错误，已记录，请稍后再试。", code="internal", status=500)
        )
