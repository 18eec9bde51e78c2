"""The real thing: ``kb init --demo`` and ``kb serve`` as subprocesses on a free port with a
temporary KB_DATA_DIR. The site answers through waitress (not Werkzeug's dev server), serves
pages and the API, and after a restart still has its data and the demo passwords work."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port, kb_env

pytestmark = pytest.mark.slow
KB = str(Path(sys.executable).parent / "kb")


def environment(data_dir: Path) -> dict[str, str]:
    return kb_env(data_dir, {k: v for k, v in os.environ.items() if not k.startswith("KB_")})


@contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [KB, "serve", "--port", str(port)],
        env=environment(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                with urllib.request.urlopen(base + "/", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise AssertionError("kb serve did not answer within 30 s") from None
                # connection refused returns at once: a short wait bounds the poll rate
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def get(url: str, opener=None):  # type: ignore[no-untyped-def]
    opener = opener or urllib.request.build_opener()
    with opener.open(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read().decode("utf-8")


def sign_in(base: str, username: str, password: str) -> tuple[int, str]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    _, _, page = get(base + "/login", opener)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrf_token": token}
    ).encode()
    try:
        with opener.open(base + "/login", data=data, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8")


def test_init_serve_restart(tmp_path):
    data_dir = tmp_path / "data"
    init = subprocess.run(
        [KB, "init", "--demo"],
        env=environment(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    accounts = {}
    for line in (data_dir / "demo-accounts.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            username, _role, password = line.split("\t")
            accounts[username] = password

    with serving(data_dir) as base:
        status, headers, page = get(base + "/")
        assert status == 200 and "广西信创服务保障知识库" in page
        # no banner naming the server software (waitress's ident is switched off)
        assert "Server" not in headers and "Via" not in headers
        assert "Werkzeug" not in json.dumps(headers)
        status, _, body = get(base + "/api/v1/articles?per_page=100")
        listing = json.loads(body)
        assert status == 200 and listing["total"] > 0
        slug = listing["results"][0]["slug"]
        status, _, page = get(f"{base}/articles/{slug}")
        assert status == 200 and listing["results"][0]["title"] in page
        status, _, body = get(f"{base}/api/v1/articles/{slug}")
        assert status == 200 and json.loads(body)["html"]
        try:
            get(base + "/articles/no-such-article")
            raise AssertionError("expected 404")
        except urllib.error.HTTPError as err:
            assert err.code == 404
        status, page = sign_in(base, "editor", accounts["editor"])
        # the demo password was set by `kb init`: the first stop is 修改密码
        assert status == 200 and "<h1>修改密码</h1>" in page and "由他人设置" in page
        total_before = listing["total"]

    again = subprocess.run(
        [KB, "init", "--demo"],
        env=environment(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    with serving(data_dir) as base:
        _, _, body = get(base + "/api/v1/articles?per_page=100")
        assert json.loads(body)["total"] == total_before
        for username, password in accounts.items():
            status, page = sign_in(base, username, password)
            assert status == 200 and "<h1>修改密码</h1>" in page, (username, page[:200])
        status, page = sign_in(base, "editor", "wrong-password")
        assert status == 401 and "用户名或密码不正确" in page


def test_a_port_in_use_is_a_message_not_a_traceback(tmp_path):
    data_dir = tmp_path / "data"
    env = environment(data_dir)
    subprocess.run([KB, "init"], env=env, check=True, capture_output=True, timeout=120)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [KB, "serve", "--port", str(port)], env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 2
    assert f"无法在 127.0.0.1:{port} 上提供服务：端口已被占用" in done.stderr
    assert "Traceback" not in done.stderr and "kb 已启动" not in done.stdout
