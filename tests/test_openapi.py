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
