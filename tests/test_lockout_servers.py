"""Lockout holds across workers and restarts: two real ``kb serve`` processes on one SQLite
file share one failure count, a restarted server still refuses the locked account, and
``kb user unlock`` lifts the lock for all of them."""

from __future__ import annotations

import subprocess

import pytest

from tests.test_server import KB, environment, serving, sign_in

pytestmark = pytest.mark.slow

PASSWORD = "Lijiang-river-boat-88"
ANSWER = "用户名或密码不正确，或账号已被暂时锁定。"


def kb(data_dir, *args: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [KB, *args], env=environment(data_dir), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


def test_five_failures_spread_over_two_servers_lock_the_account_everywhere(tmp_path):
    data_dir = tmp_path / "data"
    kb(data_dir, "init")
    kb(data_dir, "org", "create", "unit-a", "甲单位", "--kind", "unit")
    kb(
        data_dir,
        "user",
        "create",
        "clerk",
        "--role",
        "reader",
        "--org",
        "unit-a",
        "--password",
        PASSWORD,
    )
    with serving(data_dir) as first, serving(data_dir) as second:
        for n, base in enumerate((first, second, first, second, first)):
            status, page = sign_in(base, "clerk", f"Wrong-guess-{n}x")
            assert status == 401 and ANSWER in page
        # the fifth failure, counted by either process, locked the account for both
        for base in (first, second):
            status, page = sign_in(base, "clerk", PASSWORD)
            assert status == 401 and ANSWER in page
            status, page = sign_in(base, "nobody", PASSWORD)
            assert status == 401 and ANSWER in page
    with serving(data_dir) as restarted:
        status, page = sign_in(restarted, "clerk", PASSWORD)
        assert status == 401 and ANSWER in page
        unlock = kb(data_dir, "user", "unlock", "clerk")
        assert "已解除 clerk 的锁定" in unlock.stdout
        status, page = sign_in(restarted, "clerk", PASSWORD)
        # signed in; the CLI set this password, so the first page is 修改密码
        assert status == 200 and "<h1>修改密码</h1>" in page
    audit = kb(data_dir, "user", "unlock", "clerk")  # a second unlock finds nothing locked
    assert "未被锁定" in audit.stdout
