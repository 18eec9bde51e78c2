"""The bureau's test world (issue 11), counted by hand in tests/test_evaluation.py's docstring:
articles of two enterprises in every state, reads by each kind of reader, votes, a declined
and an open revision request, two tickets, and the curators' thresholds, all made through the
real operations and pages."""

from __future__ import annotations

from datetime import date, timedelta

from kb import articles as ops
from kb import db
from kb.accounts import SYSTEM
from kb.models import utcnow
from tests.conftest import draft, get_article
from tests.test_tickets import platform_token, ticket

THRESHOLDS = {
    "min_published": "4",
    "min_kinds": "3",
    "min_changed": "1",
    "min_check_pass": "75",
    "min_fresh": "75",
    "min_open": "75",
    "min_unit_reads": "3",
    "min_answered": "100",
    "min_linked": "50",
}
STALE = date(2024, 3, 1)


def republish(app, slug: str) -> None:
    """Publish a second revision of a published article (real save + publish)."""
    with app.app_context():
        s = db.session()
        article = get_article(app, slug)
        article = s.merge(article)
        ops.save(s, SYSTEM_EDITOR(s), article, draft(title="打印机脱机（修订）", review_by=STALE))
        article.working_revision.state = "submitted"
        article.pending = "submitted"
        ops.publish(s, SYSTEM, article, "修订")
        ops.commit(s)


def SYSTEM_EDITOR(s):
    from sqlalchemy import select

    from kb.models import User

    return s.scalar(select(User).where(User.username == "editor"))


def build_world(app, client, login_as, make_article):  # type: ignore[no-untyped-def]
    make_article(slug="a-faq", title="常见问题甲", type="常见问题")
    make_article(slug="b-fault", title="故障处理乙", review_by=STALE)
    republish(app, "b-fault")
    make_article(slug="c-guide", title="操作指南丙", type="操作指南", visibility="registered")
    make_article(slug="d-theory", title="技术原理丁", type="技术原理", visibility="restricted")
    make_article("archived", slug="e-archived", title="已归档戊")
    make_article("draft", slug="f-draft", title="草稿己")
    make_article(
        slug="g-other",
        title="另一企业庚",
        owner="other",
        visibility="restricted",
        allowed_orgs=["demo-unit"],
        review_by=STALE,
    )
    reader, reader2, editor = login_as("reader"), login_as("reader2"), login_as("editor")
    for c, slug in (
        (reader, "a-faq"),
        (reader, "c-guide"),
        (reader2, "b-fault"),
        (reader, "g-other"),
        (editor, "a-faq"),
        (client, "a-faq"),
    ):
        response = c.get(f"/articles/{slug}")
        assert response.status_code == 200
        response.close()  # the server closes the response after sending: the read is counted
    vote = {"helpful": False, "reason": "内容有误", "comment": "步骤不对"}
    first = reader.post("/api/v1/articles/a-faq/feedback", json=vote).get_json()["request_id"]
    reader2.post("/api/v1/articles/b-fault/feedback", json=vote)
    answered = editor.post(f"/api/v1/requests/{first}/decline", json={"reply": "已核实，步骤无误"})
    assert answered.status_code == 200
    headers = platform_token(app, "demo")
    closed = (utcnow() - timedelta(minutes=5)).isoformat()
    for no, articles in (("T1", ["a-faq"]), ("T2", None)):
        body = ticket(ticket_no=no, closed_at=closed, articles=articles)
        assert client.post("/api/v1/tickets", json=body, headers=headers).status_code == 201
    curator = login_as("curator")
    assert curator.post("/evaluation/settings", data=THRESHOLDS).status_code == 302
    return curator
