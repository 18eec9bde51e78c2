"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(
    summary: str,
    *,
    params: list[str] | None = None,
    body: str | None = None,
    ok: str = "200",
    auth: bool = False,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [
            {
                "name": p.strip("{}"),
                "in": "path" if p.startswith("{") else "query",
                "required": p.startswith("{"),
                "schema": {"type": "string"},
            }
            for p in params or []
        ],
        "responses": {
            ok: {
                "description": "成功",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "4XX": {"description": "错误", "content": {"application/json": {"schema": ERROR}}},
        },
    }
    if body:
        op["requestBody"] = {
            "content": {body: {"schema": {"type": "object" if "json" in body else "string"}}}
        }
    if auth:
        op["security"] = [{"bearer": []}, {"session": []}]
    return op


def _diff_op() -> dict[str, Any]:
    """The diff answer: the line diff, and the review desk's marks inside the line."""
    op = _op(
        "两个修订的差异：lines 为行差异；html 与 rows 在行内用 <del>/<ins> 标出改动的字词"
        "（其余文字已转义）",
        params=["{slug}", "from", "to"],
        auth=True,
    )
    line = {"type": ["integer", "null"]}
    op["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "object",
        "required": ["slug", "from", "to", "lines", "html", "rows"],
        "properties": {
            "slug": {"type": "string"},
            "from": {"type": "integer"},
            "to": {"type": "integer"},
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "op": {"type": "string", "enum": ["+", "-", " ", "@"]},
                        "text": {"type": "string"},
                    },
                },
            },
            "html": {"type": "string", "description": "全部行，改动处带 <del>/<ins>"},
            "rows": {
                "type": "array",
                "description": "改动的行：旧行与新行对齐，各自带标记",
                "items": {
                    "type": "object",
                    "properties": {
                        "op": {"type": "string", "enum": ["replace", "insert", "delete"]},
                        "old_line": line,
                        "new_line": line,
                        "old_html": {"type": "string"},
                        "new_html": {"type": "string"},
                        "html": {"type": "string"},
                    },
                },
            },
        },
    }
    return op


def spec() -> dict[str, Any]:
    slug = "{slug}"
    paths: dict[str, Any] = {
        "/articles": {
            "get": _op(
                "文章列表（按权限过滤）", params=["status", "type", "category", "page", "per_page"]
            ),
            "post": _op(
                "新建文章草稿（Markdown+front matter 或 JSON 字段）",
                body="text/markdown",
                ok="201",
                auth=True,
            ),
        },
        "/articles/{slug}": {
            "get": _op(
                "文章元数据、Markdown、HTML 与修订号；stale（已过复核日期）、replaced_by、replaces",
                params=[slug, "revision"],
            ),
            "put": _op(
                "保存新的工作修订；base_revision 为编辑所基于的修订号，"
                "之后已有更新的修订时答复 409 edit_conflict（含 current_revision）",
                params=[slug, "resolves", "base_revision"],
                body="text/markdown",
                auth=True,
            ),
        },
        "/articles/{slug}/revisions": {"get": _op("修订历史", params=[slug], auth=True)},
        "/articles/{slug}/diff": {"get": _diff_op()},
        "/openapi.json": {"get": _op("本 API 的 OpenAPI 3.1 描述")},
    }
    for name, summary in (
        ("submit", "提交审核"),
        ("withdraw", "撤回提交"),
        ("publish", "发布（审核员）"),
        ("return", "退回（审核员，需 reason）"),
        ("archive", "归档（审核员）：{reason, replaced_by（替代文章标识，旧地址 301 跳转）}"),
        ("restore", "恢复发布（审核员）"),
    ):
        paths[f"/articles/{{slug}}/{name}"] = {
            "post": _op(summary, params=[slug], body="application/json", auth=True)
        }
    from kb.openapi_extra import extra_paths

    paths.update(extra_paths())
    return {
        "openapi": "3.1.0",
        "info": {"title": "kb 知识库 API", "version": "1"},
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
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "fields": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                            "required": ["code", "message", "fields"],
                        }
                    },
                }
            },
        },
    }
