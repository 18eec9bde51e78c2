"""GET /api/v1/openapi.json is a valid OpenAPI 3.1 document that lists every /api/v1 route
the app registers, with its methods, so the description cannot drift from the code."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from openapi_spec_validator.versions import consts  # noqa: F401  (the 3.1 validator ships here)


def spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def resolve(document: dict, schema: dict) -> dict:
    """A schema with its ``$ref`` (into components/schemas) followed."""
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def registered_routes(app) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len("/api/v1") :])
        methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
        routes.setdefault(path, set()).update(methods)
    return routes


def test_spec_is_valid_openapi_3_1(client):
    document = spec(client)
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises with the reason when invalid


def test_spec_lists_every_registered_api_route_and_method(app, client):
    document = spec(client)
    servers = [s["url"] for s in document["servers"]]
    assert servers == ["/api/v1"]
    described = {
        path: set(item) - {"parameters", "summary", "description"}
        for path, item in document["paths"].items()
    }
    routes = registered_routes(app)
    assert routes, "no /api/v1 routes registered?"
    missing = {
        p: m - described.get(p, set()) for p, m in routes.items() if m - described.get(p, set())
    }
    assert missing == {}, f"routes without an OpenAPI description: {missing}"
    stale = {p: m - routes.get(p, set()) for p, m in described.items() if m - routes.get(p, set())}
    assert stale == {}, f"described but not registered: {stale}"


def test_path_parameters_are_declared(client):
    document = spec(client)
    for path, item in document["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, method)


def test_errors_are_described_in_the_shape_the_api_answers(client):
    document = spec(client)
    error = resolve(document, document["components"]["schemas"]["Error"]["properties"]["error"])
    assert set(error["required"]) == {"code", "message", "fields"}
    answer = client.get("/api/v1/articles/no-such-article").get_json()
    assert set(answer["error"]) >= set(error["required"])
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert any(code.startswith("4") for code in operation["responses"]), (path, method)


def body_schema(document: dict, path: str, method: str) -> dict:
    operation = document["paths"][path][method]
    return resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])


def test_ticket_body_lists_every_work_order_field_required_or_optional(client):
    from kb import tickets

    ticket = body_schema(spec(client), "/tickets", "post")
    assert set(ticket["properties"]) == tickets.FIELDS
    assert set(ticket["required"]) == set(tickets.REQUIRED)
    assert ticket["additionalProperties"] is False
    props = ticket["properties"]
    assert props["ticket_no"]["title"] == "工单编号"
    assert props["channel"]["enum"] == list(tickets.CHANNELS)
    assert props["handling"]["enum"] == list(tickets.HANDLINGS)
    assert {"type": "boolean"} in props["user_reviewed"]["anyOf"]
    assert props["closed_at"]["format"] == "date-time"
    assert props["articles"]["anyOf"][0]["items"] == {"type": "string"}


def test_every_body_and_response_has_a_described_shape(client):
    document = spec(client)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, answer in operation["responses"].items():
                schema = resolve(document, answer["content"]["application/json"]["schema"])
                assert schema.get("properties"), (path, method, code)
                if code.startswith("4"):
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                assert body_schema(document, path, method)["properties"], (path, method)
    article = body_schema(document, "/articles", "post")
    assert {"title", "type", "category", "visibility", "markdown", "source"} <= set(
        article["properties"]
    )
    unavailable = document["paths"]["/search"]["get"]["responses"]["503"]
    assert unavailable["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert "weak" in resolve(document, {"$ref": "#/components/schemas/SearchResult"})["required"]
    vote = body_schema(document, "/articles/{slug}/feedback", "post")
    assert vote["required"] == ["helpful"]


def test_wrong_types_get_a_chinese_message_for_each_field(app, client):
    from sqlalchemy import select

    from kb import db, tickets
    from kb.accounts import SYSTEM, create_token
    from kb.models import Ticket

    with app.app_context():
        s = db.session()
        token = create_token(s, SYSTEM, tickets.platform_user(s, SYSTEM, "demo"), "platform")
        s.commit()
    body = {
        "ticket_no": "GX-2025-0100",
        "customer_org": "某某市政务服务中心",
        "channel": "传真",
        "reported_at": "2025-03-01T09:00:00+08:00",
        "created_at": "2025-03-01T09:10:00+08:00",
        "handling": "线上",
        "product": 123,
        "solution": "重新安装驱动。",
        "closed_at": "2025-03-01T10:00:00+08:00",
        "user_reviewed": "yes",
        "articles": "printer-offline",
    }
    response = client.post(
        "/api/v1/tickets", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid"
    assert error["message"] == "请求内容有 4 处问题，见 fields。"
    assert error["fields"] == {
        "channel": "问题反馈渠道应为：电话、在线、邮件",
        "product": "涉及产品品牌型号应为文字",
        "user_reviewed": "用户是否点评应为 true 或 false",
        "articles": "引用文章应为列表",
    }
    with app.app_context():
        assert db.session().scalar(select(Ticket).limit(1)) is None  # nothing was stored


def test_a_row_id_too_long_for_the_database_is_not_found(client):
    response = client.post("/api/v1/requests/" + "9" * 30 + "/decline", json={"reply": "x"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "http_404"
