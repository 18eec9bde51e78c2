"""Backup and restore (issue 9, point 5): ``kb backup`` while another process keeps writing,
``kb restore`` into a fresh data folder, and the same articles, revisions, votes, tickets and
users come back, with a search index rebuilt. Real ``kb`` subprocesses, real databases
(SQLite file, or PostgreSQL under ``make test-postgres`` with pg_dump/pg_restore).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb import create_app, db, schema_version
from kb.db import make_engine
from kb.models import Article
from tests.conftest import close, config_for, empty_database_url, kb_env, login
from tests.world import fill, rows

KB = str(Path(sys.executable).with_name("kb"))

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from kb import create_app, db, schema_version
    from kb import articles as ops
    from kb.accounts import SYSTEM, get_org
    from tests.conftest import draft

    stop = Path(sys.argv[1])
    app = create_app({"INDEX_LOCK_TIMEOUT": 60})
    with app.app_context():
        s = db.session()
        owner = get_org(s, "demo")
        n = 0
        while not stop.exists():
            n += 1
            fields = dict(slug=f"busy-{n}", title=f"备份期间写入的文章 第{n}篇")
            article = ops.create(s, SYSTEM, draft(**fields), owner=owner)
            s.flush()
            article.working_revision.state = "submitted"
            article.status = "submitted"
            ops.publish(s, SYSTEM, article)
            ops.commit(s)
    app.extensions["kb_engine"].dispose()
    print("wrote", n)
    """
)


def busy_count(app) -> int:
    with app.app_context():
        return db.session().scalar(
            select(func.count()).select_from(Article).where(Article.slug.like("busy-%"))
        )


def wait_for(predicate, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # polling interval, not synchronisation: the deadline decides


def kb(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KB, *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_backup_during_writes_restores_everything_into_a_fresh_folder(app, app_config, tmp_path):
    fill(app)
    data_dir = Path(app_config["DATA_DIR"])
    env = kb_env(data_dir)
    env["PYTHONPATH"] = os.getcwd()
    stop = tmp_path / "stop-writing"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(stop)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: busy_count(app) >= 3, "the writer's first articles")
        before = busy_count(app)
        made = kb(env, "backup", str(tmp_path / "backup"))
        assert made.returncode == 0, made.stdout + made.stderr
        assert "已备份到" in made.stdout
        manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text("utf-8"))
        assert manifest["schema_revision"] == schema_version.head()
        backed_up = manifest["counts"]["article"] - 3  # 3 from fill()
        assert backed_up >= before
        # the writer went on after the backup: the copy is a moment, not the end state
        wait_for(lambda: busy_count(app) > backed_up + 2, "writes after the backup")
    finally:
        stop.touch()
        _out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err[-2000:]

    fresh = tmp_path / "restored"
    empty_database_url(fresh)  # PostgreSQL: an empty database for the restore
    fresh_env = kb_env(fresh)
    restored = kb(fresh_env, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "搜索索引已重建" in restored.stdout

    source = make_engine(config_for(data_dir)["DATABASE_URL"])
    target = make_engine(fresh_env.get("KB_DATABASE_URL") or f"sqlite:///{fresh / 'kb.sqlite3'}")
    final, back = rows(source), rows(target)
    source.dispose()
    target.dispose()
    assert set(back) == set(final)
    for table in back:
        if table in ("article", "revision", "audit_event"):  # the writer adds to these
            keys = {row["id"] for row in back[table]}
            assert [r for r in final[table] if r["id"] in keys] == back[table], table
            # no hole: everything committed before the newest restored row is there too
            newest = max(keys)
            assert {r["id"] for r in final[table] if r["id"] <= newest} == keys, table
        else:  # users, organisations, votes, revision requests, tickets, tokens…
            assert back[table] == final[table], table
    assert len(back["article"]) == backed_up + 3 < len(final["article"])
    assert len(back["feedback"]) == 2 and len(back["ticket"]) == 1 and len(back["user"]) >= 6
    assert (fresh / "secret_key").read_text() == (data_dir / "secret_key").read_text()

    # the restored knowledge base answers: sign-in, articles, votes, search
    app2 = create_app(config_for(fresh))
    try:
        curator = login(app2.test_client(), "curator")
        shown = curator.get("/api/v1/articles/printer-offline").get_json()
        assert shown["revision"] == 2 and shown["helpful"] == {"yes": 1, "no": 0}
        assert shown["tickets_solved"] == 1
        found = app2.test_client().get("/api/v1/search?q=备份期间写入的文章").get_json()
        assert found["total"] == backed_up
    finally:
        close(app2)

    # a second restore into the now-used folder is refused, nothing touched
    again = kb(fresh_env, "restore", str(tmp_path / "backup"))
    assert again.returncode == 1
    assert "不是空的" in again.stderr and "Traceback" not in again.stderr


def test_restore_refuses_a_folder_that_is_not_a_backup(tmp_path):
    env = kb_env(tmp_path / "target")
    (tmp_path / "nothing").mkdir()
    result = kb(env, "restore", str(tmp_path / "nothing"))
    assert result.returncode == 1 and "不是 kb 备份" in result.stderr


def test_backup_refuses_an_existing_non_empty_target(app, app_config, tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("别覆盖我")
    result = kb(kb_env(Path(app_config["DATA_DIR"])), "backup", str(target))
    assert result.returncode == 1 and "不是空目录" in result.stderr
    assert (target / "keep.txt").read_text() == "别覆盖我"
