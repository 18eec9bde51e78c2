"""The administrator's pages: organisations, users (roles, status, passwords), the audit log."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import login_required

from kb import accounts, audit, db, exports
from kb.errors import Invalid, KbError
from kb.permissions.roles import OrgKind, Role
from kb.views.util import actor, int_arg

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _admins_only() -> None:
    if actor().role != Role.ADMIN:
        abort(403)


def _page(error: KbError | None = None, form: str = ""):  # type: ignore[no-untyped-def]
    s = db.session()
    page = render_template(
        "admin/index.html",
        orgs=accounts.list_orgs(s),
        users=accounts.list_users(s),
        roles=list(Role),
        kinds=list(OrgKind),
        error=error,
        form=form,
        values=request.form,
    )
    return (page, error.status) if error else page


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return _page()


def _apply(form: str, operation) -> object:  # type: ignore[no-untyped-def]
    s = db.session()
    try:
        operation(s)
        s.commit()
    except KbError as err:
        s.rollback()
        return _page(err, form)
    return redirect(url_for("admin.index", done=form))


@bp.post("/orgs")
def create_org():  # type: ignore[no-untyped-def]
    f = request.form
    return _apply(
        "org",
        lambda s: accounts.create_org(
            s, actor(), f.get("code", ""), f.get("name", ""), f.get("kind", "")
        ),
    )


@bp.post("/users")
def create_user():  # type: ignore[no-untyped-def]
    f = request.form
    return _apply(
        "user",
        lambda s: accounts.create_user(
            s,
            actor(),
            f.get("username", ""),
            f.get("password", ""),
            f.get("role", ""),
            f.get("organisation", ""),
            f.get("display_name", ""),
        ),
    )


@bp.post("/users/<username>")
def update_user(username: str):  # type: ignore[no-untyped-def]
    f = request.form

    def change(s):  # type: ignore[no-untyped-def]
        user = accounts.get_user(s, username)
        accounts.update_user(
            s,
            actor(),
            user,
            role=f.get("role") or None,
            org_code=f.get("organisation") or None,
            # a form without the field leaves the status alone rather than deactivating
            active=(f.get("active") == "1") if "active" in f else None,
            password=f.get("password") or None,
        )

    return _apply(f"edit-{username}", change)


@bp.get("/audit")
def audit_log():  # type: ignore[no-untyped-def]
    """The audit log viewer (issue 11): filters, Chinese names, readable details, CSV export."""
    s = db.session()
    filters = audit.parse_filters(request.args)
    if request.args.get("format"):
        if request.args["format"] != "csv":
            raise Invalid("format 只能是 csv", fields={"format": "只能是 csv"})
        return Response(
            exports.to_csv(audit.sheets(s, filters)),
            mimetype=exports.MIMETYPES["csv"],
            headers={"Content-Disposition": 'attachment; filename="kb-audit.csv"'},
        )
    page = int_arg("page", 1)
    events, total = audit.search(s, filters, page=page)
    return render_template(
        "admin/audit.html",
        events=events,
        total=total,
        page=page,
        pages=max(1, -(-total // audit.PER_PAGE)),
        filters=filters,
        args=filters.as_args(),
        actions=audit.action_choices(s),
        action_label=audit.action_label,
        object_labels=audit.OBJECT_LABELS,
        describe=audit.describe,
    )
