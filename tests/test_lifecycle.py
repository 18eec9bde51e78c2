"""An article's life over HTTP: an enterprise editor writes it (form and API) with a live
preview and submits it, a bureau curator returns it with a reason the editor sees, the editor
resubmits, the curator publishes, a reader reads it. A revision of a published article stays
invisible until approved; every revision is kept and any two can be compared.

All bodies are conftest.GOOD_BODY variants, written to pass the content checker.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from kb import db
from kb.models import AuditEvent, Revision
from tests.conftest import GOOD_BODY, get_article

FORM = {
    "title": "统信 UOS 下奔图打印机脱机的处理",
    "slug": "uos-pantum-offline",
    "type": "故障处理",
    "category": "打印与扫描",
    "products": "奔图 M6202\n奔图 P2500",
    "os": "统信 UOS 桌面版 1070",
    "tags": "打印机，脱机",
    "review_by": "2027-01-31",
    "visibility": "public",
    "allowed_orgs": "",
    "summary": "奔图打印机脱机时按本文重新添加打印机。",
    "markdown": GOOD_BODY,
    "message": "首次创建",
}

FRONT = """---
title: 银河麒麟下 WPS 表格冻结首行
type: 操作指南
category: 办公软件
products: [WPS Office 2019 for Linux]
os: [银河麒麟桌面操作系统 V10 SP1]
visibility: public
summary: 冻结首行后滚动表格时标题行保持可见。
---

"""


def text(response) -> str:
    return response.get_data(as_text=True)


def audit_actions(app, slug: str) -> list[str]:
    with app.app_context():
        rows = db.session().scalars(
            select(AuditEvent.action).where(AuditEvent.object_id == slug).order_by(AuditEvent.id)
        )
        return list(rows)


def test_editor_curator_reader_walk_through_the_whole_lifecycle(app, client, login_as):
    editor = login_as("editor")
    curator = login_as("curator")
    reader = login_as("reader")

    # the editor opens the form, previews, and saves a draft
    assert "新建文章" in text(editor.get("/editor/new"))
    preview = editor.post("/editor/preview", data=FORM)
    assert preview.status_code == 200
    assert '<h2 id="h-现象">现象</h2>' in preview.get_json()["html"]
    assert isinstance(preview.get_json()["findings"], list)

    saved = editor.post("/editor/new", data=FORM)
    assert saved.status_code == 302
    assert saved.headers["Location"].startswith("/editor/uos-pantum-offline/edit")
    slug = FORM["slug"]
    assert "已保存为新修订" in text(editor.get(saved.headers["Location"]))

    # nobody outside the enterprise and the bureau knows the draft exists
    assert client.get(f"/articles/{slug}").status_code == 404
    assert reader.get(f"/articles/{slug}").status_code == 404
    assert FORM["title"] not in text(client.get("/articles"))

    # submit: it appears in the curator's queue
    assert editor.post(f"/editor/{slug}/submit").status_code == 302
    assert get_article(app, slug).status == "submitted"
    queue = text(curator.get("/review/"))
    assert FORM["title"] in queue and "新文章" in queue
    review_page = text(curator.get(f"/review/{slug}"))
    assert "退回修改" in review_page and "发布" in review_page

    # return with a reason: the editor sees it on the workbench, the edit page and the article
    reason = "请补充奔图 P2500 的驱动下载位置"
    assert curator.post(f"/review/{slug}/return", data={"reason": reason}).status_code == 302
    assert get_article(app, slug).status == "returned"
    assert reason in text(editor.get("/editor/"))
    assert reason in text(editor.get(f"/editor/{slug}/edit"))
    assert reason in text(editor.get(f"/articles/{slug}"))
    assert FORM["title"] not in text(curator.get("/review/"))
    assert reader.get(f"/articles/{slug}").status_code == 404

    # revise and resubmit
    fixed = dict(FORM, markdown=GOOD_BODY + "\n驱动可从奔图官网服务支持页面下载。\n")
    assert editor.post(f"/editor/{slug}/edit", data=fixed).status_code == 302
    assert editor.post(f"/editor/{slug}/submit").status_code == 302
    assert FORM["title"] in text(curator.get("/review/"))

    # publish: every reader, signed in or not, sees it, listed and in full
    assert curator.post(f"/review/{slug}/publish", data={"note": "内容完整"}).status_code == 302
    article = get_article(app, slug)
    assert article.status == "published" and article.pending is None
    for who in (client, reader):
        page = text(who.get(f"/articles/{slug}"))
        assert FORM["title"] in page and "驱动可从奔图官网服务支持页面下载" in page
        assert "读者尚不可见" not in page
        assert FORM["title"] in text(who.get("/articles"))
        assert FORM["title"] in text(who.get("/articles?category=打印与扫描"))
        assert FORM["title"] in text(who.get("/articles?type=故障处理"))
        assert FORM["title"] not in text(who.get("/articles?type=常见问题"))
        assert FORM["title"] in text(who.get("/"))
    api = client.get(f"/api/v1/articles/{slug}").get_json()
    assert api["status"] == "published" and api["revision"] == 2
    assert "驱动可从奔图官网服务支持页面下载" in api["markdown"]
    assert "<h2" in api["html"]
    assert FORM["title"] not in text(curator.get("/review/"))

    assert audit_actions(app, slug) == [
        "article.create",
        "article.submit",
        "article.return",
        "article.edit",
        "article.submit",
        "article.publish",
    ]


def test_editor_creates_submits_via_api_and_curator_publishes_via_api(app, client, login_as):
    editor = login_as("editor")
    created = editor.post(
        "/api/v1/articles", data=(FRONT + GOOD_BODY).encode(), content_type="text/markdown"
    )
    assert created.status_code == 201, text(created)
    body = created.get_json()
    slug = body["slug"]
    assert body["status"] == "draft" and body["revision"] == 1
    assert body["enterprise"] == "demo"
    assert re.fullmatch(r"[a-z0-9-]+", slug)  # a pinyin slug from the Chinese title

    as_json = editor.post(
        "/api/v1/articles",
        json={
            "title": "达梦数据库服务无法启动",
            "slug": "dm-start-failed",
            "type": "故障处理",
            "category": "数据库",
            "visibility": "registered",
            "markdown": GOOD_BODY,
        },
    )
    assert as_json.status_code == 201, text(as_json)
    assert as_json.get_json()["visibility"] == "registered"

    assert client.get(f"/api/v1/articles/{slug}").status_code == 404
    assert editor.post(f"/api/v1/articles/{slug}/submit").status_code == 200
    curator = login_as("curator")
    pending = curator.get("/api/v1/articles?status=submitted").get_json()
    assert [a["slug"] for a in pending["results"]] == [slug]
    published = curator.post(f"/api/v1/articles/{slug}/publish", json={"reason": "通过"})
    assert published.status_code == 200, text(published)
    assert published.get_json()["status"] == "published"

    listing = client.get("/api/v1/articles").get_json()
    assert [a["slug"] for a in listing["results"]] == [slug]
    assert (
        client.get(f"/api/v1/articles/{slug}").get_json()["title"] == "银河麒麟下 WPS 表格冻结首行"
    )


def test_return_over_api_shows_reason_to_editor_and_resubmit_works(app, login_as):
    editor = login_as("editor")
    slug = editor.post(
        "/api/v1/articles", data=(FRONT + GOOD_BODY).encode(), content_type="text/markdown"
    ).get_json()["slug"]
    editor.post(f"/api/v1/articles/{slug}/submit")
    curator = login_as("curator")
    returned = curator.post(f"/api/v1/articles/{slug}/return", json={"reason": "缺少截图说明"})
    assert returned.status_code == 200
    assert returned.get_json()["status"] == "returned"
    seen = editor.get(f"/api/v1/articles/{slug}").get_json()
    assert seen["review_note"] == "缺少截图说明"
    resubmitted = editor.post(f"/api/v1/articles/{slug}/submit")
    assert resubmitted.status_code == 200
    assert resubmitted.get_json()["status"] == "submitted"


def test_revision_of_published_article_stays_hidden_until_approved(
    app, client, make_article, login_as
):
    slug = make_article(slug="printer-offline")
    editor = login_as("editor")
    curator = login_as("curator")
    reader = login_as("reader")
    new_body = GOOD_BODY.replace("重新添加打印机", "重新添加打印机并打印测试页")

    form = editor.get(f"/editor/{slug}/edit")
    assert form.status_code == 200 and "打印机显示脱机的处理方法" in text(form)
    saved = editor.post(
        f"/editor/{slug}/edit",
        data=dict(FORM, title="打印机显示脱机的处理方法（修订）", slug=slug, markdown=new_body),
    )
    assert saved.status_code == 302
    assert "已发布的版本在新修订通过审核前保持不变" in text(editor.get(saved.headers["Location"]))

    def reader_sees_old() -> None:
        for who in (client, reader):
            page = text(who.get(f"/articles/{slug}"))
            assert "打印机显示脱机的处理方法" in page
            assert "（修订）" not in page and "打印测试页" not in page
            api = who.get(f"/api/v1/articles/{slug}").get_json()
            assert api["revision"] == 1 and "打印测试页" not in api["markdown"]
            assert "（修订）" not in text(who.get("/articles"))

    reader_sees_old()
    # the editor can look at the working revision explicitly
    working = editor.get(f"/api/v1/articles/{slug}?revision=working").get_json()
    assert working["revision"] == 2 and "打印测试页" in working["markdown"]
    assert get_article(app, slug).pending == "draft"

    assert editor.post(f"/editor/{slug}/submit").status_code == 302
    reader_sees_old()
    queue = text(curator.get("/review/"))
    assert "已发布文章的修订" in queue
    review = text(curator.get(f"/review/{slug}"))
    assert "与已发布版本的差异" in review and "打印测试页" in review

    assert curator.post(f"/review/{slug}/publish").status_code == 302
    for who in (client, reader):
        page = text(who.get(f"/articles/{slug}"))
        assert "打印机显示脱机的处理方法（修订）" in page and "打印测试页" in page
    article = get_article(app, slug)
    assert article.status == "published" and article.pending is None
    with app.app_context():
        states = list(
            db.session().scalars(
                select(Revision.state)
                .where(Revision.article_id == article.id)
                .order_by(Revision.number)
            )
        )
    assert states == ["superseded", "published"]


def test_returned_revision_of_published_article_keeps_the_published_one_online(
    app, client, make_article, login_as
):
    slug = make_article(slug="printer-offline")
    editor = login_as("editor")
    put = editor.put(
        f"/api/v1/articles/{slug}",
        json={
            "title": "打印机脱机：新写法",
            "type": "故障处理",
            "category": "打印与扫描",
            "visibility": "public",
            "markdown": GOOD_BODY + "\n补充说明。\n",
        },
    )
    assert put.status_code == 200, text(put)
    assert put.get_json()["revision"] == 2
    editor.post(f"/api/v1/articles/{slug}/submit")
    login_as("curator").post(f"/api/v1/articles/{slug}/return", json={"reason": "标题不准确"})
    assert "打印机显示脱机的处理方法" in text(client.get(f"/articles/{slug}"))
    assert "新写法" not in text(client.get(f"/articles/{slug}"))
    assert "标题不准确" in text(editor.get("/editor/"))
    article = get_article(app, slug)
    assert article.status == "published" and article.pending == "returned"


def test_revisions_and_diff_between_any_two_pages_and_api(app, make_article, login_as, client):
    slug = make_article(slug="printer-offline")
    editor = login_as("editor")
    bodies = [
        GOOD_BODY.replace("查看打印机状态", "查看所有打印机的状态"),
        GOOD_BODY.replace("选择正确的驱动", "选择型号对应的驱动"),
    ]
    for body in bodies:
        response = editor.put(
            f"/api/v1/articles/{slug}",
            data=(
                "---\ntitle: 打印机显示脱机的处理方法\ntype: 故障处理\ncategory: 打印与扫描\n"
                "visibility: public\n---\n\n" + body
            ).encode(),
            content_type="text/markdown",
        )
        assert response.status_code == 200, text(response)

    listed = editor.get(f"/api/v1/articles/{slug}/revisions").get_json()
    assert [r["number"] for r in listed["revisions"]] == [1, 2, 3]
    assert listed["published"] == 1 and listed["working"] == 3
    assert [r["author"] for r in listed["revisions"]][1:] == ["editor", "editor"]

    page = text(editor.get(f"/articles/{slug}/revisions"))
    assert "当前发布" in page and "工作修订" in page and "比较所选修订" in page

    d13 = editor.get(f"/api/v1/articles/{slug}/diff?from=1&to=3").get_json()
    added = [line["text"] for line in d13["lines"] if line["op"] == "+"]
    removed = [line["text"] for line in d13["lines"] if line["op"] == "-"]
    assert not any("查看所有打印机的状态" in t for t in removed + added)  # same in 1 and 3
    assert any("选择型号对应的驱动" in t for t in added)
    assert any("选择正确的驱动" in t for t in removed)
    d12 = editor.get(f"/api/v1/articles/{slug}/diff?from=1&to=2").get_json()
    assert any("查看所有打印机的状态" in line["text"] for line in d12["lines"] if line["op"] == "+")
    d32 = editor.get(f"/api/v1/articles/{slug}/diff?from=3&to=2").get_json()
    assert any("选择正确的驱动" in line["text"] for line in d32["lines"] if line["op"] == "+")
    same = editor.get(f"/api/v1/articles/{slug}/diff?from=2&to=2").get_json()
    assert same["lines"] == []

    diff_page = text(editor.get(f"/articles/{slug}/diff?from=1&to=3"))
    assert "修订 1 → 3" in diff_page
    # side by side, the change marked inside the line on both sides
    assert '<td class="old">3. 重新添加打印机，选择<del>正确</del>的驱动。</td>' in diff_page
    assert '<td class="new">3. 重新添加打印机，选择<ins>型号对应</ins>的驱动。</td>' in diff_page
    assert "两个修订内容相同" in text(editor.get(f"/articles/{slug}/diff?from=3&to=3"))

    # history is work material: a reader may read the article but not its history
    reader = login_as("reader")
    assert reader.get(f"/articles/{slug}").status_code == 200
    assert reader.get(f"/articles/{slug}/revisions").status_code == 403
    assert reader.get(f"/api/v1/articles/{slug}/revisions").status_code == 403
    assert client.get(f"/api/v1/articles/{slug}/diff?from=1&to=2").status_code == 403
    missing = editor.get(f"/api/v1/articles/{slug}/diff?from=1&to=9")
    assert missing.status_code == 404 and missing.get_json()["error"]["fields"] == {
        "revision": "修订不存在"
    }


def test_download_keeps_the_chinese_title_as_the_file_name(client, make_article):
    """werkzeug's secure_filename("政务指南.pdf") gives "pdf": the title must survive."""
    from urllib.parse import quote

    slug = make_article(slug="printer-offline", title="政务指南：打印机脱机")
    response = client.get(f"/articles/{slug}/download")
    assert response.status_code == 200
    assert response.mimetype == "text/markdown"
    disposition = response.headers["Content-Disposition"]
    assert 'filename="printer-offline.md"' in disposition
    assert "filename*=UTF-8''" + quote("政务指南：打印机脱机.md") in disposition
    assert response.get_data(as_text=True).startswith("---\ntitle: 政务指南：打印机脱机\n")
