"""JSON API of both loops (/api/v1): votes, 我的反馈, revision requests, tickets, figures.

Authentication happens once for every request in kb/web.py (session with CSRF, or a bearer
token). Write bodies must be JSON (``Content-Type: application/json``), so a cross-site
form cannot post a vote.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, after_this_request, current_app, jsonify, request, url_for

from kb import articles as ops
from kb import db, feedback, jsonio, pii, stats, tickets
from kb.errors import Invalid
from kb.extensions import csrf
from kb.views import feedback as pages
from kb.views.util import actor

bp = Blueprint("loop_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _json_object() -> dict[str, Any]:
    if (request.mimetype or "") != "application/json":
        raise Invalid(
            "请求体应为 JSON（Content-Type: application/json）",
            fields={"body": "应为 JSON"},
            status=415,
        )
    data = jsonio.loads(
        request.get_data(cache=True), max_depth=current_app.config["MAX_JSON_DEPTH"]
    )
    if not isinstance(data, dict):
        raise Invalid("请求体应为 JSON 对象", fields={"body": "应为 JSON 对象"})
    return data


def _require_user() -> Any:
    from kb.views.api import require_user

    return require_user()


@bp.post("/articles/<slug>/feedback")
def vote(slug: str):  # type: ignore[no-untyped-def]
    user = actor()
    s = db.session()
    article = ops.get(s, user, slug)
    data = _json_object()
    visitor = pages.voter_id(create=True)
    after_this_request(pages.set_voter_cookie)
    pages.limit_votes(user, visitor)
    existing = feedback.vote_of(s, user, article, visitor)
    fb = feedback.vote(
        s,
        user,
        article,
        helpful=data.get("helpful"),
        reason=data.get("reason"),
        comment=data.get("comment"),
        visitor_id=visitor,
    )
    ops.commit(s)
    return jsonify(
        {
            "id": fb.id,
            "request_id": None if fb.helpful else fb.request_id,
            "changed": existing is not None,
            "helpful": {"yes": article.helpful_yes, "no": article.helpful_no},
        }
    ), 201


def feedback_json(fb: Any) -> dict[str, Any]:
    req = fb.request
    status = feedback.feedback_status(fb)
    return {
        "id": fb.id,
        "article": fb.article.slug,
        "title": fb.article.title,
        "url": url_for("articles.show", slug=fb.article.slug),
        "helpful": fb.helpful,
        "reason": fb.reason,
        "comment": pii.mask(fb.comment),
        "created_at": fb.created_at.isoformat(),
        "updated_at": fb.updated_at.isoformat(),
        "request_id": fb.request_id,
        "status": status,
        "status_label": feedback.STATUS_LABELS.get(status, "已记录"),
        "reply": req.reply if req is not None else "",
        "revision": req.revision_number if req is not None else None,
    }


@bp.get("/feedback/mine")
def mine():  # type: ignore[no-untyped-def]
    user = _require_user()
    return jsonify({"results": [feedback_json(fb) for fb in feedback.mine(db.session(), user)]})


@bp.get("/requests")
def list_requests():  # type: ignore[no-untyped-def]
    user = _require_user()
    s = db.session()
    status = request.args.get("status") or "open"
    items = feedback.requests_for(s, user, status=status)
    results = []
    for req in items:
        data = feedback.request_json(req)
        if not feedback.may_see(user, req):  # a reader sees his own request, not the handling
            data.pop("assignee")
            data.pop("escalation_note")
        results.append(data)
    return jsonify({"status": status, "total": len(results), "results": results})


def _request_action(request_id: int, name: str):  # type: ignore[no-untyped-def]
    user = _require_user()
    s = db.session()
    data = _json_object()
    if name == "decline":
        req = feedback.decline(s, user, request_id, data.get("reply"))
    elif name == "reassign":
        req = feedback.reassign(s, user, request_id, data.get("assignee"))
    else:
        req = feedback.escalate(s, user, request_id, data.get("note"))
    s.commit()
    return jsonify(feedback.request_json(req))


for _name in ("decline", "reassign", "escalate"):
    bp.add_url_rule(
        f"/requests/<int:request_id>/{_name}",
        f"request_{_name}",
        lambda request_id, _n=_name: _request_action(request_id, _n),
        methods=["POST"],
    )


@bp.post("/tickets")
def post_ticket():  # type: ignore[no-untyped-def]
    user = _require_user()
    s = db.session()
    data = _json_object()
    outcome = tickets.upsert(s, user, data)
    ops.commit(s)
    body = {"ticket_no": outcome.ticket.ticket_no, "linked": outcome.linked, "draft": outcome.draft}
    return jsonify(body), 201 if outcome.created else 200


@bp.get("/tickets")
def list_tickets():  # type: ignore[no-untyped-def]
    user = _require_user()
    s = db.session()
    items = tickets.visible_tickets(s, user)
    return jsonify({"total": len(items), "results": [tickets.ticket_json(s, t) for t in items]})


@bp.get("/stats")
def get_stats():  # type: ignore[no-untyped-def]
    return jsonify(stats.figures(db.session(), _require_user()))
