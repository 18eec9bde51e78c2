"""The index log: each index reads it from its own position, late commits are not skipped,
pruning is safe, and writes do not touch the index inside the request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from kb import db
from kb.models import Article, IndexTask
from tests.test_search import api_search, slugs


def article_id(app, slug: str) -> int:
    with app.app_context():
        return db.session().scalar(select(Article.id).where(Article.slug == slug))


def test_a_change_committed_late_with_a_smaller_id_is_still_applied(app, make_article):
    """On PostgreSQL an id is taken before commit, so a smaller id can appear after a larger
    one has been read: the skipped id is kept as a gap and applied when it shows up."""
    from kb.index import writer

    make_article(slug="early", title="扫描仪驱动安装失败")
    app.config["INDEX_ENABLED"] = False  # its index task will be written "late", by hand
    make_article(slug="late", title="高拍仪驱动无法识别")
    app.config["INDEX_ENABLED"] = True
    late = article_id(app, "late")
    with app.app_context():
        s = db.session()
        s.execute(IndexTask.__table__.delete().where(IndexTask.article_id == late))
        top = s.scalar(select(func.max(IndexTask.id)))
        s.add(IndexTask(id=top + 2, article_id=article_id(app, "early")))  # leaves top + 1
        s.commit()
        writer.drain()
        assert writer.cursor_of() == top + 2
    client = app.test_client()
    assert api_search(client, q="高拍仪")["total"] == 0
    with app.app_context():
        s = db.session()
        s.add(IndexTask(id=top + 1, article_id=late))  # the slow transaction commits now
        s.commit()
        writer.drain()
    assert slugs(api_search(client, q="高拍仪")) == ["late"]


def test_an_index_behind_the_pruned_log_is_reported_and_rebuilt(app, make_article, runner):
    from kb.cli import cli
    from kb.index import writer

    make_article(slug="kept", title="打印机脱机的处理")
    with app.app_context():
        s = db.session()
        # this node "was off": its cursor is before rows that are now older than the limit
        s.execute(update(IndexTask).values(created_at=datetime.now(UTC) - timedelta(days=30)))
        s.commit()
        meta_cursor = writer.cursor_of()
        s.add(IndexTask(article_id=article_id(app, "kept")))
        s.commit()
        assert writer.prune(7) > 0
        assert s.scalar(select(func.count()).select_from(IndexTask)) == 1  # the recent row
        assert writer.pruned_through(s) >= meta_cursor
        writer.drain()  # a node that is up to date stays valid after pruning
        assert writer.problem() is None
        # a node whose cursor is before the pruned range must rebuild
        folder = writer.root() / writer.current_name()
        from kb.index import health

        meta = health.read_meta(folder)
        meta["cursor"] = 0
        health.write_meta(folder, meta)
        assert writer.problem().code == "behind"
    verify = runner.invoke(cli, ["index", "verify"])
    assert verify.exit_code == 1 and "日志已清理" in verify.output

    assert runner.invoke(cli, ["index", "verify", "--repair"]).exit_code == 0
    assert slugs(api_search(app.test_client(), q="打印机脱机")) == ["kept"]


def test_pruning_never_empties_the_log(app, make_article):
    """SQLite numbers a new row max(id) + 1: an emptied log would restart at ids every index
    has read past, and no node would apply the next change."""
    from kb.index import writer

    make_article(slug="old-news", title="旧的打印机说明")
    with app.app_context():
        s = db.session()
        s.execute(update(IndexTask).values(created_at=datetime.now(UTC) - timedelta(days=30)))
        s.commit()
        writer.prune(7)
        assert s.scalar(select(func.count()).select_from(IndexTask)) == 1
    make_article(slug="new-news", title="新的扫描仪说明")
    assert slugs(api_search(app.test_client(), q="扫描仪")) == ["new-news"]


def test_a_vote_never_waits_for_the_index_and_counts_show_at_once(app, make_article):
    """As in kb serve: a vote commits and returns, even while another process holds the
    index lock for longer than a request may take; the counts shown come from the database,
    and the index's helpful sort column catches up in the background (sync_counts)."""
    import time

    from kb.index import drainer, health, writer

    slug = make_article(slug="voted", title="无线网卡无法连接")
    make_article(slug="cable", title="无线网卡驱动安装")  # newer: first while votes tie
    app.config["INDEX_LOCK_TIMEOUT"] = 60.0
    with app.app_context():
        base = writer.root()
        files = health.read_meta(base / writer.current_name())["files"]
    drainer.start(app)
    try:
        with health.write_lock(base, 0) as held:
            assert held
            started = time.monotonic()
            reply = app.test_client().post(
                f"/api/v1/articles/{slug}/feedback", json={"helpful": True}
            )
            assert reply.status_code == 201
            assert time.monotonic() - started < 2.0  # not the 60 s an index writer may wait
            hits = api_search(app.test_client(), q="无线网卡")["results"]
            assert {h["slug"]: h["helpful"] for h in hits}["voted"] == {"yes": 1, "no": 0}
    finally:
        drainer.stop()
    with app.app_context():
        assert health.read_meta(base / writer.current_name())["files"] == files  # untouched
    # the sort column still has the old counts until the background sync
    top = api_search(app.test_client(), q="无线网卡", sort="helpful")["results"][0]
    assert top["slug"] == "cable"
    with app.app_context():
        assert writer.sync_counts() == 1
    top = api_search(app.test_client(), q="无线网卡", sort="helpful")["results"][0]
    assert top["slug"] == "voted"


def test_writes_after_someone_seeds_random_keep_the_index_whole(app, make_article, runner):
    """Whoosh names segments from ``random``; a library or test framework that seeds it once
    made every new segment overwrite the previous one's files ("Unknown file header")."""
    import random

    from kb.cli import cli

    for slug, title in (
        ("scanner", "扫描仪驱动安装失败"),
        ("camera", "高拍仪无法识别"),
        ("ukey", "UKey 证书读不到"),
    ):
        random.seed(7)  # the same state before each publish: the same name each time, once
        make_article(slug=slug, title=title)
    client = app.test_client()
    assert slugs(api_search(client, q="扫描仪")) == ["scanner"]
    assert slugs(api_search(client, q="高拍仪")) == ["camera"]
    assert slugs(api_search(client, q="证书")) == ["ukey"]
    verify = runner.invoke(cli, ["index", "verify"])
    assert verify.exit_code == 0, verify.output
