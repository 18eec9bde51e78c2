"""``kb init --demo`` makes the loops visible on a fresh database (tickets citing articles,
one that became a draft, votes, one open revision request) and never adds them again or into
a database that already holds articles."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from kb import create_app, db
from kb.cli import cli
from kb.models import Article, Feedback, RevisionRequest, Ticket, TicketArticle
from tests.conftest import close
from tests.test_cli import GOOD


def loop_counts(data_dir: Path) -> dict[str, int]:
    app = create_app({"TESTING": True, "DATA_DIR": str(data_dir)})
    with app.app_context():
        s = db.session()
        numbers = {
            name: s.scalar(select(func.count()).select_from(table))
            for name, table in (
                ("tickets", Ticket),
                ("cited", TicketArticle),
                ("votes", Feedback),
                ("articles", Article),
            )
        }
        numbers["open_requests"] = s.scalar(
            select(func.count())
            .select_from(RevisionRequest)
            .where(RevisionRequest.status == "open")
        )
        numbers["ticket_drafts"] = s.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.draft_article_id.is_not(None))
        )
    app.extensions["kb_engine"].dispose()
    return numbers


def test_a_fresh_demo_shows_both_loops_alive(runner, app_config):
    data_dir = Path(app_config["DATA_DIR"])
    result = runner.invoke(cli, ["init", "--demo"])
    assert result.exit_code == 0, result.output
    assert "示例闭环数据：工单 3 个（生成草稿 1 篇）" in result.output
    numbers = loop_counts(data_dir)
    assert numbers["tickets"] == 3 and numbers["cited"] == 2 and numbers["ticket_drafts"] == 1
    assert numbers["votes"] >= 5 and numbers["open_requests"] == 1

    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "DATA_DIR": str(data_dir)})
    client = app.test_client()
    page = client.get("/articles/kylin-hp-m1136-offline").get_data(as_text=True)
    assert "已帮助解决 1 个工单" in page and '有帮助 <span class="count-yes">3</span>' in page
    close(app)  # the page searched for related articles: release the index files

    # a second run adds nothing
    again = runner.invoke(cli, ["init", "--demo"])
    assert again.exit_code == 0, again.output
    assert "示例闭环数据" not in again.output
    assert loop_counts(data_dir) == numbers


def test_demo_activity_is_never_added_to_a_database_with_articles(runner, app_config, tmp_path):
    data_dir = Path(app_config["DATA_DIR"])
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert (
        runner.invoke(cli, ["org", "create", "demo", "示例企业", "--kind", "enterprise"]).exit_code
        == 0
    )
    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "own.md").write_text(GOOD.format(title="本单位已有的文章"), encoding="utf-8")
    assert runner.invoke(cli, ["import", str(folder), "--enterprise", "demo"]).exit_code == 0
    result = runner.invoke(cli, ["init", "--demo"])
    assert result.exit_code == 0, result.output
    assert "示例闭环数据" not in result.output
    numbers = loop_counts(data_dir)
    assert numbers["tickets"] == 0 and numbers["votes"] == 0 and numbers["open_requests"] == 0


def test_a_demo_set_up_killed_half_way_is_finished_by_the_next_run(runner, app_config, monkeypatch):
    """`make run` interrupted while it imports the samples: the next one must not take the
    half-filled database for a used one and leave it without half the samples for good."""
    from kb import ROOT, importer

    data_dir = Path(app_config["DATA_DIR"])
    samples = len(list((ROOT / "articles").glob("*.md")))
    real_import = importer.import_paths

    def killed_after_ten(s, actor, paths, **options):  # type: ignore[no-untyped-def]
        first = sorted((ROOT / "articles").glob("*.md"))[:10]
        real_import(s, actor, [str(p) for p in first], **options)
        raise SystemExit(137)  # as if killed: nothing after this point ran

    monkeypatch.setattr(importer, "import_paths", killed_after_ten)
    assert runner.invoke(cli, ["init", "--demo"]).exit_code == 137
    assert loop_counts(data_dir)["articles"] == 10
    monkeypatch.setattr(importer, "import_paths", real_import)

    resumed = runner.invoke(cli, ["init", "--demo"])
    assert resumed.exit_code == 0, resumed.output
    assert "上次初始化示例数据未完成" in resumed.output
    assert "示例闭环数据：工单 3 个" in resumed.output
    full = loop_counts(data_dir)
    assert full["articles"] == samples + 1  # every sample, and the draft a ticket became
    assert full["tickets"] == 3 and full["open_requests"] == 1 and full["votes"] >= 5

    settled = runner.invoke(cli, ["init", "--demo"])
    assert "不再创建示例账号或导入示例文章" in settled.output
    assert loop_counts(data_dir) == full
