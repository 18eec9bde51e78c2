"""The ``kb`` command as an operator uses it: ``init --demo`` (idempotent), ``import`` (per
file, never all-or-nothing), KB_DATA_DIR / KB_DATABASE_URL, and configuration errors that
stop with a Chinese message and exit code 2 instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb import ROOT, create_app, db
from kb.cli import cli
from kb.models import Article, Revision, User
from tests.conftest import close, requires_sqlite

SAMPLES = sorted((ROOT / "articles").glob("*.md"))
GOOD = """---
title: {title}
type: 常见问题
category: 办公软件
visibility: public
---

## 问题

WPS 文字打开文档后字体显示不全。

## 解决方法

1. 打开“字体管理”。
2. 安装缺少的字体。
"""


def counts(data_dir: Path | None = None, url: str | None = None) -> dict[str, int]:
    config = {"TESTING": True}
    if url:
        config["DATABASE_URL"] = url
    if data_dir:
        config["DATA_DIR"] = str(data_dir)
    app = create_app(config)
    with app.app_context():
        s = db.session()
        result = {
            "articles": s.scalar(select(func.count()).select_from(Article)),
            "published": s.scalar(
                select(func.count()).select_from(Article).where(Article.status == "published")
            ),
            "revisions": s.scalar(select(func.count()).select_from(Revision)),
            "users": s.scalar(select(func.count()).select_from(User)),
        }
    app.extensions["kb_engine"].dispose()
    return result


def demo_passwords(data_dir: Path) -> dict[str, str]:
    lines = (data_dir / "demo-accounts.txt").read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return {username: password for username, _role, password in rows}


@pytest.fixture
def data_dir(app_config) -> Path:
    return Path(app_config["DATA_DIR"])


@pytest.fixture
def setup(runner, tmp_path):
    """An initialised database with the enterprise ``demo``; returns a folder to import."""
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert (
        runner.invoke(cli, ["org", "create", "demo", "示例企业", "--kind", "enterprise"]).exit_code
        == 0
    )
    folder = tmp_path / "import"
    folder.mkdir()
    return folder


def test_init_demo_creates_accounts_and_imports_every_sample(runner, data_dir):
    assert len(SAMPLES) >= 40
    result = runner.invoke(cli, ["init", "--demo"])
    assert result.exit_code == 0, result.output
    assert "已创建示例账号" in result.output
    passwords = demo_passwords(data_dir)
    assert set(passwords) == {"reader", "editor", "curator", "admin"}
    for username, password in passwords.items():
        assert len(password) >= 8
        assert password in result.output, username  # shown once, on first run
    assert (data_dir / "demo-accounts.txt").stat().st_mode & 0o077 == 0
    assert "失败" not in result.output and "存为草稿" not in result.output, result.output
    numbers = counts(data_dir)
    assert numbers["published"] == len(SAMPLES)
    assert numbers["articles"] == len(SAMPLES) + 1  # the draft a sample ticket produced

    # the demo passwords sign in, and the samples are readable
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "DATA_DIR": str(data_dir)})
    client = app.test_client()
    for username, password in passwords.items():
        response = client.post("/login", data={"username": username, "password": password})
        assert response.status_code == 302, username
        client.post("/logout")
    listing = client.get("/api/v1/articles?per_page=100").get_json()
    public = [p for p in SAMPLES if "visibility: public" in p.read_text(encoding="utf-8")]
    assert listing["total"] == len(public)
    first = listing["results"][0]
    readable = client.get(f"/articles/{first['slug']}")
    assert readable.status_code == 200 and first["title"] in readable.get_data(as_text=True)
    close(app)  # the article page searched for related articles: release the index files


def test_init_demo_again_keeps_everything_and_duplicates_nothing(runner, data_dir):
    assert runner.invoke(cli, ["init", "--demo"]).exit_code == 0
    before = counts(data_dir)
    accounts_file = (data_dir / "demo-accounts.txt").read_text(encoding="utf-8")
    again = runner.invoke(cli, ["init", "--demo"])
    assert again.exit_code == 0, again.output
    assert "不再创建示例账号或导入示例文章，现有内容保持不变" in again.output
    assert counts(data_dir) == before
    assert (data_dir / "demo-accounts.txt").read_text(encoding="utf-8") == accounts_file
    for password in demo_passwords(data_dir).values():
        assert password not in again.output


def test_import_reports_the_bad_file_imports_the_rest_and_exits_1(runner, setup):
    (setup / "good-one.md").write_text(GOOD.format(title="第一篇"), encoding="utf-8")
    (setup / "good-two.md").write_text(GOOD.format(title="第二篇"), encoding="utf-8")
    (setup / "no-front-matter.md").write_text("# 只有正文\n\n内容。\n", encoding="utf-8")
    (setup / "bad-type.md").write_text(
        GOOD.format(title="坏类型").replace("常见问题", "小技巧"), encoding="utf-8"
    )
    (setup / "latin1.md").write_bytes(GOOD.format(title="编码").encode("gb18030"))
    (setup / "notes.txt").write_text("不是文章", encoding="utf-8")
    result = runner.invoke(cli, ["import", str(setup), "--enterprise", "demo"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()

    def line_for(name: str) -> str:
        [line] = [line for line in lines if name in line]
        return line

    assert "失败" in line_for("no-front-matter.md") and "front matter" in line_for(
        "no-front-matter.md"
    )
    assert "失败" in line_for("bad-type.md") and "未知的文章类型" in line_for("bad-type.md")
    assert "失败" in line_for("latin1.md") and "UTF-8" in line_for("latin1.md")
    assert "新建" in line_for("good-one.md") and "新建" in line_for("good-two.md")
    assert "notes.txt" not in result.output
    assert "共 5 个文件" in result.output
    numbers = counts()
    assert numbers["articles"] == 2 and numbers["published"] == 0  # drafts without --publish


def test_reimport_makes_a_revision_only_when_content_changed(runner, setup):
    path = setup / "fonts-missing.md"
    path.write_text(GOOD.format(title="字体缺失"), encoding="utf-8")
    assert runner.invoke(cli, ["import", str(path), "--enterprise", "demo"]).exit_code == 0
    same = runner.invoke(cli, ["import", str(path), "--enterprise", "demo"])
    assert same.exit_code == 0 and "未变化" in same.output
    assert counts()["revisions"] == 1
    path.write_text(
        GOOD.format(title="字体缺失").replace("安装缺少的字体", "安装方正字体"), encoding="utf-8"
    )
    changed = runner.invoke(cli, ["import", str(path), "--enterprise", "demo"])
    assert changed.exit_code == 0 and "新修订" in changed.output
    assert counts()["revisions"] == 2 and counts()["articles"] == 1


def test_import_enterprise_sets_the_owner_and_refuses_unknown(runner, setup):
    (setup / "owned.md").write_text(GOOD.format(title="归属"), encoding="utf-8")
    assert runner.invoke(cli, ["import", str(setup), "--enterprise", "demo"]).exit_code == 0
    app = create_app({"TESTING": True})
    with app.app_context():
        owner = db.session().scalar(select(Article).where(Article.slug == "owned")).owner.code
    app.extensions["kb_engine"].dispose()
    assert owner == "demo"
    unknown = runner.invoke(cli, ["import", str(setup), "--enterprise", "nosuch"])
    assert unknown.exit_code == 1
    assert "企业代码“nosuch”不存在" in unknown.output
    assert unknown.exception is None or isinstance(unknown.exception, SystemExit)


def test_import_publish_publishes_articles(runner, setup):
    (setup / "to-publish.md").write_text(GOOD.format(title="直接发布"), encoding="utf-8")
    result = runner.invoke(cli, ["import", str(setup), "--enterprise", "demo", "--publish"])
    assert result.exit_code == 0, result.output
    numbers = counts()
    # the checker may keep it as a draft; either way the outcome is reported
    assert numbers["published"] + ("存为草稿" in result.output) == 1


def test_import_of_the_sample_folder_imports_all(runner, setup):
    result = runner.invoke(
        cli, ["import", str(ROOT / "articles"), "--enterprise", "demo", "--publish"]
    )
    assert result.exit_code == 0, result.output
    assert f"共 {len(SAMPLES)} 个文件" in result.output
    assert counts()["published"] == len(SAMPLES), result.output


@requires_sqlite
def test_kb_data_dir_is_honoured(runner, data_dir):
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert (data_dir / "kb.sqlite3").exists()
    assert (data_dir / "secret_key").exists()


def test_kb_database_url_is_honoured(runner, data_dir, tmp_path, monkeypatch):
    other = tmp_path / "elsewhere" / "kb.db"
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{other}")
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert (
        runner.invoke(cli, ["org", "create", "demo", "示例企业", "--kind", "enterprise"]).exit_code
        == 0
    )
    assert (
        runner.invoke(
            cli,
            [
                "user",
                "create",
                "ed",
                "--role",
                "editor",
                "--org",
                "demo",
                "--password",
                "long-enough-1",
            ],
        ).exit_code
        == 0
    )
    assert other.exists()
    assert not (data_dir / "kb.sqlite3").exists()
    assert counts(url=f"sqlite:///{other}")["users"] == 1


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("KB_PORT", "abc", "KB_PORT"),
        ("KB_PORT", "70000", "KB_PORT"),
        ("KB_DATABASE_URL", "not a url", "KB_DATABASE_URL"),
        ("KB_DATABASE_URL", "nosuchdb://host/x", "KB_DATABASE_URL"),
        ("KB_SECURE_COOKIES", "perhaps", "KB_SECURE_COOKIES"),
    ],
)
@pytest.mark.parametrize(
    "command", [["init"], ["import", "."], ["token", "create", "x"], ["serve"]]
)
def test_bad_configuration_is_a_chinese_message_and_exit_2(
    runner, monkeypatch, variable, value, message, command
):
    monkeypatch.setenv(variable, value)
    result = runner.invoke(cli, command)
    assert result.exit_code == 2, result.output
    assert "配置错误" in result.output and message in result.output
    assert isinstance(result.exception, SystemExit)


def test_bad_configuration_in_a_real_process_has_no_traceback(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "KB_DATA_DIR": str(tmp_path), "KB_PORT": "http"}
    kb = Path(sys.executable).parent / "kb"
    done = subprocess.run([str(kb), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "配置错误" in done.stderr and "KB_PORT" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
