"""The glossary: a public page explaining 信创 jargon, and the curators' editor for it.

Articles may link a term to ``/glossary#<术语>`` instead of explaining it inline; the content
checker reads the same list. Curators (and administrators) edit it as YAML; every save is
validated (problems shown in Chinese beside the text) and audited.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from kb import db
from kb.checker import glossary
from kb.errors import KbError
from kb.permissions import policy
from kb.permissions.policy import Gate
from kb.views.util import actor

bp = Blueprint("glossary", __name__, url_prefix="/glossary")


@bp.get("/")
def index() -> str:
    s = db.session()
    terms = sorted(glossary.load(s).terms, key=lambda t: t.term.casefold())
    return render_template(
        "glossary/index.html", terms=terms, may_edit=policy.allows(actor(), Gate.STAFF)
    )


def _editor(text: str, error: KbError | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    s = db.session()
    customised = glossary.stored_text(s) is not None
    page = render_template(
        "glossary/edit.html",
        text=text,
        error=error,
        customised=customised,
        count=len(glossary.load(s)),
        saved=request.args.get("saved"),
    )
    return page, status


@bp.get("/edit")
@policy.gate(Gate.STAFF)
def edit():  # type: ignore[no-untyped-def]
    return _editor(glossary.current_text(db.session()))


@bp.post("/edit")
@policy.gate(Gate.STAFF)
def save():  # type: ignore[no-untyped-def]
    s = db.session()
    text = request.form.get("glossary", "")
    try:
        glossary.save(s, actor(), text)
        s.commit()
    except KbError as err:
        s.rollback()
        return _editor(text, err, err.status)
    return redirect(url_for("glossary.edit", saved=1))


@bp.post("/reset")
@policy.gate(Gate.STAFF)
def reset():  # type: ignore[no-untyped-def]
    s = db.session()
    glossary.reset(s, actor())
    s.commit()
    return redirect(url_for("glossary.edit", saved=1))
