"""``kb check`` on files and folders (text and JSON, exit codes 0/1/2), and ``kb import
--publish`` keeping articles with errors as drafts unless ``--force`` (which is audited)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from kb import ROOT, db
from kb.cli import cli
from kb.models import Article, AuditEvent
from tests.conftest import requires_sqlite

SAMPLES = ROOT / "articles"
BAD = """---
title: 打印机无法打印
type: 故障处理
category: 打印与扫描
products: [奔图 M6202]
summary: 打印机无法打印时的处理。
visibility: public
review_by: 2027-06-30
---

## 现象

点击打印后没有反应，打印任务停在队列里，重新开机后依然不能打印。

## 原因

打印机的网络地址变了，电脑仍按旧地址连接，任务发送失败后队列被停用。

## 解决步骤

1. 删除旧的打印机。
2. 重新添加打印机，打印测试页确认出纸正常。
3. 仍无法打印时联系管理员，手机 13812345678。
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_check_on_the_sample_articles_passes_with_exit_0(app, runner):
    result = runner.invoke(cli, ["check", str(SAMPLES)])
    assert result.exit_code == 0, result.output
    assert f"检查了 {len(list(SAMPLES.glob('*.md')))} 个文件：错误 0 个" in result.output


def test_check_reports_errors_with_position_and_exits_1(runner, tmp_path):
    path = write(tmp_path, "bad.md", BAD)
    result = runner.invoke(cli, ["check", str(path)])
    assert result.exit_code == 1
    line = BAD.split("\n").index("3. 仍无法打印时联系管理员，手机 13812345678。") + 1
    assert f"{path}:{line}:" in result.output and "错误 KB-PRIV-001" in result.output
    assert "138****5678" in result.output


def test_check_json_has_the_documented_shape(runner, tmp_path):
    write(tmp_path, "bad.md", BAD)
    write(tmp_path, "good.md", BAD.replace("，手机 13812345678", ""))
    result = runner.invoke(cli, ["check", str(tmp_path), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    files = {Path(f["path"]).name: f["findings"] for f in data["files"]}
    assert set(files) == {"bad.md", "good.md"}
    assert not [f for f in files["good.md"] if f["severity"] == "error"]
    finding = next(f for f in files["bad.md"] if f["rule"] == "KB-PRIV-001")
    assert set(finding) == {"rule", "severity", "line", "column", "message", "fix"}


def test_check_knows_the_database_and_the_slugs_of_the_files_it_was_given(app, runner, tmp_path):
    write(tmp_path, "target.md", BAD.replace("，手机 13812345678", ""))
    write(
        tmp_path,
        "linker.md",
        BAD.replace("，手机 13812345678", "，见 [目标](/articles/target) 和 [无](/articles/none)"),
    )
    data = json.loads(runner.invoke(cli, ["check", str(tmp_path), "--format", "json"]).output)
    linker = next(f["findings"] for f in data["files"] if f["path"].endswith("linker.md"))
    dead = [f for f in linker if f["rule"] == "KB-LINK-001"]
    assert len(dead) == 1 and "none" in dead[0]["message"]


def test_check_usage_problems_exit_2(runner, tmp_path):
    assert runner.invoke(cli, ["check"]).exit_code == 2
    assert runner.invoke(cli, ["check", str(tmp_path / "missing.md")]).exit_code == 2
    assert runner.invoke(cli, ["check", str(SAMPLES), "--format", "xml"]).exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(cli, ["check", str(empty)])
    assert result.exit_code == 2 and "没有 .md 文件" in result.output


@requires_sqlite
def test_check_without_a_database_neither_creates_one_nor_checks_links(runner, app_config):
    db_file = Path(app_config["DATA_DIR"]) / "kb.sqlite3"
    assert not db_file.exists()
    result = runner.invoke(cli, ["check", str(SAMPLES / "kylin-hp-m1136-offline.md")])
    assert result.exit_code == 0, result.output
    assert "站内链接未核对" in result.output
    assert not db_file.exists()


def test_check_bad_encoding_is_an_error_finding(runner, tmp_path):
    path = tmp_path / "gbk.md"
    path.write_bytes("---\ntitle: 打印机\n---\n".encode("gbk"))
    result = runner.invoke(cli, ["check", str(path)])
    assert result.exit_code == 1 and "KB-STRUCT-011" in result.output


def test_import_publish_keeps_articles_with_errors_as_drafts_and_lists_findings(
    app, runner, tmp_path
):
    write(tmp_path, "bad-article.md", BAD)
    write(tmp_path, "good-article.md", BAD.replace("，手机 13812345678", ""))
    result = runner.invoke(cli, ["import", str(tmp_path), "--enterprise", "demo", "--publish"])
    assert result.exit_code == 0, result.output
    assert "存为草稿" in result.output and "KB-PRIV-001" in result.output
    with app.app_context():
        s = db.session()
        status = dict(s.execute(select(Article.slug, Article.status)).tuples().all())
    assert status == {"bad-article": "draft", "good-article": "published"}


def test_import_publish_force_publishes_and_audits_the_findings(app, runner, tmp_path):
    write(tmp_path, "bad-article.md", BAD)
    result = runner.invoke(
        cli, ["import", str(tmp_path), "--enterprise", "demo", "--publish", "--force"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        s = db.session()
        assert s.scalar(select(Article.status).where(Article.slug == "bad-article")) == "published"
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "article.force_publish"))
    assert event is not None and event.object_id == "bad-article"
    assert [f["rule"] for f in event.detail["findings"]] == ["KB-PRIV-001"]
