"""Edit conflicts (issue 9, point 8): a save names the revision it started from; when someone
saved a newer one meanwhile, the API answers 409 ``edit_conflict`` with the current revision,
and the editor page shows the difference instead of overwriting. Saves without a base
revision (older API clients) go through as before.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from kb import db
from kb.models import Article


def working(app, slug: str) -> tuple[int, str]:
    """(number, source) of the article's working revision, read from the database."""
    with app.app_context():
        article = db.session().scalar(select(Article).where(Article.slug == slug))
        return article.working_revision.number, article.working_revision.source


def source_of(client, slug: str) -> tuple[str, int]:
    shown = client.get(f"/api/v1/articles/{slug}?revision=working").get_json()
    return shown["source"], shown["revision"]


def test_api_refuses_a_save_based_on_an_old_revision(make_article, login_as):
    slug = make_article()
    alice, bob = login_as("editor"), login_as("editor")
    source, base = source_of(alice, slug)
    assert base == 1
    first = alice.put(
        f"/api/v1/articles/{slug}?base_revision=1",
        json={"source": source.replace("选择正确的驱动", "选择 IPP 驱动")},
    )
    assert first.status_code == 200 and first.get_json()["revision"] == 2

    # bob still has revision 1 open: as a JSON field this time
    late = bob.put(
        f"/api/v1/articles/{slug}",
        json={"source": source.replace("选择正确的驱动", "选择 PCL 驱动"), "base_revision": 1},
    )
    assert late.status_code == 409
    error = late.get_json()["error"]
    assert error["code"] == "edit_conflict" and error["current_revision"] == 2
    assert "修订 2" in error["message"] and "基于修订 1" in error["message"]
    number, text = working(bob.application, slug)
    assert number == 2 and "选择 IPP 驱动" in text  # alice's work is intact

    # after looking at revision 2, bob saves on top of it
    again = bob.put(
        f"/api/v1/articles/{slug}?base_revision=2",
        json={"source": source.replace("选择正确的驱动", "选择 PCL 驱动")},
    )
    assert again.status_code == 200 and again.get_json()["revision"] == 3

    # a client that sends no base revision (older clients) is not checked
    old = bob.put(f"/api/v1/articles/{slug}", json={"source": source})
    assert old.status_code == 200 and old.get_json()["revision"] == 4


def test_bad_base_revision_is_a_field_error(make_article, login_as):
    slug = make_article()
    editor = login_as("editor")
    source, _ = source_of(editor, slug)
    for bad in ("abc", "-1", "0"):
        answer = editor.put(f"/api/v1/articles/{slug}?base_revision={bad}", json={"source": source})
        assert answer.status_code == 422
        assert answer.get_json()["error"]["fields"]["base_revision"] == "应为正整数"


def test_editor_page_shows_the_difference_instead_of_overwriting(make_article, login_as):
    slug = make_article()
    alice, bob = login_as("editor"), login_as("editor")
    form_page = bob.get(f"/editor/{slug}/edit").get_data(as_text=True)
    assert 'name="base_revision" value="1"' in form_page
    fields = {
        name: value for name, value in re.findall(r'<input name="(\w+)" value="([^"]*)"', form_page)
    }
    markdown = re.search(r'name="markdown"[^>]*>(.*?)</textarea>', form_page, re.S).group(1)
    form = {
        "title": fields["title"],
        "type": "故障处理",
        "category": "打印与扫描",
        "visibility": "public",
        "products": "惠普 LaserJet M1136",
        "os": "银河麒麟桌面操作系统 V10 SP1",
        "summary": "打印机脱机时按本文重新添加打印机。",
    }

    source, _ = source_of(alice, slug)
    saved = alice.put(
        f"/api/v1/articles/{slug}?base_revision=1",
        json={"source": source.replace("选择正确的驱动", "选择 IPP 驱动")},
    )
    assert saved.status_code == 200

    mine = markdown.replace("选择正确的驱动", "选择 PCL 驱动")
    answer = bob.post(f"/editor/{slug}/edit", data={**form, "markdown": mine, "base_revision": "1"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 409
    assert "编辑冲突：修订 2（editor）与您的修改的差异" in page
    # side by side: revision 2's line on the left, the author's on the right
    old_cells = [
        re.sub(r"</?(del|ins)>", "", c) for c in re.findall(r'<td class="old">(.*?)</td>', page)
    ]
    new_cells = [
        re.sub(r"</?(del|ins)>", "", c) for c in re.findall(r'<td class="new">(.*?)</td>', page)
    ]
    assert any("选择 IPP 驱动" in c for c in old_cells) and not any("PCL" in c for c in old_cells)
    assert any("选择 PCL 驱动" in c for c in new_cells) and not any("IPP" in c for c in new_cells)
    assert "选择 PCL 驱动" in re.search(r'name="markdown"[^>]*>(.*?)</textarea>', page, re.S).group(
        1
    )
    assert 'name="base_revision" value="2"' in page
    assert working(bob.application, slug)[0] == 2  # nothing overwritten

    # the informed second save goes through on top of revision 2
    after = bob.post(f"/editor/{slug}/edit", data={**form, "markdown": mine, "base_revision": "2"})
    assert after.status_code == 302
    assert working(bob.application, slug)[0] == 3
