"""Search pages (placeholder until the search issue lands)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

bp = Blueprint("search", __name__)


@bp.get("/search")
def search() -> str:
    return render_template("search/results.html", q=request.args.get("q", ""), page=None)
