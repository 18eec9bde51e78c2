"""Signing in and API authentication: audited, no user-name oracle, short-lived hardened
remember cookie, no open redirect after sign-in, CSRF on every browser write, and API tokens
that work from the CLI while invalid ones get a 401."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select

from kb import accounts, create_app, db
from kb.cli import cli
from kb.models import AuditEvent
from tests.conftest import GOOD_BODY, PASSWORD, config_for, get_article

CHINESE = re.compile(r"[\u4e00-\u9fff]")
NEW_ARTICLE = {
    "title": "WPS 文字页眉设置",
    "type": "操作指南",
    "category": "办公软件",
    "visibility": "public",
    "markdown": GOOD_BODY,
}


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session().scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def set_cookies(response) -> dict[str, str]:
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        name = header.split("=", 1)[0]
        cookies[name] = header
    return cookies


def test_successful_sign_in_is_audited_and_opens_the_session(app, client):
    response = client.post("/login", data={"username": "editor", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "编辑工作台" in client.get("/").get_data(as_text=True)
    [event] = events(app, "auth.login")
    assert event.actor_name == "editor" and event.object_id == "editor"
    assert client.post("/logout").status_code == 302
    assert "编辑工作台" not in client.get("/").get_data(as_text=True)
    assert [e.actor_name for e in events(app, "auth.logout")] == ["editor"]


def test_failed_sign_in_is_audited_without_the_password(app, client):
    client.post("/login", data={"username": "editor", "password": "wrong-password-1"})
    client.post("/login", data={"username": "nobody", "password": "wrong-password-2"})
    failed = events(app, "auth.login_failed")
    assert [(e.object_id, e.detail["reason"]) for e in failed] == [
        ("editor", "bad_credentials"),
        ("nobody", "bad_credentials"),
    ]
    assert all("wrong-password" not in str(e.detail) for e in failed)
    assert events(app, "auth.login") == []


def normalised(body: bytes, username: str) -> bytes:
    body = re.sub(rb'(name="csrf-token" content=|name="csrf_token" value=)"[^"]*"', rb'\1""', body)
    return body.replace(f'value="{username}"'.encode(), b'value="USER"')


def test_failure_is_identical_for_unknown_user_wrong_password_and_inactive_user(
    app, client, monkeypatch
):
    with app.app_context():
        s = db.session()
        accounts.update_user(s, accounts.SYSTEM, accounts.get_user(s, "editor2"), active=False)
        s.commit()
    real = accounts.check_password_hash
    calls: list[str] = []

    def counting(pwhash: str, password: str) -> bool:
        calls.append(password)
        return real(pwhash, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    answers = {}
    for username, password in (
        ("editor", "not-the-password"),
        ("ghost-user", "whatever-pass"),
        ("editor2", PASSWORD),
    ):
        before = len(calls)
        response = client.post("/login", data={"username": username, "password": password})
        assert len(calls) == before + 1, f"{username}: one hash check, whether or not it exists"
        answers[username] = response
    bodies = {u: normalised(r.get_data(), u) for u, r in answers.items()}
    assert {r.status_code for r in answers.values()} == {401}
    assert bodies["editor"] == bodies["ghost-user"] == bodies["editor2"]
    assert "用户名或密码不正确" in answers["editor"].get_data(as_text=True)


def test_deactivated_user_session_ends(app, login_as):
    editor2 = login_as("editor2")
    assert editor2.get("/editor/").status_code == 200
    with app.app_context():
        s = db.session()
        accounts.update_user(s, accounts.SYSTEM, accounts.get_user(s, "editor2"), active=False)
        s.commit()
    assert editor2.get("/editor/").status_code == 302  # back to the sign-in page


def test_remember_cookie_lasts_at_most_14_days_and_is_httponly_samesite(client):
    response = client.post(
        "/login", data={"username": "reader", "password": PASSWORD, "remember": "1"}
    )
    cookies = set_cookies(response)
    remember = cookies["remember_token"]
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", remember).group(1))
    now = datetime.now(UTC)
    assert now + timedelta(days=13) < expires <= now + timedelta(days=14, minutes=1)
    assert "HttpOnly" in remember and "SameSite=Lax" in remember
    assert "Secure" not in remember  # plain-http intranet default
    assert "HttpOnly" in cookies["session"] and "SameSite=Lax" in cookies["session"]


def test_no_remember_cookie_unless_asked(client):
    response = client.post("/login", data={"username": "reader", "password": PASSWORD})
    assert "remember_token" not in set_cookies(response)


def test_cookies_become_secure_with_kb_secure_cookies(app_config, monkeypatch):
    monkeypatch.setenv("KB_SECURE_COOKIES", "true")
    for key in ("KB_DATA_DIR", "KB_DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    secure_app = create_app(app_config)
    with secure_app.app_context():
        db.ensure_schema()
        s = db.session()
        accounts.create_org(s, accounts.SYSTEM, "demo-unit", "示例单位", "unit")
        accounts.create_user(s, accounts.SYSTEM, "reader", PASSWORD, "reader", "demo-unit")
        s.commit()
    client = secure_app.test_client()
    response = client.post(
        "/login",
        data={"username": "reader", "password": PASSWORD, "remember": "1"},
        base_url="https://localhost",
    )
    cookies = set_cookies(response)
    assert "Secure" in cookies["remember_token"] and "Secure" in cookies["session"]
    assert "HttpOnly" in cookies["remember_token"]
    secure_app.extensions["kb_engine"].dispose()


def test_bad_kb_secure_cookies_value_is_a_chinese_config_error(app_config, monkeypatch):
    from kb.config import ConfigError

    monkeypatch.setenv("KB_SECURE_COOKIES", "maybe")
    with pytest.raises(ConfigError, match="KB_SECURE_COOKIES"):
        create_app(app_config)


OFFSITE = [
    "//evil.example",
    "//evil.example/path",
    "///evil.example",
    "https://evil.example",
    "http://evil.example/articles",
    "HTTPS://evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "\x00//evil.example",
    "/\x00/evil.example",
    " //evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "https:evil.example",
    "http:/evil.example",
    "/%2F%2Fevil.example",
]


@pytest.mark.parametrize("target", OFFSITE)
def test_sign_in_never_redirects_off_site(client, target):
    form = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    hidden = re.search(r'name="next" value="([^"]*)"', form).group(1)
    assert hidden == (target if target == "/%2F%2Fevil.example" else "/")
    response = client.post(
        "/login", data={"username": "reader", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    if target == "/%2F%2Fevil.example":  # a path on this site, harmless
        assert location == target
    else:
        assert location == "/"


def test_sign_in_returns_to_a_page_on_this_site(client, make_article):
    slug = make_article(slug="printer-offline", visibility="registered")
    wall = client.get(f"/articles/{slug}")  # issue 11: 登录后可查看, not 文章不存在
    assert wall.status_code == 401 and "登录后可查看" in wall.get_data(as_text=True)
    response = client.post(
        "/login", data={"username": "reader", "password": PASSWORD, "next": f"/articles/{slug}?x=1"}
    )
    assert response.headers["Location"] == f"/articles/{slug}?x=1"
    assert client.get(response.headers["Location"]).status_code == 200


# ---- CSRF, with the protection switched on as in production ----------------------------------


class TestCsrf:
    @pytest.fixture
    def app_config(self, tmp_path):
        return {**config_for(tmp_path / "data"), "WTF_CSRF_ENABLED": True}

    @staticmethod
    def token(client, path: str = "/login") -> str:
        page = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    def sign_in(self, client, username: str = "editor") -> str:
        token = self.token(client)
        response = client.post(
            "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 302
        return self.token(client, "/")  # the meta tag the page scripts use

    def test_sign_in_without_token_is_refused_with_a_chinese_page(self, app, client):
        response = client.post("/login", data={"username": "editor", "password": PASSWORD})
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "页面已过期或请求来源不可信" in page and "<html" in page
        assert events(app, "auth.login") == []

    def test_form_post_without_token_is_refused_and_saves_nothing(self, app, client):
        self.sign_in(client)
        response = client.post("/editor/new", data={**NEW_ARTICLE, "slug": "no-token"})
        assert response.status_code == 400
        assert "页面已过期或请求来源不可信" in response.get_data(as_text=True)
        assert get_article(app, "no-token") is None

    def test_form_post_with_token_works(self, app, client):
        self.sign_in(client)
        token = self.token(client, "/editor/new")
        response = client.post(
            "/editor/new", data={**NEW_ARTICLE, "slug": "with-token", "csrf_token": token}
        )
        assert response.status_code == 302
        assert get_article(app, "with-token").status == "draft"

    def test_session_api_write_needs_the_csrf_header(self, app, client):
        token = self.sign_in(client)
        refused = client.post("/api/v1/articles", json={**NEW_ARTICLE, "slug": "api-no-token"})
        assert refused.status_code == 400
        assert refused.get_json()["error"]["code"] == "csrf"
        assert CHINESE.search(refused.get_json()["error"]["message"])
        assert get_article(app, "api-no-token") is None
        accepted = client.post(
            "/api/v1/articles",
            json={**NEW_ARTICLE, "slug": "api-token"},
            headers={"X-CSRFToken": token},
        )
        assert accepted.status_code == 201
        # reads need no token
        assert client.get("/api/v1/articles/api-token").status_code == 200

    def test_bearer_token_write_needs_no_csrf_header(self, app, client, runner):
        result = runner.invoke(cli, ["token", "create", "editor"])
        token = result.output.strip().splitlines()[-1]
        response = client.post(
            "/api/v1/articles",
            json={**NEW_ARTICLE, "slug": "by-token"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json()["enterprise"] == "demo"

    def test_session_does_not_rescue_an_invalid_bearer_token(self, app, client):
        self.sign_in(client)
        response = client.post(
            "/api/v1/articles",
            json={**NEW_ARTICLE, "slug": "forged"},
            headers={"Authorization": "Bearer kb_forged"},
        )
        assert response.status_code == 401
        assert get_article(app, "forged") is None


# ---- API tokens ---------------------------------------------------------------------------


def test_token_create_prints_the_token_alone_on_its_last_line(app, runner, make_article):
    slug = make_article(slug="restricted-one", visibility="restricted", allowed_orgs=[])
    result = runner.invoke(cli, ["token", "create", "editor", "--name", "测试"])
    assert result.exit_code == 0, result.output
    last = result.output.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"kb_[A-Za-z0-9_-]{40,}", last), last
    assert CHINESE.search(result.output.splitlines()[0])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {last}"}
    assert client.get(f"/api/v1/articles/{slug}").status_code == 404
    assert client.get(f"/api/v1/articles/{slug}", headers=headers).status_code == 200
    created = client.post(
        "/api/v1/articles", json={**NEW_ARTICLE, "slug": "via-token"}, headers=headers
    )
    assert created.status_code == 201
    assert [e.object_id for e in events(app, "token.create")] == ["editor"]
    # a second token is a different one
    again = runner.invoke(cli, ["token", "create", "editor"]).output.strip().splitlines()[-1]
    assert again != last


def test_token_for_unknown_user_is_a_chinese_error(runner, app):
    result = runner.invoke(cli, ["token", "create", "nobody"])
    assert result.exit_code == 1
    assert "用户“nobody”不存在" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "header", ["Bearer kb_not-a-real-token", "Bearer ", "bearer x" * 100, "Bearer \u4e2d\u6587"]
)
def test_invalid_bearer_token_gets_401_json(client, header):
    response = client.get(
        "/api/v1/articles", headers={"Authorization": header.encode().decode("latin-1")}
    )
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "unauthorized" and CHINESE.search(error["message"])


def test_token_of_a_deactivated_user_stops_working(app, runner):
    token = runner.invoke(cli, ["token", "create", "editor"]).output.strip().splitlines()[-1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/articles", headers=headers).status_code == 200
    with app.app_context():
        s = db.session()
        accounts.update_user(s, accounts.SYSTEM, accounts.get_user(s, "editor"), active=False)
        s.commit()
    assert client.get("/api/v1/articles", headers=headers).status_code == 401


def test_api_write_without_any_credentials_is_401(client):
    response = client.post("/api/v1/articles", json=NEW_ARTICLE)
    assert response.status_code == 401
    assert CHINESE.search(response.get_json()["error"]["message"])
