"""Ticket closure over HTTP: a service platform, with a token bound to its enterprise, posts
closed work orders. A ticket citing articles links to them (the article shows how many tickets
it solved, with products and months, no personal data); a ticket citing none becomes a draft
故障处理 article with personal data removed, which links once an editor submits it and a
curator publishes it. Bad input is refused whole, naming each field.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import func, select

from kb import db, tickets
from kb.accounts import SYSTEM, create_token
from kb.models import Article, Ticket, TicketArticle
from tests.conftest import get_article

TICKET: dict[str, Any] = {
    "ticket_no": "GX-2025-0001",
    "customer_org": "南宁市青秀区政务服务中心",
    "contact_name": "韦小宝",
    "contact_phone": "13907710001",
    "channel": "电话",
    "reported_at": "2025-03-03T09:12:00+08:00",
    "accepted_at": "2025-03-03T09:15:00+08:00",
    "created_at": "2025-03-03T09:16:00+08:00",
    "handling": "线下",
    "onsite_responded_at": "2025-03-03T09:30:00+08:00",
    "onsite_arrived_at": "2025-03-03T10:40:00+08:00",
    "onsite_completed_at": "2025-03-03T11:20:00+08:00",
    "product": "惠普 LaserJet M1136",
    "symptom": "打印机显示脱机，打印任务一直停在队列中。",
    "solution": (
        "1. 在终端执行 `lpstat -p` 查看打印机状态。\n"
        "2. 删除旧的打印机后重新添加，选择正确的驱动。\n"
    ),
    "closed_at": "2025-03-03T11:30:00+08:00",
    "user_reviewed": True,
    "satisfaction": "满意",
    "follow_up": "希望提供离线驱动包。",
}


def ticket(**overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(TICKET)
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def platform_token(app, code: str = "demo") -> dict[str, str]:
    with app.app_context():
        s = db.session()
        raw = create_token(s, SYSTEM, tickets.platform_user(s, SYSTEM, code), "platform")
        s.commit()
    return {"Authorization": f"Bearer {raw}"}


def post(client, headers: dict[str, str], body: Any):
    return client.post("/api/v1/tickets", json=body, headers=headers)


def stored(app) -> tuple[int, int, int]:
    """(tickets, cited links, articles) in the database."""
    with app.app_context():
        s = db.session()
        return tuple(
            s.scalar(select(func.count()).select_from(t)) for t in (Ticket, TicketArticle, Article)
        )  # type: ignore[return-value]


def text(response) -> str:
    return response.get_data(as_text=True)


def test_platform_token_from_the_cli_posts_a_ticket_citing_articles(
    app, client, runner, make_article
):
    from kb.cli import cli

    slug = make_article(slug="printer-offline")
    result = runner.invoke(cli, ["token", "create", "--platform", "demo"])
    assert result.exit_code == 0, result.output
    assert "platform-demo" in result.output
    headers = {"Authorization": f"Bearer {result.output.strip().splitlines()[-1]}"}

    made = post(client, headers, ticket(articles=[slug]))
    assert made.status_code == 201, text(made)
    assert made.get_json() == {"ticket_no": "GX-2025-0001", "linked": [slug], "draft": None}
    # posting again updates the same ticket
    again = post(client, headers, ticket(articles=[slug], satisfaction="非常满意"))
    assert again.status_code == 200 and again.get_json()["linked"] == [slug]
    assert stored(app) == (1, 1, 1)
    second = post(
        client,
        headers,
        ticket(
            ticket_no="GX-2025-0002",
            product="惠普 LaserJet Pro M202",
            closed_at="2025-04-08T16:00:00+08:00",
            articles=[slug],
        ),
    )
    assert second.status_code == 201

    # the article shows what it solved, to anyone who reads it, without personal data
    page = text(client.get(f"/articles/{slug}"))
    assert "已帮助解决 2 个工单" in page
    assert "惠普 LaserJet M1136、惠普 LaserJet Pro M202" in page and "2025-03、2025-04" in page
    shown = client.get(f"/api/v1/articles/{slug}").get_json()
    assert shown["tickets_solved"] == 2
    for secret in ("韦小宝", "13907710001", "南宁市青秀区政务服务中心"):
        assert secret not in page and secret not in text(client.get(f"/api/v1/articles/{slug}"))


def test_ticket_without_articles_becomes_a_draft_that_links_once_published(app, client, login_as):
    headers = platform_token(app)
    solution = (
        "联系人韦小宝（13907710001，邮箱 weixiaobao@nnqx-gov.cn）"
        "反映打印机 192.168.10.23 脱机。\n\n"
        "1. 在终端执行 `lpstat -p` 查看打印机状态。\n"
        "2. 删除旧的打印机后重新添加，选择正确的驱动。\n"
        "3. 打印测试页确认恢复；如需远程协助请拨打 0771-5551234。\n"
    )
    made = post(client, headers, ticket(solution=solution))
    assert made.status_code == 201, text(made)
    draft_slug = made.get_json()["draft"]
    assert draft_slug == "ticket-demo-gx-2025-0001" and made.get_json()["linked"] == []

    editor, curator, reader = login_as("editor"), login_as("curator"), login_as("reader")
    assert reader.get(f"/articles/{draft_slug}").status_code == 404  # a draft, for the enterprise
    draft = editor.get(f"/api/v1/articles/{draft_slug}").get_json()
    assert draft["type"] == "故障处理" and draft["status"] == "draft"
    assert draft["products"] == ["惠普 LaserJet M1136"] and draft["category"] == "打印与扫描"
    markdown = draft["markdown"]
    for section in (
        "## 现象",
        "## 原因",
        "## 解决步骤",
        "打印机显示脱机，打印任务一直停在队列中",
        "lpstat -p",
    ):
        assert section in markdown
    for secret in (
        "韦小宝",
        "13907710001",
        "weixiaobao",
        "192.168.10.23",
        "5551234",
        "南宁市青秀区",
    ):
        assert secret not in draft["source"], secret
    assert "【联系人】" in markdown and "【联系电话】" in markdown and "【电子邮箱】" in markdown
    page = text(editor.get(f"/articles/{draft_slug}"))
    assert "本文由服务工单 GX-2025-0001" in page and "发布后工单将关联本文" in page

    # posting the same ticket again creates no second draft
    again = post(client, headers, ticket(solution=solution))
    assert again.status_code == 200 and again.get_json()["draft"] == draft_slug
    assert stored(app) == (1, 0, 1)

    # the editor submits as prefilled, the curator publishes: the ticket now links to it
    submitted = editor.post(f"/api/v1/articles/{draft_slug}/submit")
    assert submitted.status_code == 200, text(submitted)
    assert curator.post(f"/api/v1/articles/{draft_slug}/publish").status_code == 200
    listed = editor.get("/api/v1/tickets").get_json()["results"]
    assert [(t["ticket_no"], t["linked"], t["draft"]) for t in listed] == [
        ("GX-2025-0001", [draft_slug], draft_slug)
    ]
    assert post(client, headers, ticket(solution=solution)).get_json()["linked"] == [draft_slug]
    assert "已帮助解决 1 个工单" in text(reader.get(f"/articles/{draft_slug}"))
    assert reader.get(f"/api/v1/articles/{draft_slug}").get_json()["tickets_solved"] == 1


def test_contacts_are_seen_by_the_enterprise_and_curators_only(app, client, login_as, make_article):
    slug = make_article(slug="printer-offline")
    assert post(client, platform_token(app), ticket(articles=[slug])).status_code == 201
    editor, editor2, curator, reader = (
        login_as(u) for u in ("editor", "editor2", "curator", "reader")
    )
    assert editor.get("/api/v1/tickets").get_json()["results"][0]["contact_phone"] == "13907710001"
    assert "韦小宝" in text(editor.get("/feedback/tickets"))
    assert curator.get("/api/v1/tickets").get_json()["results"][0]["contact_name"] == "韦小宝"
    assert editor2.get("/api/v1/tickets").get_json()["results"] == []
    assert reader.get("/api/v1/tickets").status_code == 403
    assert reader.get("/feedback/tickets").status_code == 403
    assert "韦小宝" not in text(curator.get("/api/v1/stats"))


def test_bad_tickets_are_refused_whole(app, client, login_as, make_article):
    headers = platform_token(app)
    public = make_article(slug="printer-offline")
    secret = make_article(
        slug="other-restricted", owner="other", visibility="restricted", title="另一企业的内部文章"
    )
    draft = make_article(status="draft", slug="demo-draft")
    missing = post(client, headers, {})
    assert missing.status_code == 422
    assert set(missing.get_json()["error"]["fields"]) == set(tickets.REQUIRED)
    assert "缺少必填字段" in missing.get_json()["error"]["message"]

    cases = [
        (ticket(reported_at="2025-13-03T09:12:00+08:00"), 422, "reported_at"),
        (ticket(reported_at="2025-03-03T09:12:00"), 422, "reported_at"),  # no offset
        (ticket(closed_at="2025-03-03"), 422, "closed_at"),
        (ticket(closed_at="yesterday"), 422, "closed_at"),
        (ticket(closed_at="2025-03-02T09:00:00+08:00"), 422, "closed_at"),  # before reported_at
        (ticket(closed_at="2999-01-01T00:00:00+08:00"), 422, "closed_at"),
        (ticket(onsite_arrived_at="2025-03-03T09:00:00+08:00"), 422, "onsite_arrived_at"),
        (ticket(solution="很长的方案。" * 9000), 413, "solution"),
        (ticket(channel="微信"), 422, "channel"),
        (ticket(satisfaction="还行"), 422, "satisfaction"),
        (ticket(user_reviewed="是"), 422, "user_reviewed"),
        (ticket(contact_phone="call me"), 422, "contact_phone"),
        (ticket(ticket_no="工单一"), 422, "ticket_no"),
        (ticket(priority="高"), 422, "priority"),
        (ticket(articles="printer-offline"), 422, "articles"),
        (ticket(articles=["no-such-article"]), 422, "articles"),
        (ticket(articles=[public, secret]), 422, "articles"),  # the platform may not see it
        (ticket(articles=[draft]), 422, "articles"),
        (ticket(enterprise="other"), 403, "enterprise"),
    ]
    for body, status, field in cases:
        response = post(client, headers, body)
        assert response.status_code == status, (field, text(response))
        assert field in response.get_json()["error"]["fields"], (field, response.get_json())
    refused = post(client, headers, ticket(articles=[secret]))
    assert "other-restricted" in refused.get_json()["error"]["fields"]["articles"]
    assert stored(app) == (0, 0, 3)  # no ticket, no link, no draft article

    # only a platform token posts tickets
    assert client.post("/api/v1/tickets", json=ticket()).status_code == 401
    assert login_as("editor").post("/api/v1/tickets", json=ticket()).status_code == 403
    assert post(client, headers, ticket()).status_code == 201
    # a later bad update changes nothing
    assert post(client, headers, ticket(product="", satisfaction="非常满意")).status_code == 422
    with app.app_context():
        kept = db.session().scalar(select(Ticket))
        assert (kept.product, kept.satisfaction) == ("惠普 LaserJet M1136", "满意")
    # the same number from another enterprise is another ticket
    other = post(client, platform_token(app, "other"), ticket(articles=[public]))
    assert other.status_code == 201 and other.get_json()["linked"] == [public]
    assert stored(app)[0] == 2
    assert get_article(app, "ticket-demo-gx-2025-0001") is not None


def test_personal_data_is_scrubbed_by_the_checker_rules(app):
    with app.app_context():
        clean, removed = tickets.scrub(
            "用户张三手机 138 1234 5678，身份证 110101199003074514，密码：Abc12345。\n"
            "内网地址 10.1.2.3/24，服务热线 400-800-1234 不变。",
            {"张三": "【联系人】"},
        )
    assert removed == 5
    for gone in ("张三", "5678", "110101199003074514", "Abc12345", "10.1.2.3"):
        assert gone not in clean
    assert "400-800-1234" in clean and "【联系人】" in clean and "【身份证号】" in clean


def test_ticket_pages_per_role_with_linked_articles_and_the_draft(
    app, client, login_as, make_article
):
    slug = make_article(slug="printer-offline", title="打印机显示脱机的处理方法")
    demo, other = platform_token(app, "demo"), platform_token(app, "other")
    assert post(client, demo, ticket(articles=[slug])).status_code == 201
    drafted = post(client, demo, ticket(ticket_no="GX-2025-0002")).get_json()["draft"]
    other_ticket = ticket(ticket_no="OT-9", contact_name="李四", contact_phone="13800000009")
    assert post(client, other, other_ticket).status_code == 201
    editor, editor2, curator = login_as("editor"), login_as("editor2"), login_as("curator")

    # the editor: the enterprise's tickets, each with its article by title and its draft
    mine = text(editor.get("/feedback/tickets"))
    assert "GX-2025-0001" in mine and "GX-2025-0002" in mine and "OT-9" not in mine
    assert f'<a href="/articles/{slug}">打印机显示脱机的处理方法</a>' in mine
    assert f'生成的草稿：<a href="/articles/{drafted}">' in mine and "草稿</span>" in mine
    assert "韦小宝" in mine and "李四" not in mine
    assert '<a href="/feedback/tickets">服务工单</a>' in text(editor.get("/"))
    # the other enterprise's editor sees only theirs, and not ours even by address
    theirs = text(editor2.get("/feedback/tickets"))
    assert "OT-9" in theirs and "GX-2025-0001" not in theirs and "韦小宝" not in theirs
    with app.app_context():
        ids = dict(db.session().execute(select(Ticket.ticket_no, Ticket.id)).all())
    assert editor2.get(f"/feedback/tickets/{ids['GX-2025-0002']}").status_code == 404
    # curators see every enterprise's tickets with contacts
    every = text(curator.get("/feedback/tickets"))
    assert all(no in every for no in ("GX-2025-0001", "GX-2025-0002", "OT-9"))
    assert "韦小宝" in every and "李四" in every
    # one ticket's page: fields, solution, the draft it produced
    one = text(editor.get(f"/feedback/tickets/{ids['GX-2025-0002']}"))
    assert "13907710001" in one and "lpstat -p" in one and f'href="/articles/{drafted}"' in one
    # readers and visitors have no ticket pages
    assert login_as("reader").get("/feedback/tickets").status_code == 403
    assert login_as("reader").get(f"/feedback/tickets/{ids['OT-9']}").status_code == 403
    assert "/login" in client.get("/feedback/tickets").headers["Location"]
    assert "服务工单</a>" not in text(login_as("reader").get("/"))
