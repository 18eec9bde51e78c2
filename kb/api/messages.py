"""The one table of API validation messages: pydantic error types → Chinese, per field.

Every request body, query string and response of /api/v1 is a pydantic model; when a request
does not fit its model, each failing field gets one Chinese sentence from ``MESSAGES`` (prefixed
with the field's Chinese title where the model gives one), and the whole answer is the usual
``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from kb.errors import Invalid

# pydantic error type -> message; ``{name}`` is filled from the error's ``ctx``
MESSAGES: dict[str, str] = {
    "missing": "必填",
    "extra_forbidden": "无法识别的字段",
    "string_type": "应为文字",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_unicode": "应为有效的 UTF-8 文字",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_parsing_size": "数字过大",
    "int_from_float": "应为整数，不能带小数",
    "positive_int": "应为正整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "finite_number": "应为有限的数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "dict_type": "应为 JSON 对象",
    "model_type": "应为 JSON 对象",
    "model_attributes_type": "应为 JSON 对象",
    "literal_error": "应为：{expected}",
    "enum": "应为：{expected}",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "date_type": "应为 YYYY-MM-DD 格式的日期",
    "date_parsing": "应为 YYYY-MM-DD 格式的日期",
    "date_from_datetime_parsing": "应为 YYYY-MM-DD 格式的日期",
    "datetime_type": "应为 ISO 8601 时间，如 2025-03-01T09:30:00+08:00",
    "datetime_parsing": "应为 ISO 8601 时间，如 2025-03-01T09:30:00+08:00",
    "none_required": "应为空（null）",
    "union_tag_invalid": "类型不正确",
    "value_error": "取值不正确",
}
FALLBACK = "格式或类型不正确"
SUMMARY = "请求内容有 {count} 处问题，见 fields。"


def message_for(error: dict[str, Any], title: str | None = None) -> str:
    """One Chinese sentence for one pydantic error, with the field's title in front."""
    template = MESSAGES.get(error.get("type", ""), FALLBACK)
    ctx = {
        k: str(v).replace("'", "").replace(" or ", "、").replace(", ", "、")
        for k, v in (error.get("ctx") or {}).items()
    }
    try:
        text = template.format(**ctx)
    except (KeyError, IndexError):
        text = MESSAGES.get(error.get("type", ""), FALLBACK).split("{")[0].rstrip("：") or FALLBACK
    if title and error.get("type") not in ("missing", "extra_forbidden"):
        return f"{title}{text}"
    return text


def _field_name(loc: tuple[Any, ...]) -> str:
    """The field a message belongs to: the top-level name (``body`` for the body as a whole);
    in a union, pydantic adds the member type to the location, which a caller never wrote."""
    for part in loc:
        if (
            isinstance(part, str)
            and part not in _UNION_TAGS
            and not part.startswith(("list[", "function-"))
        ):
            return part[:64]
    return "body"


_UNION_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "literal"}


def to_invalid(exc: ValidationError, model: type[BaseModel], *, where: str = "请求") -> Invalid:
    """The API error for a request that does not fit ``model``: one message per field (the
    first problem found for it), and a summary naming how many fields are wrong."""
    fields: dict[str, str] = {}
    # a model may gather unknown fields under one name (articles: front_matter, as in a file)
    gather = getattr(model, "unknown_fields_under", None)
    unknown = [
        _field_name(tuple(e.get("loc") or ()))
        for e in exc.errors(include_url=False)
        if e.get("type") == "extra_forbidden"
    ]
    if gather and unknown:
        fields[gather] = "无法识别的字段：" + "、".join(unknown)
    for error in exc.errors(include_url=False):
        if gather and error.get("type") == "extra_forbidden":
            continue
        name = _field_name(tuple(error.get("loc") or ()))
        if name in fields:
            continue
        info = model.model_fields.get(name)
        title = info.title if info is not None else None
        fields[name] = message_for(dict(error), title)
    missing = [k for k, v in fields.items() if v == MESSAGES["missing"]]
    head = ("缺少必填字段：" + "、".join(missing) + "。") if missing else ""
    if list(fields) == ["body"]:
        return Invalid(f"{where}体{fields['body']}", fields=fields)
    return Invalid(head + SUMMARY.format(count=len(fields)), fields=fields)
