"""The figures of both loops on a fixture small enough to count by hand.

Enterprise demo: articles A (printer-offline) and B (printer-driver); five closed tickets:
  T-1 cites A · T-2 cites A and B · T-3 cites none → draft, published · T-4, T-5 cite none → drafts
  → linked 3 of 5 (0.6); 3 articles from tickets, 1 published; reuse A 2, B 1, T-3's draft 1
  votes on A: reader 没帮助/内容过时 (request r1, opened 2 days ago, closed by a revision),
  reader2 有帮助, a visitor 有帮助; on B: reader 没帮助/缺少内容 (r2, opened 30 days ago: overdue)
Enterprise other: article C (other-scanner); one ticket citing C → 1 of 1
  votes on C: reader 没帮助/表述不清 (r3, open), reader2 没帮助/其他 (r4, declined)
Overall: 4 of 6 linked (0.6667); requests open 2 (overdue 1), closed 1, declined 1; median 2 days.
"""

from __future__ import annotations

from datetime import timedelta

from kb import db
from kb.models import RevisionRequest, utcnow
from tests.conftest import GOOD_BODY
from tests.test_tickets import platform_token, ticket

FRONT = """---
title: 打印机显示脱机的处理方法
type: 故障处理
category: 打印与扫描
products: [惠普 LaserJet M1136]
visibility: public
summary: 打印机脱机时按本文重新添加打印机。
---

"""


def _backdate(app, request_id: int, days: int) -> None:
    with app.app_context():
        s = db.session()
        s.get(RevisionRequest, request_id).created_at = utcnow() - timedelta(days=days)
        s.commit()


def _vote(client, slug: str, **body) -> int | None:
    response = client.post(f"/api/v1/articles/{slug}/feedback", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["request_id"]


def build(app, client, login_as, make_article) -> None:
    a = make_article(slug="printer-offline")
    b = make_article(slug="printer-driver", title="打印机驱动的安装方法")
    c = make_article(slug="other-scanner", owner="other", title="扫描仪无法识别的处理方法")
    demo, other = platform_token(app, "demo"), platform_token(app, "other")
    reader, reader2 = login_as("reader"), login_as("reader2")
    editor, editor2, curator = login_as("editor"), login_as("editor2"), login_as("curator")

    posts = [
        (demo, ticket(ticket_no="T-1", articles=[a])),
        (demo, ticket(ticket_no="T-2", articles=[a, b], closed_at="2025-04-01T10:00:00+08:00")),
        (demo, ticket(ticket_no="T-3")),
        (demo, ticket(ticket_no="T-4")),
        (demo, ticket(ticket_no="T-5")),
        (other, ticket(ticket_no="T-1", articles=[c], product="惠普 ScanJet 2500")),
    ]
    for headers, body in posts:
        assert client.post("/api/v1/tickets", json=body, headers=headers).status_code == 201
    assert editor.post("/api/v1/articles/ticket-demo-t-3/submit").status_code == 200
    assert curator.post("/api/v1/articles/ticket-demo-t-3/publish").status_code == 200

    r1 = _vote(reader, a, helpful=False, reason="内容过时")
    _vote(reader2, a, helpful=True)
    _vote(app.test_client(), a, helpful=True)
    r2 = _vote(reader, b, helpful=False, reason="缺少内容")
    _vote(reader, c, helpful=False, reason="表述不清")
    r4 = _vote(reader2, c, helpful=False, reason="其他")
    _backdate(app, r1, 2)
    _backdate(app, r2, 30)
    revised = FRONT + GOOD_BODY.replace("删除旧的打印机", "删除旧的打印机（右键 → 删除）")
    saved = editor.put(
        f"/api/v1/articles/{a}?resolves={r1}",
        data=revised,
        headers={"Content-Type": "text/markdown"},
    )
    assert saved.status_code == 200
    assert editor.post(f"/api/v1/articles/{a}/submit").status_code == 200
    assert curator.post(f"/api/v1/articles/{a}/publish").status_code == 200
    assert (
        editor2.post(f"/api/v1/requests/{r4}/decline", json={"reply": "已补充截图说明"}).status_code
        == 200
    )


def test_figures_match_the_hand_count(app, client, login_as, make_article):
    build(app, client, login_as, make_article)
    curator = login_as("curator")
    data = curator.get("/api/v1/stats").get_json()
    by_code = {e["code"]: e for e in data["enterprises"]}
    assert list(by_code) == ["demo", "other"]
    demo, other, overall = by_code["demo"], by_code["other"], data["overall"]

    assert (
        demo["tickets_closed"],
        demo["tickets_citing"],
        demo["tickets_producing"],
        demo["tickets_linked"],
    ) == (5, 2, 1, 3)
    assert demo["link_rate"] == 0.6
    assert (demo["articles_from_tickets"], demo["articles_from_tickets_published"]) == (3, 1)
    assert [(r["slug"], r["tickets"]) for r in demo["reuse"]] == [
        ("printer-offline", 2),
        ("printer-driver", 1),
        ("ticket-demo-t-3", 1),
    ]
    assert demo["reuse_mean"] == 1.33
    assert demo["feedback"]["helpful"] == 2 and demo["feedback"]["not_helpful"] == 2
    assert {k: v for k, v in demo["feedback"]["reasons"].items() if v} == {
        "内容过时": 1,
        "缺少内容": 1,
    }
    assert demo["requests"] == {
        "open": 1,
        "overdue": 1,
        "closed": 1,
        "declined": 0,
        "median_days_to_close": 2.0,
    }

    assert (other["tickets_closed"], other["tickets_linked"], other["link_rate"]) == (1, 1, 1.0)
    assert other["articles_from_tickets"] == 0 and other["reuse"][0]["slug"] == "other-scanner"
    assert other["feedback"]["helpful"] == 0 and other["feedback"]["not_helpful"] == 2
    assert other["requests"] == {
        "open": 1,
        "overdue": 0,
        "closed": 0,
        "declined": 1,
        "median_days_to_close": None,
    }

    assert (overall["tickets_closed"], overall["tickets_linked"], overall["link_rate"]) == (
        6,
        4,
        0.6667,
    )
    assert overall["reuse_mean"] == 1.25 and overall["articles_from_tickets"] == 3
    assert (overall["feedback"]["helpful"], overall["feedback"]["not_helpful"]) == (2, 4)
    assert overall["requests"] == {
        "open": 2,
        "overdue": 1,
        "closed": 1,
        "declined": 1,
        "median_days_to_close": 2.0,
    }

    body = curator.get("/api/v1/stats").get_data(as_text=True)
    for personal in ("韦小宝", "13907710001", "南宁市青秀区政务服务中心", "reader"):
        assert personal not in body

    page = curator.get("/feedback/stats").get_data(as_text=True)
    assert "66.7%（4 / 6" in page and "60.0%（3 / 5" in page and "100.0%（1 / 1" in page
    # the article page carries the reuse too
    assert "已帮助解决 2 个工单" in client.get("/articles/printer-offline").get_data(as_text=True)


def test_figures_are_scoped(app, client, login_as, make_article):
    build(app, client, login_as, make_article)
    mine = login_as("editor").get("/api/v1/stats").get_json()
    assert mine["overall"] is None and [e["code"] for e in mine["enterprises"]] == ["demo"]
    assert mine["enterprises"][0]["link_rate"] == 0.6
    page = login_as("editor").get("/feedback/stats").get_data(as_text=True)
    assert "60.0%（3 / 5" in page and "全区" not in page and "另一企业" not in page
    assert login_as("reader").get("/api/v1/stats").status_code == 403
    assert client.get("/api/v1/stats").status_code == 401
    assert login_as("reader").get("/feedback/stats").status_code == 403
    assert platform_token(app)  # a platform account is a reader: no figures
