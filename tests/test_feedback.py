"""The feedback loop over HTTP: a reader says an article did not help and why, the enterprise's
editors see the request in their inbox and answer it by a revision that names it (publishing
closes it) or by a reply; the reader follows it under 我的反馈. Visitors vote once per browser,
floods get 429, curators see what is overdue in working days and can reassign or escalate.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from kb import db, feedback
from kb.models import Feedback, Revision, RevisionRequest, utcnow
from tests.conftest import GOOD_BODY, get_article

FRONT = """---
title: 打印机显示脱机的处理方法
type: 故障处理
category: 打印与扫描
products: [惠普 LaserJet M1136]
os: [银河麒麟桌面操作系统 V10 SP1]
visibility: public
summary: 打印机脱机时按本文重新添加打印机。
---

"""


def text(response) -> str:
    return response.get_data(as_text=True)


def counts(app, slug: str) -> tuple[int, int, int, int]:
    """(yes, no, feedback rows, requests) for an article, read from the database."""
    with app.app_context():
        s = db.session()
        article = get_article(app, slug)
        rows = s.scalar(
            select(func.count()).select_from(Feedback).where(Feedback.article_id == article.id)
        )
        reqs = s.scalar(
            select(func.count())
            .select_from(RevisionRequest)
            .where(RevisionRequest.article_id == article.id)
        )
        return article.helpful_yes, article.helpful_no, rows, reqs


def vote(client, slug: str, **body):
    return client.post(f"/api/v1/articles/{slug}/feedback", json=body)


def test_feedback_becomes_a_revision_and_the_reader_sees_it_closed(
    app, client, login_as, make_article
):
    slug = make_article(slug="printer-offline")
    reader, reader2 = login_as("reader"), login_as("reader2")
    editor, editor2, curator = login_as("editor"), login_as("editor2"), login_as("curator")

    page = text(reader.get(f"/articles/{slug}"))
    assert "是否解决了您的问题？" in page and "步骤无法操作" in page and "暂无评价" in page

    # the reader says it did not help, with a reason and a comment
    made = vote(
        reader, slug, helpful=False, reason="步骤无法操作", comment="第 2 步找不到“设置 → 打印机”"
    )
    assert made.status_code == 201, text(made)
    request_id = made.get_json()["request_id"]
    assert isinstance(request_id, int)
    # another reader found it helpful, through the page's form
    # (a reason ticked before choosing 有帮助 after all is dropped, not refused)
    form = reader2.post(f"/articles/{slug}/feedback", data={"helpful": "yes", "reason": "其他"})
    assert form.status_code == 302 and "thanks=vote" in form.headers["Location"]
    assert vote(reader2, slug, helpful=True).get_json()["request_id"] is None  # changed nothing

    shown = client.get(f"/api/v1/articles/{slug}").get_json()
    assert shown["helpful"] == {"yes": 1, "no": 1}
    assert '有帮助 <span class="count-yes">1</span>' in text(client.get(f"/articles/{slug}"))
    assert "50% 认为有帮助" in text(client.get(f"/articles/{slug}"))
    # the counts reach the search index
    hits = client.get("/api/v1/search?q=打印机 脱机").get_json()["results"]
    assert [h["helpful"] for h in hits if h["slug"] == slug] == [{"yes": 1, "no": 1}]

    mine = reader.get("/api/v1/feedback/mine").get_json()["results"]
    assert [(m["article"], m["status"], m["reason"]) for m in mine] == [
        (slug, "open", "步骤无法操作")
    ]

    # the owning enterprise's editor sees it in the inbox; the other enterprise does not
    inbox = text(editor.get("/feedback/requests"))
    assert (
        "第 2 步找不到“设置 → 打印机”" in inbox and "步骤无法操作" in inbox and "修订文章" in inbox
    )
    assert [r["id"] for r in editor.get("/api/v1/requests").get_json()["results"]] == [request_id]
    assert editor2.get("/api/v1/requests").get_json()["results"] == []
    assert "第 2 步找不到" not in text(editor2.get("/feedback/requests"))
    # the open request is shown on the article to editors, not to readers
    assert f"#{request_id} 步骤无法操作" in text(editor.get(f"/articles/{slug}"))
    assert "待处理的修订请求" not in text(reader.get(f"/articles/{slug}"))

    # a revision naming an unknown or foreign request is refused, nothing saved
    with app.app_context():
        before = db.session().scalar(select(func.count()).select_from(Revision))
    revised = FRONT + GOOD_BODY.replace("打开“设置 → 打印机”", "打开“开始菜单 → 设置 → 打印机”")
    headers = {"Content-Type": "text/markdown"}
    assert (
        editor.put(
            f"/api/v1/articles/{slug}?resolves=9999", data=revised, headers=headers
        ).status_code
        == 404
    )
    assert (
        editor2.put(
            f"/api/v1/articles/{slug}?resolves={request_id}", data=revised, headers=headers
        ).status_code
        == 403
    )
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Revision)) == before

    # the editor revises, naming the request; submitting does not close it yet
    saved = editor.put(
        f"/api/v1/articles/{slug}?resolves={request_id}", data=revised, headers=headers
    )
    assert saved.status_code == 200, text(saved)
    assert editor.post(f"/api/v1/articles/{slug}/submit").status_code == 200
    assert reader.get("/api/v1/feedback/mine").get_json()["results"][0]["status"] == "open"
    published = curator.post(f"/api/v1/articles/{slug}/publish", json={"reason": "已核实"})
    assert published.status_code == 200, text(published)

    # publishing closed the request; the reader sees it under 我的反馈
    mine = reader.get("/api/v1/feedback/mine").get_json()["results"][0]
    assert mine["status"] == "closed" and mine["revision"] == 2
    assert "第 2 版" in mine["reply"]
    page = text(reader.get("/feedback/mine"))
    assert "已修订" in page and "打印机显示脱机的处理方法" in page
    assert editor.get("/api/v1/requests?status=open").get_json()["results"] == []
    assert [
        r["id"] for r in editor.get("/api/v1/requests?status=closed").get_json()["results"]
    ] == [request_id]
    assert "开始菜单 → 设置 → 打印机" in text(reader.get(f"/articles/{slug}"))
    # a closed request cannot be named again
    again = editor.put(
        f"/api/v1/articles/{slug}?resolves={request_id}", data=revised, headers=headers
    )
    assert again.status_code == 409 and again.get_json()["error"]["fields"] == {
        "resolves": "请求已关闭"
    }


def test_editor_declines_with_a_reply_the_reader_reads(app, login_as, make_article):
    slug = make_article(slug="printer-offline")
    reader, editor, editor2 = login_as("reader"), login_as("editor"), login_as("editor2")
    request_id = vote(
        reader, slug, helpful=False, reason="其他", comment="希望增加视频"
    ).get_json()["request_id"]

    empty = editor.post(f"/api/v1/requests/{request_id}/decline", json={"reply": "  "})
    assert empty.status_code == 422 and "reply" in empty.get_json()["error"]["fields"]
    assert (
        editor2.post(
            f"/api/v1/requests/{request_id}/decline", json={"reply": "不是我们的"}
        ).status_code
        == 404
    )

    answered = editor.post(
        f"/feedback/requests/{request_id}/decline",
        data={"reply": "视频不便离线分发，已在步骤中写明菜单位置。"},
    )
    assert answered.status_code == 302
    mine = reader.get("/api/v1/feedback/mine").get_json()["results"][0]
    assert (
        mine["status"] == "declined"
        and mine["reply"] == "视频不便离线分发，已在步骤中写明菜单位置。"
    )
    assert "视频不便离线分发" in text(reader.get("/feedback/mine"))
    twice = editor.post(f"/api/v1/requests/{request_id}/decline", json={"reply": "再答复一次"})
    assert twice.status_code == 409


def test_visitor_votes_once_per_browser_and_can_change_it(app, client, make_article, login_as):
    slug = make_article(slug="printer-offline")
    assert vote(client, slug, helpful=True).status_code == 201
    assert client.get_cookie("kb_voter") is not None  # the browser keeps its signed id
    assert vote(client, slug, helpful=True).get_json()["changed"] is True
    assert counts(app, slug) == (1, 0, 1, 0)
    changed = vote(client, slug, helpful=False, reason="内容过时")
    assert changed.status_code == 201 and changed.get_json()["request_id"]
    assert counts(app, slug) == (0, 1, 1, 1)
    # another browser is another vote; a forged cookie is a new browser, not someone else's vote
    other = app.test_client()
    assert vote(other, slug, helpful=True).status_code == 201
    forged = app.test_client()
    forged.set_cookie("kb_voter", "not-signed")
    assert vote(forged, slug, helpful=True).status_code == 201
    assert counts(app, slug) == (2, 1, 3, 1)
    # a signed-in user's vote is his own, whatever browser
    reader = login_as("reader")
    vote(reader, slug, helpful=True)
    vote(login_as("reader"), slug, helpful=False, reason="表述不清")
    assert counts(app, slug)[:3] == (2, 2, 4)
    # visitors cannot vote on what they cannot read
    registered = make_article(slug="registered-only", visibility="registered")
    assert vote(app.test_client(), registered, helpful=True).status_code == 404
    assert counts(app, registered) == (0, 0, 0, 0)


def test_bad_votes_are_refused_and_nothing_is_saved(app, client, login_as, make_article):
    slug = make_article(slug="printer-offline")
    draft = make_article(status="draft", slug="draft-article")
    reader = login_as("reader")
    cases = [
        (vote(reader, "no-such-article", helpful=True), 404, None),
        (vote(reader, draft, helpful=True), 404, None),
        (vote(reader, slug), 422, "helpful"),
        (vote(reader, slug, helpful="yes"), 422, "helpful"),
        (vote(reader, slug, helpful=False), 422, "reason"),
        (vote(reader, slug, helpful=False, reason="看不懂"), 422, "reason"),
        (vote(reader, slug, helpful=False, reason="其他", comment="太长" * 501), 422, "comment"),
        (vote(reader, slug, helpful=True, reason="其他"), 422, "reason"),
        (reader.post(f"/api/v1/articles/{slug}/feedback", data="helpful=yes"), 415, "body"),
        (
            reader.post(
                f"/api/v1/articles/{slug}/feedback", data="[true]", content_type="application/json"
            ),
            422,
            "body",
        ),
    ]
    for response, status, field in cases:
        assert response.status_code == status, text(response)
        if field:
            assert field in response.get_json()["error"]["fields"]
    page = reader.post(f"/articles/{slug}/feedback", data={"helpful": "no"})
    assert page.status_code == 422 and "请选择没帮助的原因" in text(page)
    assert counts(app, slug) == (0, 0, 0, 0)


def test_a_vote_flood_gets_429_and_is_not_counted(app, client, make_article):
    slug = make_article(slug="printer-offline")
    for _ in range(10):  # FEEDBACK_RATE_PER_VOTER: 10 a minute per browser
        assert vote(client, slug, helpful=True).status_code == 201
    flooded = vote(client, slug, helpful=False, reason="其他")
    assert flooded.status_code == 429 and flooded.get_json()["error"]["code"] == "rate_limited"
    assert counts(app, slug) == (1, 0, 1, 0)

    # fresh browsers from one address: the per-address limit stops them
    app.config["FEEDBACK_RATE_PER_IP"] = 15  # 10 already used by the browser above
    results = [vote(app.test_client(), slug, helpful=True).status_code for _ in range(7)]
    assert results == [201] * 5 + [429] * 2
    assert counts(app, slug) == (6, 0, 6, 0)
    page = app.test_client().post(f"/articles/{slug}/feedback", data={"helpful": "yes"})
    assert page.status_code == 429 and "请求过于频繁" in text(page)


def _backdate(app, request_id: int, days: int) -> None:
    with app.app_context():
        s = db.session()
        s.get(RevisionRequest, request_id).created_at = utcnow() - timedelta(days=days)
        s.commit()


def test_curators_see_overdue_requests_and_reassign_or_escalate(app, login_as, make_article):
    old_slug = make_article(slug="printer-offline")
    new_slug = make_article(slug="printer-driver", title="打印机驱动的安装方法")
    reader, editor, curator = login_as("reader"), login_as("editor"), login_as("curator")
    old = vote(reader, old_slug, helpful=False, reason="内容过时").get_json()["request_id"]
    new = vote(reader, new_slug, helpful=False, reason="缺少内容").get_json()["request_id"]
    _backdate(app, old, 30)

    listed = {r["id"]: r for r in curator.get("/api/v1/requests").get_json()["results"]}
    assert listed[old]["overdue"] is True and listed[old]["age_days"] == 30
    assert listed[new]["overdue"] is False and listed[new]["age_working_days"] == 0
    page = text(curator.get("/feedback/overview"))
    assert '当前超期 <strong class="overdue-total">1</strong> 条' in page
    assert page.index("打印机显示脱机的处理方法") < page.index(
        "打印机驱动的安装方法"
    )  # overdue first
    only = text(curator.get("/feedback/overview?overdue=1"))
    assert "打印机显示脱机的处理方法" in only and "打印机驱动的安装方法" not in only

    assert (
        curator.post(f"/feedback/requests/{old}/reassign", data={"assignee": "editor"}).status_code
        == 302
    )
    wrong = curator.post(f"/api/v1/requests/{old}/reassign", json={"assignee": "editor2"})
    assert wrong.status_code == 422 and "assignee" in wrong.get_json()["error"]["fields"]
    assert (
        curator.post(f"/api/v1/requests/{old}/escalate", json={"note": "请本周内处理"}).status_code
        == 200
    )
    inbox = text(editor.get("/feedback/requests"))
    assert "指派给：editor" in inbox and "数据局督办：请本周内处理" in inbox and "已超期" in inbox

    assert editor.post(f"/api/v1/requests/{old}/escalate", json={"note": "x"}).status_code == 403
    assert reader.get("/feedback/overview").status_code == 403
    assert reader.get("/feedback/requests").status_code == 403
    # a reader sees only his own requests, without the handling notes
    own = reader.get("/api/v1/requests").get_json()["results"]
    assert {r["id"] for r in own} == {old, new} and "escalation_note" not in own[0]


def test_overdue_counts_working_days_with_holidays(app):
    monday = date(2026, 11, 2)
    assert feedback.working_days_between(monday, monday + timedelta(days=7)) == 5
    assert feedback.due_date(date(2026, 11, 6), 5) == date(2026, 11, 13)  # Friday → next Friday
    # National Day week: 1–7 October 2026 off, Saturday 10 October a make-up working day
    holidays = {date(2026, 10, d) for d in range(1, 8)}
    workdays = {date(2026, 10, 10)}
    assert feedback.due_date(date(2026, 9, 30), 5, holidays, workdays) == date(2026, 10, 13)
    with app.app_context():
        app.config["REQUEST_HOLIDAYS"] = (
            "2026-10-01,2026-10-02 2026-10-05,2026-10-06,2026-10-07,bad"
        )
        app.config["REQUEST_WORKDAYS"] = ["2026-10-10"]
        app.config["REQUEST_OVERDUE_DAYS"] = 3
        req = RevisionRequest(
            status="open", created_at=datetime(2026, 9, 30, 2, 0, tzinfo=feedback.CHINA)
        )
        on_time = feedback.age_of(req, now=datetime(2026, 10, 9, 12, 0, tzinfo=feedback.CHINA))
        assert (on_time.due, on_time.working_days, on_time.overdue) == (
            date(2026, 10, 10),
            2,
            False,
        )
        late = feedback.age_of(req, now=datetime(2026, 10, 12, 9, 0, tzinfo=feedback.CHINA))
        assert late.overdue is True and late.working_days == 4  # 8, 9, 10 (make-up) and 12 October


def test_the_inbox_link_revises_through_the_edit_form(app, login_as, make_article):
    slug = make_article(slug="printer-offline")
    reader, editor, curator = login_as("reader"), login_as("editor"), login_as("curator")
    made = vote(reader, slug, helpful=False, reason="内容有误", comment="驱动名称写错了")
    request_id = made.get_json()["request_id"]
    link = f"/editor/{slug}/edit?resolves={request_id}"
    assert f"{link}" in text(editor.get("/feedback/requests")).replace("&amp;", "&")
    form_page = text(editor.get(link))
    assert f'name="resolves" value="{request_id}"' in form_page
    form = {
        "title": "打印机显示脱机的处理方法",
        "slug": slug,
        "type": "故障处理",
        "category": "打印与扫描",
        "products": "惠普 LaserJet M1136",
        "os": "",
        "tags": "",
        "review_by": "",
        "visibility": "public",
        "allowed_orgs": "",
        "summary": "打印机脱机时按本文重新添加打印机。",
        "message": "修正驱动名称",
        "markdown": GOOD_BODY.replace("选择正确的驱动", "选择 hplip 驱动"),
        "resolves": str(request_id),
    }
    assert editor.post(link, data=form).status_code == 302
    assert editor.post(f"/editor/{slug}/submit").status_code == 302
    assert curator.post(f"/api/v1/articles/{slug}/publish").status_code == 200
    mine = reader.get("/api/v1/feedback/mine").get_json()["results"][0]
    assert (mine["status"], mine["revision"]) == ("closed", 2)
    assert "选择 hplip 驱动" in text(reader.get(f"/articles/{slug}"))


def test_editor_form_refuses_an_unknown_request_and_keeps_the_input(login_as, make_article, app):
    from tests.conftest import get_article

    make_article(slug="resolves-check")
    editor = login_as("editor")
    before = get_article(app, "resolves-check").working_revision_id
    response = editor.post(
        "/editor/resolves-check/edit",
        data={
            "title": "改过的标题",
            "type": "故障处理",
            "category": "打印与扫描",
            "visibility": "public",
            "markdown": "## 现象\n\n新内容\n",
            "resolves": "99999",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "修订请求 99999 不存在" in page and "改过的标题" in page
    assert get_article(app, "resolves-check").working_revision_id == before
