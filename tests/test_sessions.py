"""Sign-in as 等保2.0 三级 asks it: sessions the server can end (logout, password change, an
administrator's changes), idle and absolute time limits, lockout after repeated failures,
the password policy, passwords set by others changed at first sign-in, API tokens that
expire and can be listed and revoked, and no caching of signed-in pages.

Time passes on a clock the app is configured with (``CLOCK``), never by sleeping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from kb import accounts, db, passwords
from kb.cli import cli
from kb.models import AuditEvent, User
from tests.conftest import PASSWORD, config_for, login

LOCKED_OUT = "用户名或密码不正确，或账号已被暂时锁定。"


class Clock:
    """A wall clock a test moves forward."""

    def __init__(self) -> None:
        # starts at the real time, so `kb` commands (real clock) see the same present
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_config(tmp_path, clock) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {**config_for(tmp_path / "data"), "CLOCK": clock}


def signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    """Does the client reach a page only a signed-in user may see?"""
    response = client.get("/feedback/mine")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return False
    assert response.status_code == 200
    return True


def events(app, prefix: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return list(
            db.session().scalars(
                select(AuditEvent)
                .where(AuditEvent.action.startswith(prefix))
                .order_by(AuditEvent.id)
            )
        )


def cookie(client, name: str) -> str:  # type: ignore[no-untyped-def]
    found = client.get_cookie(name)
    assert found is not None, name
    return found.value


# --- logout and replay ---------------------------------------------------------------


def test_logout_ends_the_session_cookie_and_the_remember_cookie(app):
    client = app.test_client()
    response = client.post(
        "/login", data={"username": "reader", "password": PASSWORD, "remember": "1"}
    )
    assert response.status_code == 302
    session_cookie, remember_cookie = cookie(client, "session"), cookie(client, "remember_token")

    # before logout each cookie alone opens the reader's pages
    only_session = app.test_client()
    only_session.set_cookie("session", session_cookie)
    assert signed_in(only_session)
    only_remember = app.test_client()
    only_remember.set_cookie("remember_token", remember_cookie)
    assert signed_in(only_remember)

    client.post("/logout")
    assert not signed_in(client)
    for name, value in (("session", session_cookie), ("remember_token", remember_cookie)):
        replay = app.test_client()
        replay.set_cookie(name, value)
        assert not signed_in(replay), name
    [event] = events(app, "auth.logout")
    assert event.actor_name == "reader" and event.detail["sessions_ended"] >= 1


def test_logout_ends_the_users_sessions_in_other_browsers_too(app, login_as):
    office, home = login_as("reader"), login_as("reader")
    other_user = login_as("reader2")
    office.post("/logout")
    assert not signed_in(home)
    assert signed_in(other_user)


def test_the_session_cookie_holds_no_user_id_only_a_random_key(app):
    client = login(app.test_client(), "reader")
    with app.app_context():
        reader = accounts.get_user(db.session(), "reader")
        from kb.models import UserSession

        rows = db.session().scalars(select(UserSession).where(UserSession.user_id == reader.id))
        hashes = [r.key_hash for r in rows]
    # the key travels in the signed cookie; the table keeps only its SHA-256
    with client.session_transaction() as sess:
        key = sess["_user_id"]
    assert len(key) >= 40 and key != str(reader.id)
    import hashlib

    assert hashlib.sha256(key.encode()).hexdigest() in hashes
    assert key not in hashes


# --- time limits ---------------------------------------------------------------------


def test_idle_timeout_ends_a_session_after_30_quiet_minutes(app, clock):
    client = login(app.test_client(), "reader")
    clock.advance(minutes=29)
    assert signed_in(client)  # a request within the limit keeps it alive...
    clock.advance(minutes=29)
    assert signed_in(client)  # ...measured from the last request, not from sign-in
    clock.advance(minutes=30)
    assert not signed_in(client)
    clock.advance(minutes=1)
    assert not signed_in(client)  # ended for good, not only while idle
    assert [e.object_id for e in events(app, "auth.session_idle")] == ["reader"]


def test_absolute_lifetime_ends_a_busy_session_after_12_hours(app, clock):
    client = login(app.test_client(), "reader")
    for _ in range(12 * 4 - 1):
        clock.advance(minutes=15)
        assert signed_in(client)
    clock.advance(minutes=15)
    assert not signed_in(client)
    assert [e.object_id for e in events(app, "auth.session_expired")] == ["reader"]


def test_idle_and_absolute_limits_are_configurable(tmp_path, clock, monkeypatch):
    from kb import create_app
    from tests.conftest import close, populate

    monkeypatch.setenv("KB_SESSION_IDLE_MINUTES", "5")
    monkeypatch.setenv("KB_SESSION_MAX_HOURS", "1")
    for key in ("KB_DATA_DIR", "KB_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    short = create_app({**config_for(tmp_path / "d"), "CLOCK": clock})
    populate(short)
    try:
        client = login(short.test_client(), "reader")
        clock.advance(minutes=5)
        assert not signed_in(client)
        client = login(short.test_client(), "reader")
        for _ in range(14):
            clock.advance(minutes=4)
            assert signed_in(client)
        clock.advance(minutes=4)  # 60 minutes after sign-in
        assert not signed_in(client)
    finally:
        close(short)


def test_remember_me_survives_idleness_but_not_14_days(app, clock):
    client = app.test_client()
    client.post("/login", data={"username": "reader", "password": PASSWORD, "remember": "1"})
    remember_cookie = cookie(client, "remember_token")
    clock.advance(days=13, hours=23)
    browser_reopened = app.test_client()  # the session cookie is gone with the browser
    browser_reopened.set_cookie("remember_token", remember_cookie)
    assert signed_in(browser_reopened)
    clock.advance(hours=1)
    assert not signed_in(browser_reopened)


# --- changes that end sessions -------------------------------------------------------


def test_password_change_ends_every_other_session_and_keeps_this_browser(app, login_as):
    here, elsewhere = login_as("reader"), login_as("reader")
    response = here.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "password": "Lijiang-river-boat-88",
            "again": "Lijiang-river-boat-88",
        },
    )
    assert response.status_code == 302
    assert signed_in(here)
    assert not signed_in(elsewhere)
    assert login(app.test_client(), "reader", "Lijiang-river-boat-88")
    event = [e for e in events(app, "auth.password_change") if e.object_id == "reader"][-1]
    assert event.detail["sessions_ended"] == 2 and "Lijiang" not in str(event.detail)


@pytest.mark.parametrize(
    "change",
    [
        {"role": "editor", "organisation": "demo", "active": "1"},  # role
        {"role": "reader", "organisation": "demo-unit", "active": "0"},  # disabled
        {"role": "reader", "organisation": "other-unit", "active": "1"},  # organisation
    ],
)
def test_an_administrators_change_ends_the_users_sessions_and_remember_cookies(
    app, login_as, change
):
    admin = login_as("admin")
    reader = app.test_client()
    reader.post("/login", data={"username": "reader", "password": PASSWORD, "remember": "1"})
    remember_cookie = cookie(reader, "remember_token")
    assert admin.post("/admin/users/reader", data=change).status_code == 302
    assert not signed_in(reader)
    replay = app.test_client()
    replay.set_cookie("remember_token", remember_cookie)
    assert not signed_in(replay)
    assert signed_in(admin)
    assert [e.object_id for e in events(app, "auth.sessions_ended")] == ["reader"]


# --- lockout -------------------------------------------------------------------------


def attempt(app, username: str, password: str):  # type: ignore[no-untyped-def]
    return app.test_client().post("/login", data={"username": username, "password": password})


def test_five_failures_lock_the_account_for_15_minutes_with_the_usual_answer(app, clock):
    for n in range(5):
        if n:
            clock.advance(minutes=2)  # five failures within 8 minutes
        response = attempt(app, "reader", f"Wrong-password-{n}")
        assert response.status_code == 401
    locked = attempt(app, "reader", PASSWORD)
    unknown = attempt(app, "nobody-here", PASSWORD)
    assert locked.status_code == unknown.status_code == 401
    said = [
        re.search(r'<p class="error".*?</p>', r.get_data(as_text=True)).group(0)
        for r in (locked, unknown)
    ]
    assert said[0] == said[1] and LOCKED_OUT in said[0]
    # other accounts are not affected
    assert attempt(app, "reader2", PASSWORD).status_code == 302
    clock.advance(minutes=14, seconds=59)  # the lock runs 15 minutes from the fifth failure
    assert attempt(app, "reader", PASSWORD).status_code == 401
    clock.advance(seconds=1)
    assert attempt(app, "reader", PASSWORD).status_code == 302
    [lock] = events(app, "auth.locked")
    assert lock.object_id == "reader" and lock.detail["failures"] == 5
    reasons = [e.detail["reason"] for e in events(app, "auth.login_failed")]
    assert reasons == ["bad_credentials"] * 5 + ["locked", "bad_credentials", "locked"]


def test_failures_spread_over_more_than_15_minutes_do_not_lock(app, clock):
    for n in range(8):
        assert attempt(app, "reader", f"Wrong-password-{n}").status_code == 401
        clock.advance(minutes=4)  # never five within 15 minutes
    assert attempt(app, "reader", PASSWORD).status_code == 302
    assert events(app, "auth.locked") == []


def test_a_successful_sign_in_resets_the_count(app):
    for n in range(4):
        attempt(app, "reader", f"Wrong-password-{n}")
    assert attempt(app, "reader", PASSWORD).status_code == 302
    for n in range(4):
        attempt(app, "reader", f"Wrong-password-{n}")
    assert attempt(app, "reader", PASSWORD).status_code == 302


def lock(app, username: str = "reader") -> None:  # type: ignore[no-untyped-def]
    for n in range(5):
        attempt(app, username, f"Wrong-password-{n}")
    assert attempt(app, username, PASSWORD).status_code == 401


def test_an_administrator_unlocks_on_the_admin_page(app, login_as):
    lock(app)
    admin = login_as("admin")
    page = admin.get("/admin/").get_data(as_text=True)
    assert "已锁定" in page
    assert admin.post("/admin/users/reader/unlock").status_code == 302
    assert "已锁定" not in admin.get("/admin/").get_data(as_text=True)
    assert attempt(app, "reader", PASSWORD).status_code == 302
    [event] = events(app, "user.unlock")
    assert event.actor_name == "admin" and event.object_id == "reader"
    assert event.detail == {"was_locked": True}


def test_only_an_administrator_may_unlock(app, login_as):
    lock(app)
    assert login_as("curator").post("/admin/users/reader/unlock").status_code == 403
    assert attempt(app, "reader", PASSWORD).status_code == 401


def test_kb_user_unlock(app, runner):
    lock(app)
    result = runner.invoke(cli, ["user", "unlock", "reader"])
    assert result.exit_code == 0, result.output
    assert "已解除 reader 的锁定" in result.output
    assert attempt(app, "reader", PASSWORD).status_code == 302
    missing = runner.invoke(cli, ["user", "unlock", "nobody"])
    assert missing.exit_code == 1 and "不存在" in missing.output


# --- password policy -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password", "至少三类"),
        ("12345678", "至少三类"),
        ("Short1!", "至少 8 个字符"),
        ("alllowercase", "至少三类"),
        ("ALLUPPER123", "至少三类"),
        ("Password1", "容易被猜出"),
        ("Passw0rd!", "容易被猜出"),
        ("P@ssw0rd123", "容易被猜出"),
        ("Zhang123456", "容易被猜出"),
        ("Qwerty123!", "容易被猜出"),
        ("reader-Pass-2026", "不能包含用户名"),
        (" Leading-space-9", "首尾不能是空格"),
        ("A" * 60 + "b1!" * 30, "不能超过 128 个字符"),
        ("Correct-horse-battery-7", None),
        ("Guilin-river-bamboo-42", None),
        ("桂林山水甲天下Guilin2026", None),
    ],
)
def test_password_policy(password, reason):
    found = passwords.problem(password, username="reader")
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found, found


def test_generated_initial_passwords_pass_the_policy():
    for _ in range(50):
        assert passwords.problem(passwords.generate()) is None


def test_the_cli_refuses_a_weak_password_with_the_reason(app, runner):
    result = runner.invoke(
        cli,
        [
            "user",
            "create",
            "weakling",
            "--role",
            "reader",
            "--org",
            "demo-unit",
            "--password",
            "Passw0rd!",
        ],
    )
    assert result.exit_code == 1
    assert "容易被猜出" in result.output
    with app.app_context():
        assert db.session().scalar(select(User).where(User.username == "weakling")) is None


def test_the_admin_page_refuses_a_weak_password_with_the_reason(app, login_as):
    response = login_as("admin").post(
        "/admin/users/reader",
        data={"role": "reader", "organisation": "demo-unit", "active": "1", "password": "12345678"},
    )
    assert response.status_code == 422
    assert "至少三类" in response.get_data(as_text=True)
    assert attempt(app, "reader", PASSWORD).status_code == 302


def test_the_change_page_refuses_a_weak_password_and_a_wrong_current_one(app, login_as):
    reader = login_as("reader")
    weak = reader.post(
        "/account/password", data={"current": PASSWORD, "password": "password", "again": "password"}
    )
    assert weak.status_code == 422 and "至少三类" in weak.get_data(as_text=True)
    wrong = reader.post(
        "/account/password",
        data={
            "current": "Not-my-password-1",
            "password": "Lijiang-river-boat-88",
            "again": "Lijiang-river-boat-88",
        },
    )
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.get_data(as_text=True)
    mismatch = reader.post(
        "/account/password",
        data={"current": PASSWORD, "password": "Lijiang-river-boat-88", "again": "Other-thing-9x"},
    )
    assert mismatch.status_code == 422 and "不一致" in mismatch.get_data(as_text=True)
    assert signed_in(reader)
    assert attempt(app, "reader", PASSWORD).status_code == 302  # unchanged


# --- passwords set by someone else ---------------------------------------------------


def test_a_user_created_by_the_cli_must_change_the_password_first(app, runner):
    result = runner.invoke(
        cli, ["user", "create", "newbie", "--role", "reader", "--org", "demo-unit"]
    )
    assert result.exit_code == 0, result.output
    initial = result.output.split("初始密码：")[1].split("（")[0].strip()
    client = app.test_client()
    response = client.post(
        "/login", data={"username": "newbie", "password": initial, "next": "/feedback/mine"}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/feedback/mine"
    # every page leads to 修改密码 until it is done; the API says why in JSON
    for path in ("/feedback/mine", "/", "/search?q=打印机"):
        page = client.get(path)
        assert page.status_code == 302 and page.headers["Location"].startswith("/account/password")
    api = client.get("/api/v1/articles")
    assert api.status_code == 403
    assert api.get_json()["error"]["code"] == "password_change_required"
    changed = client.post(
        "/account/password?next=/feedback/mine",
        data={
            "current": initial,
            "password": "Lijiang-river-boat-88",
            "again": "Lijiang-river-boat-88",
            "next": "/feedback/mine",
        },
    )
    assert changed.status_code == 302 and changed.headers["Location"] == "/feedback/mine"
    assert signed_in(client)
    assert client.get("/api/v1/articles").status_code == 200


def test_an_api_token_is_not_held_back_by_a_pending_password_change(app, runner):
    runner.invoke(cli, ["user", "create", "robot", "--role", "reader", "--org", "demo-unit"])
    result = runner.invoke(cli, ["token", "create", "robot"])
    token = result.output.strip().splitlines()[-1]
    response = app.test_client().get(
        "/api/v1/articles", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


def test_password_expires_after_90_days_by_default(app, clock, login_as):
    reader = login_as("reader")
    clock.advance(days=89)
    reader = login_as("reader")
    assert signed_in(reader)
    clock.advance(days=1)
    reader = login_as("reader")
    response = reader.get("/feedback/mine")
    assert response.status_code == 302 and "/account/password" in response.headers["Location"]
    assert "超过 90 天" in reader.get(response.headers["Location"]).get_data(as_text=True)


# --- API tokens ----------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_stored_hashed_listed_and_revoked_by_id_or_by_value(app, runner):
    first = runner.invoke(cli, ["token", "create", "editor", "--name", "CI"]).output.split()[-1]
    second = runner.invoke(cli, ["token", "create", "reader", "--name", "脚本"]).output.split()[-1]
    with app.app_context():
        from kb.models import ApiToken

        stored = [t.token_hash for t in db.session().scalars(select(ApiToken))]
    assert first not in str(stored) and second not in str(stored)

    listing = runner.invoke(cli, ["token", "list"])
    assert listing.exit_code == 0
    assert "editor" in listing.output and "reader" in listing.output and first not in listing.output
    only = runner.invoke(cli, ["token", "list", "editor"]).output
    assert "CI" in only and "脚本" not in only
    editor_id = next(line.split("\t")[0] for line in only.splitlines() if "\tCI\t" in line)

    client = app.test_client()
    assert client.get("/api/v1/articles", headers=bearer(first)).status_code == 200
    assert runner.invoke(cli, ["token", "revoke", editor_id]).exit_code == 0
    assert client.get("/api/v1/articles", headers=bearer(first)).status_code == 401
    assert runner.invoke(cli, ["token", "revoke", second]).exit_code == 0
    assert client.get("/api/v1/articles", headers=bearer(second)).status_code == 401
    assert "已吊销" in runner.invoke(cli, ["token", "list", "reader"]).output
    missing = runner.invoke(cli, ["token", "revoke", "kb_nonsense"])
    assert missing.exit_code == 1 and "没有这个令牌" in missing.output
    assert [e.detail["name"] for e in events(app, "token.revoke")] == ["CI", "脚本"]


def test_a_token_with_an_expiry_stops_working_then(app, clock):
    with app.app_context():
        s = db.session()
        token = accounts.create_token(
            s, accounts.SYSTEM, accounts.get_user(s, "editor"), "短期", expires_days=7
        )
        s.commit()
    client = app.test_client()
    clock.advance(days=6, hours=23)
    assert client.get("/api/v1/articles", headers=bearer(token)).status_code == 200
    clock.advance(hours=1)
    response = client.get("/api/v1/articles", headers=bearer(token))
    assert response.status_code == 401 and "已过期" in response.get_json()["error"]["message"]


def test_a_bearer_token_decides_the_caller_even_with_a_session_cookie(app, login_as, make_article):
    slug = make_article("draft", owner="demo")  # the editor's own draft
    with app.app_context():
        s = db.session()
        token = accounts.create_token(s, accounts.SYSTEM, accounts.get_user(s, "editor"))
        s.commit()
    reader = login_as("reader")
    assert reader.get(f"/articles/{slug}").status_code == 404
    for _ in range(2):  # the first request and the next one alike
        assert reader.get(f"/articles/{slug}", headers=bearer(token)).status_code == 200
        assert reader.get(f"/api/v1/articles/{slug}", headers=bearer(token)).status_code == 200
    # a bad token is refused, not rescued by the cookie
    response = reader.get("/feedback/mine", headers=bearer("kb_not-a-token"))
    assert response.status_code == 401


# --- headers -------------------------------------------------------------------------


def test_signed_in_answers_are_never_cached(app, login_as, make_article):
    slug = make_article()
    anonymous = app.test_client().get(f"/articles/{slug}")
    assert "no-store" not in anonymous.headers.get("Cache-Control", "")
    reader = login_as("reader")
    for path in (f"/articles/{slug}", "/feedback/mine", "/api/v1/articles", "/search?q=打印机"):
        response = reader.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    with app.app_context():
        s = db.session()
        token = accounts.create_token(s, accounts.SYSTEM, accounts.get_user(s, "reader"))
        s.commit()
    api = app.test_client().get("/api/v1/articles", headers=bearer(token))
    assert api.headers["Cache-Control"] == "no-store"
    assert app.test_client().get("/login").headers["Cache-Control"] == "no-store"
    assert "Server" not in anonymous.headers


def test_guessing_the_current_password_on_the_change_page_locks_the_account(app, login_as):
    reader = login_as("reader")
    for n in range(5):
        response = reader.post(
            "/account/password",
            data={
                "current": f"Guess-number-{n}x",
                "password": "Lijiang-river-boat-88",
                "again": "Lijiang-river-boat-88",
            },
        )
        assert response.status_code == 422 and "当前密码不正确" in response.get_data(as_text=True)
    # the unattended session is over, and the account is locked for a real sign-in too
    assert not signed_in(reader)
    assert attempt(app, "reader", PASSWORD).status_code == 401
    [lock] = events(app, "auth.locked")
    assert lock.object_id == "reader"
