"""One policy: every route that reads or writes data asks kb/permissions/ at least once.

Modelled on datasette's ``assert_permissions_checked``: each request records the decisions it
asked (``policy.checks_asked``); this test walks every rule of ``app.url_map`` with real
values, as a visitor and as each kind of signed-in user, and fails for a route that answered
without asking. A new route therefore cannot forget the policy. The few routes that touch
no protected data say so below, with the reason.

Also here: the link check sees only slugs the caller may read, and personal data in
feedback comments is masked wherever shown, revealed only to a curator and audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import request, request_finished
from sqlalchemy import select

from kb import db
from kb.models import AuditEvent, RevisionRequest, Ticket
from kb.permissions import policy
from tests.conftest import GOOD_BODY, create_article, login, world_app

# endpoint -> why it needs no decision
NO_DATA = {
    "static": "files shipped with the program",
    "articles.help_page": "fixed help text",
    "articles.favicon": "the site icon",
    "auth.login": "the sign-in form: who the caller is, is what it finds out",
    "auth.logout": "ends only the caller's own sessions",
    "api.openapi": "the public description of the API",
}
PHONE = "13812345678"
COMMENT = f"第三步找不到菜单，请回电 {PHONE} 或发邮件 zhang.san@example.cn"


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with world_app(tmp_path_factory.mktemp("policy")) as app:
        slug = create_article(app, "published")
        other_draft = create_article(app, "draft", owner="other", title="另一企业的草稿说明文章")
        reader = login(app.test_client(), "reader")
        vote = reader.post(
            f"/api/v1/articles/{slug}/feedback",
            json={"helpful": False, "reason": "步骤无法操作", "comment": COMMENT},
        )
        assert vote.status_code in (200, 201), vote.get_data(as_text=True)
        reader.get("/search?q=打印机")
        from tests.test_tickets import platform_token, ticket

        posted = app.test_client().post(
            "/api/v1/tickets", json=ticket(articles=[slug]), headers=platform_token(app)
        )
        assert posted.status_code in (200, 201), posted.get_data(as_text=True)
        with app.app_context():
            request_id = db.session().scalar(select(RevisionRequest.id))
            ticket_id = db.session().scalar(select(Ticket.id))
        yield {
            "app": app,
            "slug": slug,
            "other_draft": other_draft,
            "request_id": request_id,
            "ticket_id": ticket_id,
        }


def url_for_rule(rule: Any, world: dict[str, Any]) -> str:
    values = {
        "slug": world["slug"],
        "request_id": world["request_id"],
        "ticket_id": world["ticket_id"],
        "log_id": 1,
        "username": "reader2",
        "filename": "kb.css",
    }
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def test_every_route_that_touches_data_asks_the_policy(world):
    app = world["app"]
    asked: list[tuple[str, list[tuple[str, bool]]]] = []

    def remember(sender: Any, response: Any, **extra: Any) -> None:
        asked.append((request.endpoint or "", policy.checks_asked()))

    silent: set[tuple[str, str, str]] = set()
    callers = {"visitor": None, "reader": "reader", "editor": "editor", "curator": "curator"}
    with request_finished.connected_to(remember, app):
        for caller, username in callers.items():
            for rule in app.url_map.iter_rules():
                if rule.endpoint in NO_DATA:
                    continue
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    # a fresh sign-in each time: a route may legitimately end the session
                    client = app.test_client()
                    if username:
                        login(client, username)
                    asked.clear()
                    response = client.open(url_for_rule(rule, world), method=method, json={})
                    assert response.status_code < 500, (rule.rule, method, caller)
                    mine = [checks for endpoint, checks in asked if endpoint == rule.endpoint]
                    if not mine or not mine[0]:
                        silent.add((rule.endpoint, method, caller))
    assert not silent, f"routes that answered without asking kb/permissions: {sorted(silent)}"


def test_the_exempt_routes_exist():
    """The exemption list names real endpoints (a renamed one must not stay exempt)."""
    from kb import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "sqlite://"})
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert set(NO_DATA) <= endpoints


def test_link_check_sees_only_slugs_the_caller_may_read(world):
    app = world["app"]
    links = f"见 [另一篇](/articles/{world['other_draft']}) 和 [本篇](/articles/{world['slug']})。"
    body = f"{GOOD_BODY}\n{links}\n"

    def unknown_links(username: str) -> list[str]:
        client = login(app.test_client(), username)
        findings = client.post("/api/v1/check", json={"markdown": body}).get_json()["findings"]
        return [f["message"] for f in findings if world["other_draft"] in f["message"]]

    # the other enterprise's draft is "unknown" to this editor, exactly like a missing slug
    assert unknown_links("editor")
    missing = login(app.test_client(), "editor").post(
        "/api/v1/check",
        json={"markdown": body.replace(world["other_draft"], "no-such-article-at-all")},
    )
    assert [f["rule"] for f in missing.get_json()["findings"]] == [
        f["rule"]
        for f in login(app.test_client(), "editor")
        .post("/api/v1/check", json={"markdown": body})
        .get_json()["findings"]
    ]
    # its own enterprise's editor and the bureau know it exists
    assert unknown_links("editor2") == []
    assert unknown_links("curator") == []


def test_personal_data_in_feedback_is_masked_for_editors_and_curators(world):
    app = world["app"]
    for username, path in (
        ("editor", "/feedback/requests"),
        ("curator", "/feedback/overview"),
        ("curator", f"/articles/{world['slug']}"),
        ("reader", "/feedback/mine"),
    ):
        page = login(app.test_client(), username).get(path).get_data(as_text=True)
        assert "第三步找不到菜单" in page, (username, path)
        assert PHONE not in page and "zhang.san@" not in page, (username, path)
        assert "138****5678" in page
    api = login(app.test_client(), "editor").get("/api/v1/requests").get_json()
    text = str(api)
    assert "138****5678" in text and PHONE not in text and "zhang.san@" not in text
    mine = login(app.test_client(), "reader").get("/api/v1/feedback/mine").get_json()
    assert PHONE not in str(mine)


def test_only_a_curator_reveals_the_original_and_it_is_audited(world):
    app = world["app"]
    path = f"/feedback/requests/{world['request_id']}/comment"
    for username in ("editor", "reader", "admin"):
        assert login(app.test_client(), username).get(path).status_code == 403, username
    assert app.test_client().get(path).status_code == 302  # to the sign-in page
    curator = login(app.test_client(), "curator")
    assert "查看原文" in curator.get("/feedback/overview").get_data(as_text=True)
    assert "查看原文" not in login(app.test_client(), "editor").get("/feedback/requests").get_data(
        as_text=True
    )

    def reveals() -> list[tuple[str, str]]:
        with app.app_context():
            query = select(AuditEvent).where(AuditEvent.action == "feedback.reveal")
            return [(e.actor_name, e.object_id) for e in db.session().scalars(query)]

    before = reveals()
    page = curator.get(path)
    assert page.status_code == 200 and PHONE in page.get_data(as_text=True)
    assert reveals() == [*before, ("curator", str(world["request_id"]))]
