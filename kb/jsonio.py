"""Strict JSON for the API: bad UTF-8, NaN/Infinity, duplicate keys, deep nesting and lone
surrogates are refused with a clear 400 before they can reach an operation or the database."""

from __future__ import annotations

import json
from typing import Any

from kb.errors import KbError


class BadJson(KbError):
    """The request body as a whole is unusable: the field to blame is the body itself."""

    status = 400
    code = "bad_json"

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("fields", {"body": message})
        super().__init__(message, **kw)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BadJson(f"JSON 中的字段“{key}”重复出现", fields={key: "字段重复"})
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise BadJson(f"JSON 中不能使用 {name}，请使用普通数字")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e999 is Infinity by another name
        raise BadJson(f"JSON 中的数字 {text[:30]} 超出范围，请使用普通数字")
    return value


def _depth_ok(raw: str, limit: int) -> bool:
    """Nesting depth counted on the text, so the parser never recurses past the limit."""
    depth = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadJson("JSON 中包含无效字符（孤立的代理项），请检查文本编码") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(data: bytes, *, max_depth: int = 20) -> Any:
    """Parse a request body strictly; raises ``BadJson`` with a Chinese message."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson("请求内容不是有效的 UTF-8 编码") from None
    if not text.strip():
        raise BadJson("请求体为空，应为 JSON")
    if not _depth_ok(text, max_depth):
        raise BadJson(f"JSON 嵌套层级过深（最多 {max_depth} 层）")
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
            parse_float=_finite,
        )
    except BadJson:
        raise
    except json.JSONDecodeError as exc:
        raise BadJson(f"JSON 格式错误：第 {exc.lineno} 行第 {exc.colno} 列附近无法解析") from None
    except (ValueError, RecursionError):
        raise BadJson("JSON 中有无法处理的值（如过长的数字）") from None
    _check_strings(value)
    return value
