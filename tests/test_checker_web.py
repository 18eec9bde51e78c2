"""The checker where people meet it: the editor's preview, submission refused over the web and
the API, the curator's review page, ``POST /api/v1/check``, and the curators' glossary."""

from __future__ import annotations

from sqlalchemy import select

from kb import db
from kb.models import AuditEvent, Setting
from tests.conftest import GOOD_BODY, get_article

PHONE_BODY = GOOD_BODY.replace("## 参考资料", "有问题请联系王工，手机 13812345678。\n\n## 参考资料")
FORM = {
    "title": "统信 UOS 下奔图打印机脱机的处理",
    "slug": "uos-pantum-offline",
    "type": "故障处理",
    "category": "打印与扫描",
    "products": "奔图 M6202",
    "os": "",
    "tags": "打印机",
    "review_by": "2027-01-31",
    "visibility": "public",
    "allowed_orgs": "",
    "summary": "奔图打印机脱机时按本文重新添加打印机。",
    "markdown": PHONE_BODY,
}
SOURCE = """---
title: 打印机脱机的处理
type: 故障处理
category: 打印与扫描
products: [奔图 M6202]
summary: 打印机脱机时按本文重新添加打印机。
visibility: public
---

"""


def audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_preview_shows_findings_with_body_lines(login_as):
    editor = login_as("editor")
    out = editor.post(
        "/editor/preview", data={**FORM, "markdown": "<script>x()</script>\n\n" + GOOD_BODY}
    ).get_json()
    safe = [f for f in out["findings"] if f["rule"] == "KB-SAFE-001"]
    assert safe and safe[0]["severity"] == "error" and safe[0]["body_line"] == 1
    assert "&lt;script&gt;" in out["html"]


def test_submission_with_an_error_is_refused_over_the_web_and_the_draft_stays(app, login_as):
    editor = login_as("editor")
    assert editor.post("/editor/new", data=FORM).status_code == 302
    refused = editor.post("/editor/uos-pantum-offline/submit")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "内容检查发现 1 个错误" in page and "KB-PRIV-001" in page and "138****5678" in page
    assert get_article(app, "uos-pantum-offline").status == "draft"
    # once fixed, it goes through
    assert (
        editor.post(
            "/editor/uos-pantum-offline/edit", data={**FORM, "markdown": GOOD_BODY}
        ).status_code
        == 302
    )
    assert editor.post("/editor/uos-pantum-offline/submit").status_code == 302
    assert get_article(app, "uos-pantum-offline").status == "submitted"


def test_submission_with_an_error_is_refused_over_the_api_with_the_findings(app, login_as):
    editor = login_as("editor")
    created = editor.post(
        "/api/v1/articles", data=(SOURCE + PHONE_BODY).encode(), content_type="text/markdown"
    )
    slug = created.get_json()["slug"]
    refused = editor.post(f"/api/v1/articles/{slug}/submit")
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "check_failed"
    privacy = [f for f in error["findings"] if f["rule"] == "KB-PRIV-001"]
    assert privacy and set(privacy[0]) == {"rule", "severity", "line", "column", "message", "fix"}
    assert get_article(app, slug).status == "draft"


def test_review_page_shows_the_checker_findings(login_as, make_article):
    slug = make_article(status="submitted", slug="needs-review", review_by=None)
    page = login_as("curator").get(f"/review/{slug}").get_data(as_text=True)
    assert "KB-TIME-001" in page and "缺少复审日期" in page


def test_check_api_returns_findings_for_markdown_and_json(login_as):
    editor = login_as("editor")
    raw = editor.post(
        "/api/v1/check", data=(SOURCE + PHONE_BODY).encode(), content_type="text/markdown"
    )
    assert raw.status_code == 200
    findings = raw.get_json()["findings"]
    phone = next(f for f in findings if f["rule"] == "KB-PRIV-001")
    assert (
        phone["severity"] == "error"
        and phone["line"]
        == (SOURCE + PHONE_BODY).split("\n").index("有问题请联系王工，手机 13812345678。") + 1
    )
    as_json = editor.post("/api/v1/check", json={"source": SOURCE + GOOD_BODY})
    assert not [f for f in as_json.get_json()["findings"] if f["severity"] == "error"]
    meta = {"title": "t", "type": "故障处理", "category": "打印与扫描", "visibility": "public"}
    fields = editor.post("/api/v1/check", json={**meta, "markdown": PHONE_BODY})
    assert "KB-PRIV-001" in {f["rule"] for f in fields.get_json()["findings"]}
    bad = editor.post("/api/v1/check", data=b"\xff\xfe bad", content_type="text/markdown")
    assert bad.status_code == 200 and bad.get_json()["findings"][0]["rule"] == "KB-STRUCT-011"


def test_check_api_needs_a_signed_in_user(client):
    response = client.post("/api/v1/check", data=b"## x", content_type="text/markdown")
    assert response.status_code == 401


def test_check_api_knows_the_database_links_and_duplicates(login_as, make_article):
    make_article(slug="printer-offline")
    editor = login_as("editor")
    linked = (
        SOURCE
        + GOOD_BODY
        + "\n见 [脱机处理](/articles/printer-offline) 和 [不存在](/articles/no-such-article)。\n"
    )
    findings = editor.post(
        "/api/v1/check", data=linked.encode(), content_type="text/markdown"
    ).get_json()["findings"]
    dead = [f for f in findings if f["rule"] == "KB-LINK-001"]
    assert len(dead) == 1 and "no-such-article" in dead[0]["message"]
    duplicate = [f for f in findings if f["rule"] == "KB-DUP-001"]
    assert duplicate and "打印机显示脱机的处理方法" in duplicate[0]["message"]
    # the article itself is not its own duplicate
    own = editor.post(
        "/api/v1/check?slug=printer-offline",
        data=(SOURCE + GOOD_BODY).encode(),
        content_type="text/markdown",
    ).get_json()["findings"]
    assert "KB-DUP-001" not in {f["rule"] for f in own}


def test_restricted_articles_are_not_named_as_duplicates_to_outsiders(login_as, make_article):
    make_article(slug="secret-offline", visibility="restricted", owner="other")
    findings = (
        login_as("editor")
        .post("/api/v1/check", data=(SOURCE + GOOD_BODY).encode(), content_type="text/markdown")
        .get_json()["findings"]
    )
    assert "KB-DUP-001" not in {f["rule"] for f in findings}


def test_glossary_page_is_public_and_anchors_terms(client):
    page = client.get("/glossary/").get_data(as_text=True)
    assert 'id="固件"' in page and "固化在硬件芯片里的底层程序" in page


def test_curator_edits_the_glossary_and_the_checker_uses_it(app, login_as):
    curator = login_as("curator")
    editor = login_as("editor")
    text = "有数据需经网闸传到内网。\n"
    body = SOURCE + GOOD_BODY.replace("## 参考资料", text + "\n## 参考资料")

    def jargon() -> set[str]:
        findings = editor.post(
            "/api/v1/check", data=body.encode(), content_type="text/markdown"
        ).get_json()["findings"]
        return {
            f["message"].split("”")[0].split("“")[1] for f in findings if f["rule"] == "KB-READ-003"
        }

    assert "网闸" not in jargon()
    form = curator.get("/glossary/edit").get_data(as_text=True)
    assert "- term: 固件" in form
    bad = curator.post(
        "/glossary/edit", data={"glossary": "- term: 网闸\n- term: 网闸\n  explanation: 重复\n"}
    )
    assert bad.status_code == 422
    assert "缺少通俗解释" in bad.get_data(as_text=True) and "重复" in bad.get_data(as_text=True)
    saved = curator.post(
        "/glossary/edit",
        data={"glossary": "- term: 网闸\n  explanation: 隔离两个网络并摆渡数据的安全设备。\n"},
    )
    assert saved.status_code == 302
    assert jargon() == {"网闸"}
    events = audit(app, "glossary.update")
    assert (
        len(events) == 1
        and events[0].actor_name == "curator"
        and events[0].detail["added"] == ["网闸"]
    )
    assert curator.post("/glossary/reset").status_code == 302
    with app.app_context():
        assert db.session().get(Setting, "checker.glossary") is None
    assert audit(app, "glossary.reset") and "网闸" not in jargon()


def test_only_curators_and_admins_edit_the_glossary(login_as, client):
    assert login_as("editor").get("/glossary/edit").status_code == 403
    assert login_as("editor").post("/glossary/edit", data={"glossary": ""}).status_code == 403
    assert client.get("/glossary/edit").status_code in (302, 401)
    assert login_as("admin").get("/glossary/edit").status_code == 200


def test_preview_and_submit_page_name_the_same_line_for_a_finding(app, login_as):
    """The stored source puts a long front matter before the body; both pages count lines of
    the body as the editor's text box shows it (blank lines typed at its top included)."""
    editor = login_as("editor")
    body = "\n\n" + PHONE_BODY  # two empty lines typed before the first heading
    form = {**FORM, "markdown": body, "products": "奔图 M6202\n惠普 M1136\n联想 LJ2605D"}
    phone_line = body.split("\n").index("有问题请联系王工，手机 13812345678。") + 1
    preview = editor.post("/editor/preview", data=form).get_json()
    shown = next(f for f in preview["findings"] if f["rule"] == "KB-PRIV-001")
    assert shown["body_line"] == phone_line and shown["where"].startswith(f"正文第 {phone_line} 行")

    assert editor.post("/editor/new", data=form).status_code == 302
    refused = editor.post("/editor/uos-pantum-offline/submit")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert shown["where"] in page
    # the source line (front matter included) is not what the editor is shown
    stored = editor.get("/api/v1/articles/uos-pantum-offline?revision=working").get_json()
    source_lines = stored["source"].split("\n")
    assert source_lines.index("有问题请联系王工，手机 13812345678。") + 1 != phone_line


def test_submitting_does_not_reveal_which_unreadable_articles_exist(app, login_as, make_article):
    """A link to another enterprise's draft is as dead for its author as a link to nothing:
    were it accepted, submitting would tell him the draft exists."""
    make_article(slug="printer-offline")
    make_article(status="draft", slug="rival-draft", owner="other")
    editor = login_as("editor")
    linked = GOOD_BODY.replace(
        "## 参考资料",
        "见 [脱机处理](/articles/printer-offline)、[对手草稿](/articles/rival-draft)"
        " 和 [没有的](/articles/no-such-article)。\n\n## 参考资料",
    )
    created = editor.post(
        "/api/v1/articles", data=(SOURCE + linked).encode(), content_type="text/markdown"
    )
    refused = editor.post(f"/api/v1/articles/{created.get_json()['slug']}/submit")
    assert refused.status_code == 422
    dead = [
        f["message"] for f in refused.get_json()["error"]["findings"] if f["rule"] == "KB-LINK-001"
    ]
    assert len(dead) == 2
    assert any("rival-draft" in m for m in dead) and any("no-such-article" in m for m in dead)
    assert dead[0].replace("rival-draft", "no-such-article") in dead
