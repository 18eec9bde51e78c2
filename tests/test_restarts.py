"""Restarts never change content (issue 9, point 1): ``kb init --demo`` fills only an empty
database, and ``kb import`` adds nothing for an unchanged file, stages a changed published
article for review, and never overwrites a revision written after the file's last import.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from kb import db
from kb.cli import cli
from kb.models import Article, Revision
from tests.conftest import GOOD_BODY, close, config_for, kb_env, login
from tests.test_cli import demo_passwords

KB = str(Path(sys.executable).with_name("kb"))
SAMPLE = "kylin-hp-m1136-offline"
FILE = (
    "---\ntitle: 打印机显示脱机的处理方法\ntype: 故障处理\ncategory: 打印与扫描\n"
    "visibility: public\nproducts: [惠普 LaserJet M1136]\nos: [银河麒麟桌面操作系统 V10 SP1]\n"
    "tags: [打印机, 脱机]\nsummary: 打印机脱机时按本文重新添加打印机。\n---\n\n" + GOOD_BODY
)


def version(words: str) -> str:
    """The article file with its third step reworded."""
    return FILE.replace("选择正确的驱动", words)


def kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [KB, *args], env=kb_env(data_dir), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def revisions_of(app, slug: str) -> list[tuple[int, str, str]]:
    """(number, author, state) of every revision of the article."""
    with app.app_context():
        s = db.session()
        article = s.scalar(select(Article).where(Article.slug == slug))
        rows = s.scalars(
            select(Revision).where(Revision.article_id == article.id).order_by(Revision.number)
        )
        return [(r.number, r.author_name, r.state) for r in rows]


def revision_count(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(Revision))


def test_an_approved_edit_survives_init_demo_and_a_second_import(tmp_path):
    """The reported bug: a second ``make run`` put the sample text back as a 系统 revision."""
    data_dir = tmp_path / "data"
    kb(data_dir, "init", "--demo")
    passwords = demo_passwords(data_dir)
    app = __import__("kb").create_app(config_for(data_dir))
    try:
        editor = login(app.test_client(), "editor", passwords["editor"])
        curator = login(app.test_client(), "curator", passwords["curator"])
        shown = editor.get(f"/api/v1/articles/{SAMPLE}").get_json()
        edited = shown["source"].replace(
            "## 解决步骤", "## 解决步骤\n\n（编辑补充：先重启 CUPS。）", 1
        )
        assert edited != shown["source"]
        saved = editor.put(f"/api/v1/articles/{SAMPLE}", json={"source": edited})
        assert saved.status_code == 200, saved.get_data(as_text=True)
        assert editor.post(f"/api/v1/articles/{SAMPLE}/submit").status_code == 200
        assert curator.post(f"/api/v1/articles/{SAMPLE}/publish").status_code == 200
        before = revisions_of(app, SAMPLE)
        assert before[-1] == (2, "editor", "published")
        total = revision_count(app)

        again = kb(data_dir, "init", "--demo")
        assert "不再创建示例账号或导入示例文章，现有内容保持不变" in again.stdout
        imported = kb(data_dir, "import", str(Path(kb_root()) / "articles"), "--publish")
        # the sample file is unchanged since it was imported: nothing to bring, nothing lost
        sample = Path(kb_root()) / "articles" / f"{SAMPLE}.md"
        assert f"未变化\t{sample}" in imported.stdout
        assert "新修订" not in imported.stdout and "新建" not in imported.stdout

        assert revisions_of(app, SAMPLE) == before
        assert revision_count(app) == total
        page = app.test_client().get(f"/articles/{SAMPLE}").get_data(as_text=True)
        assert "编辑补充：先重启 CUPS" in page
        assert demo_passwords(data_dir) == passwords
    finally:
        close(app)


def kb_root() -> str:
    from kb import ROOT

    return str(ROOT)


def test_reimporting_an_unchanged_file_adds_nothing_and_a_changed_one_waits_for_review(
    app, runner, tmp_path, login_as
):
    path = tmp_path / "printer.md"
    path.write_text(FILE, encoding="utf-8")
    first = runner.invoke(cli, ["import", str(path), "--enterprise", "demo", "--publish"])
    assert first.exit_code == 0 and "新建" in first.output, first.output
    assert revisions_of(app, "printer") == [(1, "系统", "published")]

    same = runner.invoke(cli, ["import", str(path), "--enterprise", "demo", "--publish"])
    assert same.exit_code == 0 and "未变化" in same.output
    assert revisions_of(app, "printer") == [(1, "系统", "published")]

    path.write_text(version("选择“HP LaserJet 1136”驱动"), encoding="utf-8")
    changed = runner.invoke(cli, ["import", str(path), "--enterprise", "demo"])
    assert changed.exit_code == 0 and "新修订" in changed.output, changed.output
    assert revisions_of(app, "printer") == [(1, "系统", "published"), (2, "系统", "submitted")]
    # readers still see the published text; the curator finds the change in the queue
    assert "HP LaserJet 1136”驱动" not in app.test_client().get("/articles/printer").get_data(
        as_text=True
    )
    queue = login_as("curator").get("/api/v1/articles?status=pending").get_json()
    assert [a["slug"] for a in queue["results"]] == ["printer"]

    # the same changed file again: nothing new
    again = runner.invoke(cli, ["import", str(path), "--enterprise", "demo"])
    assert again.exit_code == 0 and "未变化" in again.output
    assert len(revisions_of(app, "printer")) == 2

    # --publish: the staged import is replaced by the file, published without review
    path.write_text(version("选择 IPP Everywhere 驱动"), encoding="utf-8")
    published = runner.invoke(cli, ["import", str(path), "--enterprise", "demo", "--publish"])
    assert published.exit_code == 0, published.output
    assert revisions_of(app, "printer") == [
        (1, "系统", "superseded"),
        (2, "系统", "superseded"),
        (3, "系统", "published"),
    ]
    assert "IPP Everywhere" in app.test_client().get("/articles/printer").get_data(as_text=True)


def test_an_import_never_overwrites_an_editors_newer_revision(app, runner, tmp_path, login_as):
    path = tmp_path / "printer.md"
    path.write_text(FILE, encoding="utf-8")
    assert (
        runner.invoke(cli, ["import", str(path), "--enterprise", "demo", "--publish"]).exit_code
        == 0
    )
    editor = login_as("editor")
    source = editor.get("/api/v1/articles/printer").get_json()["source"]
    mine = source.replace("选择正确的驱动", "选择正确的驱动（编辑的草稿）")
    assert editor.put("/api/v1/articles/printer", json={"source": mine}).status_code == 200

    path.write_text(version("选择“HP LaserJet 1136”驱动"), encoding="utf-8")
    for flags in ([], ["--publish"]):
        result = runner.invoke(cli, ["import", str(path), "--enterprise", "demo", *flags])
        assert result.exit_code == 0, result.output
        assert "保留现有修订" in result.output and "修订 1" in result.output
        assert "已有更新的修订 2，未覆盖" in result.output
    assert revisions_of(app, "printer") == [(1, "系统", "published"), (2, "editor", "draft")]
    working = editor.get("/api/v1/articles/printer?revision=working").get_json()
    assert "编辑的草稿" in working["markdown"]
