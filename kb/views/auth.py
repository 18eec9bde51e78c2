"""Sign-in, sign-out and 修改密码. The answer to a failed sign-in never says which part was
wrong, nor whether the account exists or is locked."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session
from flask_login import login_user, logout_user

from kb import accounts, audit, db, passwords, sessions
from kb.errors import Invalid
from kb.permissions import policy
from kb.permissions.policy import Gate
from kb.views.util import actor, safe_next

bp = Blueprint("auth", __name__)

FAILED = "用户名或密码不正确，或账号已被暂时锁定。"


def _begin(user, remember: bool) -> None:  # type: ignore[no-untyped-def]
    """Open a server-side session for ``user`` and hand its key to the cookies."""
    s = db.session()
    session.clear()  # a fresh cookie session: no fixation of anything set before sign-in
    sessions.start(
        s,
        user,
        remember=remember,
        ip=request.remote_addr or "",
        agent=request.user_agent.string or "",
    )
    s.commit()
    login_user(
        user,
        remember=remember and sessions.remember_age().days > 0,
        duration=sessions.remember_age(),
    )


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    target = safe_next(request.values.get("next"))
    remember_days = sessions.remember_age().days
    if request.method == "GET":
        return render_template(
            "auth/login.html", next=target, error=None, remember_days=remember_days
        )
    s = db.session()
    username = request.form.get("username", "")[:64]
    user = accounts.authenticate(
        s, username, request.form.get("password", ""), request.remote_addr or ""
    )
    s.commit()
    if user is None:
        page = render_template(
            "auth/login.html",
            next=target,
            error=FAILED,
            username=username,
            remember_days=remember_days,
        )
        return page, 401
    _begin(user, bool(request.form.get("remember")))
    return redirect(target)


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    user = actor()
    if getattr(user, "is_authenticated", False):
        s = db.session()
        # every session and remember cookie of this user ends, not only this browser's
        ended = sessions.end_all(s, user, "logout")
        audit.record(s, user, "auth.logout", "user", user.username, sessions_ended=ended)
        s.commit()
    logout_user()
    session.clear()
    return redirect("/")


@bp.route("/account/password", methods=["GET", "POST"])
@policy.gate(Gate.SIGNED_IN)
def change_password():  # type: ignore[no-untyped-def]
    user = actor()
    target = safe_next(request.values.get("next"))
    due = accounts.password_change_due(user)
    if request.method == "GET":
        return render_template(
            "auth/password.html", next=target, due=due, error=None, rules=_rules()
        )
    s = db.session()
    f = request.form
    try:
        accounts.change_password(
            s,
            user,
            f.get("current", ""),
            f.get("password", ""),
            f.get("again", ""),
            ip=request.remote_addr or "",
        )
    except Invalid as err:
        s.commit()  # the failed attempt's audit event
        page = render_template(
            "auth/password.html", next=target, due=due, error=err, rules=_rules()
        )
        return page, err.status
    s.commit()
    # every old session ended with the change; this browser continues in a new one
    _begin(user, False)
    return redirect(target if target != "/account/password" else "/")


def _rules() -> list[str]:
    return [
        f"至少 {passwords.MIN_LENGTH} 个字符；",
        "包含大写字母、小写字母、数字、符号中的至少三类；",
        "不能包含用户名，不能是常见密码或容易猜到的组合（如 Passw0rd!、Abc12345）。",
    ]
