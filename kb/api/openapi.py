"""The OpenAPI 3.1 document of /api/v1, generated from the declared operations and their
pydantic models (``model_json_schema``), served at /api/v1/openapi.json.

Each model appears once under components/schemas and is referenced with ``$ref``; request
bodies list their properties and required fields, every response its shape, and every
operation the one error shape for its 4xx answers.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from flask import Response, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from kb.api import JSON, MARKDOWN, OPERATIONS, Operation, operation
from kb.api import models as m

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"<(?:([^:<>]+):)?([^<>]+)>")


class OpenApiDocument(m.Response):
    """An OpenAPI 3.1 document (see https://spec.openapis.org/oas/v3.1.0)."""

    openapi: str
    info: dict[str, Any]
    servers: list[dict[str, Any]]
    paths: dict[str, Any]
    components: dict[str, Any]


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """OpenAPI path and path parameters of a Flask rule."""
    params = []
    for converter, name in _PARAM.findall(rule):
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
            if converter == "int"
            else {"type": "string", "pattern": "^[^/]+$", "minLength": 1, "maxLength": 200}
        )
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(r"{\2}", rule), params


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True, ref_template=REF)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        out.append(param)
    return out


def _content(ref: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": ref}}


def _operation(op: Operation, refs: dict[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    _, params = _path(op.rule)
    if op.query is not None:
        params += _query_params(op.query)
    error = refs[(m.Error, "serialization")]
    responses: dict[str, Any] = {
        str(op.status): {
            "description": "成功",
            "content": _content(refs[(op.response, "serialization")]),
        },
        "4XX": {"description": "请求有误、未登录、无权限或对象不存在", "content": _content(error)},
    }
    if op.status == 201:  # an update of an existing record answers 200 with the same shape
        responses.setdefault(
            "200",
            {"description": "成功", "content": _content(refs[(op.response, "serialization")])},
        )
    for status in op.errors:
        responses[str(status)] = {
            "description": "服务暂不可用（如搜索索引正在重建：index_unavailable）",
            "content": _content(error),
        }
    doc: dict[str, Any] = {
        "operationId": op.endpoint,
        "summary": op.summary,
        "parameters": params,
        "responses": responses,
    }
    if op.body is not None:
        content: dict[str, Any] = {}
        for kind in op.body_types:
            if kind == JSON:
                content[JSON] = {"schema": refs[(op.body, "validation")]}
            elif kind == MARKDOWN:
                content[MARKDOWN] = {
                    "schema": {
                        "type": "string",
                        "description": "Markdown，开头为 YAML front matter",
                    }
                }
        doc["requestBody"] = {"required": op.body_required, "content": content}
    if op.auth:
        doc["security"] = [{"bearer": []}, {"session": []}]
    return doc


@cache
def spec() -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], Any]] = [(m.Error, "serialization")]
    for op in OPERATIONS:
        wanted.append((op.response, "serialization"))
        if op.body is not None:
            wanted.append((op.body, "validation"))
    wanted = list(dict.fromkeys(wanted))
    refs, defs = models_json_schema(wanted, ref_template=REF)
    schemas = defs.get("$defs", {})
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        path, _ = _path(op.rule)
        paths.setdefault(path, {})[op.method] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kb 知识库 API",
            "version": "1",
            "description": "出错时一律答复 {error: {code, message, fields}}，"
            "fields 为各字段的中文说明。",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "kb token create 生成的令牌",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": schemas,
        },
    }


@operation(
    "GET",
    "/openapi.json",
    summary="本 API 的 OpenAPI 3.1 描述",
    response=OpenApiDocument,
    endpoint="openapi",
)
def openapi() -> Response:
    return jsonify(spec())
