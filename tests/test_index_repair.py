"""The index repairs itself, with real processes: ``kb serve``, ``kb index verify``, a
``kill -9``-ed ``kb import``.

- One ``.pst`` file gone: ``kb index verify`` says so in Chinese and exits 1 (no traceback),
  ``kb serve`` still starts, search answers 503 ``index_unavailable`` while the index cannot
  be rebuilt, and the server rebuilds it on its own as soon as it can.
- The whole index folder gone under a running server: 503, never 0 results, then repaired.
- An index built with another schema version is rebuilt.
- Articles a killed import committed are indexed by the next ``kb`` command.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_workers import KB, environment, serving

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    init = subprocess.run(
        [KB, "init", "--demo"], env=environment(folder), capture_output=True, text=True
    )
    assert init.returncode == 0, init.stderr
    return folder


def live_folder(data_dir: Path) -> Path:
    index = data_dir / "index"
    return index / (index / "CURRENT").read_text(encoding="utf-8").strip()


@contextmanager
def rebuild_blocked(data_dir: Path) -> Iterator[None]:
    """Hold the node's rebuild lock, as a long rebuild in another process would."""
    (data_dir / "index").mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / "index" / "REBUILD.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def search(port: int, q: str, path: str = "/api/v1/search") -> tuple[int, str]:
    url = f"http://127.0.0.1:{port}{path}?" + urllib.parse.urlencode({"q": q})
    try:
        with urllib.request.urlopen(url, timeout=15) as reply:
            return reply.status, reply.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8")


def assert_unavailable(port: int) -> None:
    status, body = search(port, "打印机")
    assert status == 503, body
    error = json.loads(body)["error"]
    assert error["code"] == "index_unavailable" and "搜索索引正在自动重建" in error["message"]
    status, page = search(port, "打印机", "/search")
    assert status == 503 and "搜索索引正在自动重建" in page


def wait_until_found(port: int, q: str, deadline_s: float = 90) -> dict:
    """Poll until search finds ``q``; only 503 (never 500, never an empty 200) on the way."""
    deadline = time.monotonic() + deadline_s
    while True:
        status, body = search(port, q)
        if status == 200 and json.loads(body)["total"] > 0:
            return json.loads(body)
        assert status == 503, (status, body)
        assert time.monotonic() < deadline, "the index was not repaired in time"
        time.sleep(0.2)  # bounds the poll rate; the deadline decides


def kb(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KB, *args], env=environment(data_dir), capture_output=True, text=True, timeout=300
    )


def test_a_missing_postings_file_is_reported_and_repaired_by_the_server(data_dir: Path) -> None:
    folder = live_folder(data_dir)
    (postings,) = folder.glob("*.pst")
    postings.unlink()

    verify = kb(data_dir, "index", "verify")
    assert verify.returncode == 1
    assert "搜索索引不可用" in verify.stderr and postings.name in verify.stderr
    assert "Traceback" not in verify.stdout + verify.stderr

    with rebuild_blocked(data_dir), serving(data_dir) as (port, process):
        assert_unavailable(port)
        assert process.poll() is None
    with serving(data_dir) as (port, process):
        found = wait_until_found(port, "打印机")
        assert found["total"] > 0
        assert live_folder(data_dir) != folder
        log = process.log_path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
        assert "Traceback" not in log
    verify = kb(data_dir, "index", "verify")
    assert verify.returncode == 0 and "数据库与索引一致" in verify.stdout


def test_an_index_folder_deleted_under_a_running_server_is_rebuilt(data_dir: Path) -> None:
    with serving(data_dir) as (port, _process):
        assert search(port, "打印机")[0] == 200
        with rebuild_blocked(data_dir):
            for path in (data_dir / "index").iterdir():
                if path.name != "REBUILD.lock":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
            assert_unavailable(port)
            # reading goes on: an article page answers, without its related articles
            page = f"http://127.0.0.1:{port}/articles/browser-cert-untrusted-gov-site"
            with urllib.request.urlopen(page, timeout=15) as reply:
                assert reply.status == 200 and "证书" in reply.read().decode("utf-8")
        wait_until_found(port, "打印机")


def test_an_index_of_another_schema_version_is_rebuilt(data_dir: Path) -> None:
    folder = live_folder(data_dir)
    meta = json.loads((folder / "kb-index.json").read_text(encoding="utf-8"))
    meta["schema"] = -1
    (folder / "kb-index.json").write_text(json.dumps(meta), encoding="utf-8")
    verify = kb(data_dir, "index", "verify")
    assert verify.returncode == 1 and "结构版本为 -1" in verify.stderr
    with serving(data_dir) as (port, _process):
        deadline = time.monotonic() + 90
        while live_folder(data_dir) == folder:  # rebuilt aside, then swapped in
            assert time.monotonic() < deadline, "the outdated index was not rebuilt"
            time.sleep(0.2)  # bounds the poll rate; the deadline decides
        wait_until_found(port, "打印机")
    rebuilt = json.loads((live_folder(data_dir) / "kb-index.json").read_text(encoding="utf-8"))
    assert rebuilt["schema"] != -1


def published(data_dir: Path, prefix: str) -> int:
    with sqlite3.connect(data_dir / "kb.sqlite3", timeout=30) as conn:
        return conn.execute(
            "SELECT count(*) FROM article WHERE status='published' AND slug LIKE ?",
            (prefix + "%",),
        ).fetchone()[0]


def test_articles_of_a_killed_import_are_indexed_by_the_next_command(
    data_dir: Path, tmp_path: Path
) -> None:
    source = (ROOT / "articles" / "browser-cert-untrusted-gov-site.md").read_text("utf-8")
    batch = tmp_path / "batch"
    batch.mkdir()
    for i in range(300):
        text = re.sub(r"^slug: .*$", f"slug: killed-{i:03d}", source, count=1, flags=re.M)
        text = re.sub(r"^title: .*$", f"title: 中断导入测试文章甲乙丙 {i}", text, flags=re.M)
        (batch / f"killed-{i:03d}.md").write_text(text, encoding="utf-8")
    process = subprocess.Popen(
        [KB, "import", "--publish", "--enterprise", "demo", str(batch)],
        env=environment(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while published(data_dir, "killed-") < 5:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    committed = published(data_dir, "killed-")
    assert 5 <= committed < 300  # killed half-way

    # any next command applies the index log first
    verify = kb(data_dir, "index", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "数据库与索引一致" in verify.stdout
    with serving(data_dir) as (port, _process):
        found: set[str] = set()
        for page in range(1, 8):  # up to 350 results: every committed article and the rest
            query = {"q": "中断导入测试文章甲乙丙", "per_page": 50, "page": page}
            url = f"http://127.0.0.1:{port}/api/v1/search?" + urllib.parse.urlencode(query)
            with urllib.request.urlopen(url, timeout=15) as reply:
                hits = json.loads(reply.read().decode("utf-8"))["results"]
            found |= {h["slug"] for h in hits if h["slug"].startswith("killed-")}
            if len(hits) < 50:
                break
        assert len(found) == committed
