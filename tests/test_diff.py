"""The review desk's comparison: changes marked inside the line, by word and by character,
escaped; the same marks in the diff API; the desk itself with findings and comments."""

from __future__ import annotations

import re

from kb import diff
from tests.conftest import GOOD_BODY


def marks(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html)


def test_a_one_character_fix_marks_exactly_that_character():
    old = "打开控制面板，在设备列表中查看打印机的状态，确认没有显示脱机。"
    new = "打开控制面版，在设备列表中查看打印机的状态，确认没有显示脱机。"
    (row,) = diff.compare(old, new)
    assert row.op == "replace"
    assert marks(row.old_html, "del") == ["板"] and marks(row.new_html, "ins") == ["版"]
    assert (
        str(row.new_html)
        == "打开控制面<ins>版</ins>，在设备列表中查看打印机的状态，确认没有显示脱机。"
    )
    assert (
        str(row.html)
        == "打开控制面<del>板</del><ins>版</ins>，在设备列表中查看打印机的状态，确认没有显示脱机。"
    )


def test_a_changed_word_is_marked_as_a_word_and_unchanged_lines_are_not_marked():
    old = "## 解决步骤\n\n1. 重新添加打印机，选择正确的驱动。\n2. 打印测试页。"
    new = "## 解决步骤\n\n1. 重新添加打印机，选择型号对应的驱动。\n2. 打印测试页。"
    rows = diff.compare(old, new)
    assert [r.op for r in rows] == ["equal", "equal", "replace", "equal"]
    changed = rows[2]
    assert marks(changed.old_html, "del") == ["正确"]
    assert marks(changed.new_html, "ins") == ["型号对应"]
    assert all("<" not in str(r.new_html) for r in rows if r.op == "equal")


def test_added_and_removed_lines_pair_with_their_neighbours_and_text_is_escaped():
    old = "第一段说明。\n旧的一段，整段删除。\n最后一段。"
    new = "第一段说明。\n最后一段。\n新增 <script>alert(1)</script> & 一段。"
    rows = diff.compare(old, new)
    assert [r.op for r in rows] == ["equal", "delete", "equal", "insert"]
    assert marks(rows[1].old_html, "del") == ["旧的一段，整段删除。"]
    assert (
        str(rows[3].new_html)
        == "<ins>新增 &lt;script&gt;alert(1)&lt;/script&gt; &amp; 一段。</ins>"
    )
    # the marks are the only markup anywhere
    html = str(diff.unified_html(rows))
    assert set(re.findall(r"</?([a-z]+)", html)) == {"ins", "del"}


def test_long_unchanged_stretches_are_folded_around_the_change():
    lines = [f"第 {n} 段没有改动。" for n in range(20)]
    new = lines.copy()
    new[10] = "第 10 段改动了。"
    rows = diff.folded(diff.compare("\n".join(lines), "\n".join(new)))
    assert [r.op for r in rows] == ["skip", "equal", "equal", "replace", "equal", "equal", "skip"]
    assert rows[0].skipped == 8 and rows[-1].skipped == 7


def _two_revisions(make_article, login_as) -> tuple[str, object]:
    slug = make_article(slug="printer-offline", body=GOOD_BODY)
    editor = login_as("editor")
    source = editor.get(f"/api/v1/articles/{slug}").get_json()["source"]
    fixed = source.replace("查看打印机状态", "查看打印机状况")
    response = editor.put(
        f"/api/v1/articles/{slug}", data=fixed.encode(), content_type="text/markdown"
    )
    assert response.status_code == 200
    return slug, editor


def test_the_diff_api_keeps_its_lines_and_adds_the_same_marks(make_article, login_as):
    slug, editor = _two_revisions(make_article, login_as)
    out = editor.get(f"/api/v1/articles/{slug}/diff?from=1&to=2").get_json()
    assert {"slug", "from", "to", "lines", "html", "rows"} <= set(out)
    assert any(line["op"] == "+" for line in out["lines"])  # the old field is still there
    assert marks(out["html"], "del") == ["态"] and marks(out["html"], "ins") == ["况"]
    (row,) = [r for r in out["rows"] if r["op"] == "replace"]
    assert row["old_html"].count("<del>") == 1 and "查看打印机状<ins>况</ins>" in row["new_html"]


def test_review_desk_shows_the_change_the_findings_and_comments_reach_the_editor(
    make_article, login_as
):
    slug, editor = _two_revisions(make_article, login_as)
    assert editor.post(f"/api/v1/articles/{slug}/submit").status_code == 200
    curator = login_as("curator")
    desk = curator.get(f"/review/{slug}").get_data(as_text=True)
    assert "已发布（修订 1）" in desk and "待审核（修订 2）" in desk
    assert "查看打印机状<ins>况</ins>" in desk and "查看打印机状<del>态</del>" in desk
    assert "内容检查（修订 2）" in desk
    # line numbers of the diff are body lines, as the checker's findings say
    body_no = (
        GOOD_BODY.split("\n").index(
            next(ln for ln in GOOD_BODY.split("\n") if "查看打印机状态" in ln)
        )
        + 1
    )
    assert f'<td class="ln">{body_no}</td>\n      <td class="new">' in desk

    posted = curator.post(
        f"/review/{slug}/comment", data={"comment": "“状况”不如“状态”准确，请改回。"}
    )
    assert posted.status_code == 302
    for page in (f"/editor/{slug}/edit", "/editor/", f"/articles/{slug}"):
        shown = editor.get(page).get_data(as_text=True)
        assert "“状况”不如“状态”准确，请改回。" in shown, page
    listed = editor.get(f"/api/v1/articles/{slug}/revisions").get_json()["revisions"]
    assert [c["body"] for c in listed[1]["comments"]] == ["“状况”不如“状态”准确，请改回。"]
    assert listed[0]["comments"] == []
    # readers never see the bureau's comments; editors cannot write them
    assert "请改回" not in login_as("reader").get(f"/articles/{slug}").get_data(as_text=True)
    assert editor.post(f"/review/{slug}/comment", data={"comment": "x"}).status_code == 403
    empty = curator.post(f"/review/{slug}/comment", data={"comment": "  "})
    assert empty.status_code == 422 and "请填写审核意见" in empty.get_data(as_text=True)
