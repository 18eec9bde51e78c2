"""The administrator manages organisations and users through the pages: create, change a
role, deactivate (who then cannot sign in); everyone else is turned away; every change is in
the audit log the admin can read."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kb import db
from kb.models import AuditEvent, Organisation, User
from tests.conftest import PASSWORD


def audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


def user(app, username: str) -> User | None:
    with app.app_context():
        return db.session().scalar(select(User).where(User.username == username))


def test_admin_creates_an_organisation_and_a_user_through_the_pages(app, login_as):
    admin = login_as("admin")
    page = admin.get("/admin/").get_data(as_text=True)
    assert "系统管理" in page and "示例企业" in page

    response = admin.post(
        "/admin/orgs",
        data={"code": "kylin-soft", "name": "麒麟软件广西服务中心", "kind": "enterprise"},
    )
    assert response.status_code == 302
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "已保存" in page and "麒麟软件广西服务中心" in page

    response = admin.post(
        "/admin/users",
        data={
            "username": "kylin-editor",
            "display_name": "麒麟编辑",
            "password": "Guilin-Mountain-Pass-26",
            "role": "editor",
            "organisation": "kylin-soft",
        },
    )
    assert response.status_code == 302
    assert "麒麟编辑" in admin.get("/admin/").get_data(as_text=True)

    created = user(app, "kylin-editor")
    assert created.role == "editor" and created.organisation.code == "kylin-soft"
    # the new user signs in and works for the new enterprise
    client = app.test_client()
    assert (
        client.post(
            "/login", data={"username": "kylin-editor", "password": "Guilin-Mountain-Pass-26"}
        ).status_code
        == 302
    )
    # the administrator chose this password: the new user must replace it before anything else
    response = client.get("/editor/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/password")
    response = client.post(
        "/account/password",
        data={
            "current": "Guilin-Mountain-Pass-26",
            "password": "Own-choice-of-kylin-9",
            "again": "Own-choice-of-kylin-9",
        },
    )
    assert response.status_code == 302
    assert client.get("/editor/").status_code == 200

    [org_event] = audit(app, "org.create")[-1:]
    assert org_event.actor_name == "admin" and org_event.object_id == "kylin-soft"
    user_event = [e for e in audit(app, "user.create") if e.object_id == "kylin-editor"]
    assert user_event and user_event[0].actor_name == "admin"
    log = admin.get("/admin/audit?action=org").get_data(as_text=True)
    assert "kylin-soft" in log and "org.create" in log


def test_admin_changes_a_role_and_it_takes_effect(app, login_as):
    admin = login_as("admin")
    reader = login_as("reader")
    assert reader.get("/editor/").status_code == 403
    response = admin.post(
        "/admin/users/reader2", data={"role": "reader", "organisation": "demo", "active": "1"}
    )
    assert response.status_code == 302
    response = admin.post(
        "/admin/users/reader2", data={"role": "editor", "organisation": "demo", "active": "1"}
    )
    assert response.status_code == 302
    changed = user(app, "reader2")
    assert changed.role == "editor" and changed.organisation.code == "demo"
    client = app.test_client()
    client.post("/login", data={"username": "reader2", "password": PASSWORD})
    assert client.get("/editor/").status_code == 200
    updates = [e.detail for e in audit(app, "user.update") if e.object_id == "reader2"]
    assert updates == [{"organisation": ["other-unit", "demo"]}, {"role": ["reader", "editor"]}]


def test_admin_deactivates_a_user_who_then_cannot_sign_in(app, login_as):
    admin = login_as("admin")
    editor = login_as("editor")
    response = admin.post(
        "/admin/users/editor", data={"role": "editor", "organisation": "demo", "active": "0"}
    )
    assert response.status_code == 302
    assert "停用" in admin.get("/admin/").get_data(as_text=True)
    assert user(app, "editor").active is False
    # the open session ends, and signing in again fails the same way as a wrong password
    assert editor.get("/editor/").status_code == 302
    response = app.test_client().post("/login", data={"username": "editor", "password": PASSWORD})
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.get_data(as_text=True)
    [event] = [e for e in audit(app, "user.update") if e.object_id == "editor"]
    assert event.detail == {"active": [True, False]} and event.actor_name == "admin"
    failed = [e for e in audit(app, "auth.login_failed") if e.object_id == "editor"]
    assert failed[-1].detail["reason"] == "inactive"


def test_admin_resets_a_password(app, login_as):
    admin = login_as("admin")
    admin.post(
        "/admin/users/reader",
        data={
            "role": "reader",
            "organisation": "demo-unit",
            "active": "1",
            "password": "Brand-new-pass-77",
        },
    )
    client = app.test_client()
    assert (
        client.post("/login", data={"username": "reader", "password": PASSWORD}).status_code == 401
    )
    assert (
        client.post(
            "/login", data={"username": "reader", "password": "Brand-new-pass-77"}
        ).status_code
        == 302
    )
    # a reset password is the administrator's: the reader is sent to 修改密码 first
    response = client.get("/feedback/mine")
    assert response.status_code == 302 and "/account/password" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "修改密码" in page and "由他人设置" in page
    [event] = [e for e in audit(app, "user.update") if e.object_id == "reader"]
    assert event.detail == {"password": "reset"}
    assert "Brand-new-pass-77" not in str(event.detail)


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        (
            "/admin/orgs",
            {"code": "Bad Code", "name": "x", "kind": "enterprise"},
            422,
            "单位代码只能由",
        ),
        ("/admin/orgs", {"code": "demo", "name": "重复", "kind": "enterprise"}, 409, "已存在"),
        ("/admin/orgs", {"code": "new-org", "name": "x", "kind": "planet"}, 422, "单位类型应为"),
        (
            "/admin/users",
            {
                "username": "x y",
                "password": "Long-enough-42x",
                "role": "reader",
                "organisation": "demo-unit",
            },
            422,
            "用户名只能由",
        ),
        (
            "/admin/users",
            {
                "username": "shorty",
                "password": "short",
                "role": "reader",
                "organisation": "demo-unit",
            },
            422,
            "密码至少",
        ),
        (
            "/admin/users",
            {
                "username": "cur2",
                "password": "Long-enough-42x",
                "role": "curator",
                "organisation": "demo",
            },
            422,
            "审核员只能属于",
        ),
        (
            "/admin/users",
            {
                "username": "reader",
                "password": "Long-enough-42x",
                "role": "reader",
                "organisation": "demo-unit",
            },
            409,
            "已存在",
        ),
        (
            "/admin/users/admin",
            {"role": "admin", "organisation": "bureau", "active": "0"},
            422,
            "不能停用自己的账号",
        ),
        (
            "/admin/users/editor",
            {"role": "editor", "organisation": "demo-unit", "active": "1"},
            422,
            "企业编辑只能属于入围企业",
        ),
        (
            "/admin/users/nobody",
            {"role": "reader", "organisation": "demo-unit", "active": "1"},
            404,
            "不存在",
        ),
    ],
)
def test_bad_admin_input_shows_a_chinese_message_and_changes_nothing(
    app, login_as, path, data, status, message
):
    def world():
        with app.app_context():
            s = db.session()
            return (
                [(o.code, o.name, o.kind) for o in s.scalars(select(Organisation))],
                [
                    (u.username, u.role, u.organisation_id, u.active, u.password_hash)
                    for u in s.scalars(select(User))
                ],
            )

    before = world()
    response = login_as("admin").post(path, data=data)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert world() == before


@pytest.mark.parametrize("who", ["reader", "editor", "curator"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/"),
        ("get", "/admin/audit"),
        ("post", "/admin/orgs"),
        ("post", "/admin/users"),
        ("post", "/admin/users/reader"),
    ],
)
def test_non_admins_get_403(app, login_as, who, method, path):
    before = len(audit(app, "user.update")) + len(audit(app, "org.create"))
    data = {
        "code": "sneaky",
        "name": "x",
        "kind": "bureau",
        "username": "sneaky",
        "password": "Long-enough-42x",
        "role": "admin",
        "organisation": "bureau",
        "active": "0",
    }
    response = getattr(login_as(who), method)(path, data=data if method == "post" else None)
    assert response.status_code == 403
    assert "没有权限" in response.get_data(as_text=True)
    assert len(audit(app, "user.update")) + len(audit(app, "org.create")) == before
    assert user(app, "sneaky") is None and user(app, "reader").active


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert (
        client.post("/admin/orgs", data={"code": "x1", "name": "x", "kind": "unit"}).status_code
        == 302
    )
