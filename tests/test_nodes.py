"""Two kb nodes on one PostgreSQL database, each with its own data folder and index
(``KB_INDEX_DIR``), stay in step: an article published through one node is found through
the other within 5 s, and when it is archived it disappears from both.

Runs under ``scripts/with-postgres`` (CI does); without KB_TEST_DATABASE_URL it is skipped.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ON_POSTGRES, database_url, drop_database
from tests.test_workers import KB, environment, serving

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL (scripts/with-postgres)"),
]
ROOT = Path(__file__).resolve().parent.parent


def call(port: int, method: str, path: str, token: str, body: bytes | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/markdown"},
    )
    with urllib.request.urlopen(request, timeout=15) as reply:
        return json.loads(reply.read() or b"{}")


def found(port: int, q: str) -> list[str]:
    url = f"http://127.0.0.1:{port}/api/v1/search?" + urllib.parse.urlencode({"q": q})
    with urllib.request.urlopen(url, timeout=15) as reply:
        return [hit["slug"] for hit in json.loads(reply.read())["results"]]


def wait_ready(port: int, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            found(port, "打印机")
            return
        except urllib.error.HTTPError as err:
            assert err.code == 503 and time.monotonic() < deadline, err.code
        time.sleep(0.1)  # bounds the poll rate; the deadline decides


def poll(port: int, q: str, wanted: list[str], within: float) -> float:
    """Seconds until search on ``port`` answers ``wanted`` (fails after ``within`` s)."""
    started = time.monotonic()
    while found(port, q) != wanted:
        assert time.monotonic() - started < within, f"node on {port} did not catch up"
        time.sleep(0.05)  # bounds the poll rate; the deadline decides
    return time.monotonic() - started


def test_two_nodes_on_one_postgresql_stay_in_step(tmp_path: Path) -> None:
    shared = tmp_path / "db"
    url = database_url(shared)
    try:
        nodes = []
        for name in ("a", "b"):
            env = {
                "KB_DATABASE_URL": url,
                "KB_INDEX_DIR": str(tmp_path / f"index-{name}"),
            }
            nodes.append((tmp_path / f"node-{name}", env))
        init = subprocess.run(
            [KB, "init", "--demo"],
            env=environment(nodes[0][0], **nodes[0][1]),
            capture_output=True,
            text=True,
        )
        assert init.returncode == 0, init.stderr
        tokens = {}
        for user in ("editor", "curator"):
            made = subprocess.run(
                [KB, "token", "create", user],
                env=environment(nodes[0][0], **nodes[0][1]),
                capture_output=True,
                text=True,
            )
            assert made.returncode == 0, made.stderr
            tokens[user] = made.stdout.strip().splitlines()[-1]
        source = (ROOT / "articles" / "browser-cert-untrusted-gov-site.md").read_text("utf-8")
        source = re.sub(r"^slug: .*$", "slug: two-nodes", source, count=1, flags=re.M)
        source = re.sub(
            r"^title: .*$", "title: 双节点同步验证 xj9qz7 扫描枪说明", source, flags=re.M
        )

        with (
            serving(nodes[0][0], **nodes[0][1]) as (port_a, _a),
            serving(nodes[1][0], **nodes[1][1]) as (port_b, _b),
        ):
            # node B has no index yet: it builds one in the background (503 meanwhile)
            wait_ready(port_b)
            assert found(port_b, "xj9qz7") == []
            call(port_a, "POST", "/api/v1/articles", tokens["editor"], source.encode())
            call(port_a, "POST", "/api/v1/articles/two-nodes/submit", tokens["editor"])
            call(port_a, "POST", "/api/v1/articles/two-nodes/publish", tokens["curator"])
            assert poll(port_b, "xj9qz7", ["two-nodes"], within=5) < 5
            assert found(port_a, "xj9qz7") == ["two-nodes"]

            call(port_a, "POST", "/api/v1/articles/two-nodes/archive", tokens["curator"])
            poll(port_b, "xj9qz7", [], within=5)
            poll(port_a, "xj9qz7", [], within=5)
        # each node keeps its own index and its own place in the log
        assert (tmp_path / "index-a" / "CURRENT").exists()
        assert (tmp_path / "index-b" / "CURRENT").exists()
        assert not (nodes[1][0] / "index").exists()
    finally:
        drop_database(shared)
