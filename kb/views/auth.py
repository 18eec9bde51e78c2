"""Sign-in and sign-out. The answer to a failed sign-in never says which part was wrong."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from flask_login import login_user, logout_user

from kb import accounts, audit, db
from kb.views.util import actor, safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=target, error=None)
    s = db.session()
    username = request.form.get("username", "")[:64]
    user = accounts.authenticate(
        s, username, request.form.get("password", ""), request.remote_addr or ""
    )
    s.commit()
    if user is None:
        return (
            render_template(
                "auth/login.html", next=target, error="用户名或密码不正确。", username=username
            ),
            401,
        )
    login_user(user, remember=bool(request.form.get("remember")))
    return redirect(target)


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    user = actor()
    if getattr(user, "is_authenticated", False):
        s = db.session()
        audit.record(s, user, "auth.logout", "user", user.username)
        s.commit()
    logout_user()
    return redirect("/")
