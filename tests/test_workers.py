"""Real server processes: ``kb serve`` (waitress) and ``kb serve --workers 2`` (gunicorn).

- Requests the WSGI server itself refuses (a huge URL or header block, raw UTF-8 or a broken
  request line, a bad Content-Length, an unknown transfer coding) get kb's Chinese page, or
  kb's JSON error under /api/, from both servers — sent as raw bytes over a socket.
- A rate limit holds across two gunicorn workers: votes spread over both processes are
  refused after the configured count, not after twice that.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow
KB = str(Path(sys.executable).parent / "kb")


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env["KB_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("workers") / "data"
    init = subprocess.run(
        [KB, "init", "--demo"], env=environment(folder), capture_output=True, text=True
    )
    assert init.returncode == 0, init.stderr
    return folder


@contextmanager
def serving(data_dir: Path, *args: str, **env: str) -> Iterator[tuple[int, subprocess.Popen]]:
    port = free_port()
    log_path = data_dir.parent / f"serve-{port}.log"
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115
    process = subprocess.Popen(
        [KB, "serve", "--port", str(port), *args],
        env=environment(data_dir, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(log_path.read_text(encoding="utf-8"))
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise AssertionError("kb serve did not answer within 60 s") from None
                time.sleep(0.1)  # connection refused returns at once: bound the poll rate
        process.log_path = log_path  # type: ignore[attr-defined]
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(data)
        received = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


CLOSE = b"Host: x\r\nConnection: close\r\n"
REFUSED = {
    # name: (request bytes, acceptable statuses: each server names the problem its own way)
    "huge URL": (
        b"GET /api/v1/search?q="
        + b"a" * 100_000
        + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ),
    "huge header": (
        b"GET /api/v1/search?q=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: "
        + b"c" * 100_000
        + b"\r\n\r\n",
    ),
    "raw UTF-8 in the URL": (
        "GET /api/v1/search?q=打印机 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
    ),
    "bad Content-Length": (
        b"POST /api/v1/articles HTTP/1.1\r\n" + CLOSE + b"Content-Length: 12abc\r\n\r\n",
    ),
    "unknown transfer coding": (
        b"POST /api/v1/articles HTTP/1.1\r\n" + CLOSE + b"Transfer-Encoding: gzip\r\n\r\n",
    ),
    "broken request line": (
        b"GET /api/v1/search\x00?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ),
}


@pytest.mark.parametrize("workers", ["1", "2"], ids=["waitress", "gunicorn"])
def test_requests_the_server_refuses_get_kbs_own_answer(data_dir: Path, workers: str) -> None:
    with serving(data_dir, "--workers", workers) as (port, _process):
        for name, (data,) in REFUSED.items():
            status, headers, body = raw_request(port, data)
            assert 400 <= status < 600, name
            assert headers["content-type"].startswith("application/json"), (name, headers)
            error = json.loads(body)["error"]
            assert error["code"] == f"http_{status}", (name, error)
            assert re.search(r"[\u4e00-\u9fff]", error["message"]), (name, error)
            assert "waitress" not in body.decode() and "gunicorn" not in body.decode()
        # the same refusals outside /api/ are kb's Chinese page
        for data in (
            "GET /search/打印机 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
            b"GET /search?q="
            + b"a" * 100_000
            + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            b"\x16\x03\x01 not http at all\r\n\r\n",
        ):
            status, headers, body = raw_request(port, data)
            page = body.decode("utf-8")
            assert 400 <= status < 500 and headers["content-type"].startswith("text/html")
            assert '<html lang="zh-CN">' in page and "广西信创服务保障知识库" in page
        assert "server" not in headers  # no banner, from either server (等保 / ASVS)
        # and the server goes on serving
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as reply:
            assert reply.status == 200
        assert _process.poll() is None


def vote(port: int, slug: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/articles/{slug}/feedback",
        data=b'{"helpful": true}',
        headers={"Content-Type": "application/json", "Connection": "close"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as err:
        return err.code


def test_a_rate_limit_holds_across_two_gunicorn_workers(data_dir: Path) -> None:
    with serving(data_dir, "--workers", "2", "--access-log", KB_FEEDBACK_RATE_PER_IP="6") as (
        port,
        process,
    ):
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v1/articles?per_page=1", timeout=10
        ) as reply:
            slug = json.loads(reply.read())["results"][0]["slug"]
        # every vote comes from a fresh browser (no cookie), so only the per-address limit
        # applies; keep voting until both workers have answered some of the votes
        statuses: list[int] = []
        pids: set[str] = set()
        deadline = time.monotonic() + 60
        while len(pids) < 2 or len(statuses) < 12:
            assert time.monotonic() < deadline, (statuses, pids)
            statuses.append(vote(port, slug))
            served = process.log_path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
            pids = set(
                re.findall(r'"POST /api/v1/articles/\S+ HTTP/1.1" \d+ .*pid=<?(\d+)', served)
            )
        assert len(pids) == 2  # both processes counted votes
        assert statuses[:6] == [201] * 6
        assert set(statuses[6:]) == {429}
