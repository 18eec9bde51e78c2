"""API handlers of both loops: votes, 我的反馈, revision requests, tickets and figures.

Write bodies must be JSON (``Content-Type: application/json``), so a cross-site form cannot
post a vote. The operations in kb/feedback.py, kb/tickets.py and kb/stats.py decide.
"""

from __future__ import annotations

from typing import Any

from flask import after_this_request, url_for

from kb import articles as ops
from kb import db, feedback, pii, stats, tickets
from kb.api import body, operation, query, require_json, require_user, respond
from kb.api import models as m
from kb.views import feedback as pages
from kb.views.util import actor


@operation(
    "POST",
    "/articles/<slug>/feedback",
    summary="评价文章：{helpful, reason, comment}；没帮助并给出原因时开启修订请求",
    body=m.Vote,
    response=m.VoteResult,
    status=201,
)
def vote(slug: str):  # type: ignore[no-untyped-def]
    user = actor()
    s = db.session()
    article = ops.get(s, user, slug)
    require_json()
    data, _raw = body(m.Vote)
    visitor = pages.voter_id(create=True)
    after_this_request(pages.set_voter_cookie)
    pages.limit_votes(user, visitor)
    existing = feedback.vote_of(s, user, article, visitor)
    fb = feedback.vote(
        s,
        user,
        article,
        helpful=data.helpful,
        reason=data.reason,
        comment=data.comment,
        visitor_id=visitor,
    )
    ops.commit(s)
    return respond(
        m.VoteResult,
        {
            "id": fb.id,
            "request_id": None if fb.helpful else fb.request_id,
            "changed": existing is not None,
            "helpful": {"yes": article.helpful_yes, "no": article.helpful_no},
        },
        201,
    )


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


@operation(
    "GET",
    "/feedback/mine",
    summary="我的反馈及处理状态、答复",
    response=m.FeedbackList,
    auth=True,
)
def mine():  # type: ignore[no-untyped-def]
    user = require_user()
    items = feedback.mine(db.session(), user)
    return respond(m.FeedbackList, {"results": [feedback_json(fb) for fb in items]})


@operation(
    "GET",
    "/requests",
    summary="修订请求列表（按权限）",
    query=m.RequestsQuery,
    response=m.RequestList,
    auth=True,
)
def list_requests():  # type: ignore[no-untyped-def]
    user = require_user()
    status = query(m.RequestsQuery).status or "open"
    items = feedback.requests_for(db.session(), user, status=status)
    results = []
    for req in items:
        data = feedback.request_json(req)
        if not feedback.may_see(user, req):  # a reader sees his own request, not the handling
            data.pop("assignee")
            data.pop("escalation_note")
        results.append(data)
    return respond(m.RequestList, {"status": status, "total": len(results), "results": results})


def _request_action(request_id: int, name: str):  # type: ignore[no-untyped-def]
    user = require_user()
    s = db.session()
    require_json()
    if name == "decline":
        reply, _ = body(m.Decline)
        req = feedback.decline(s, user, request_id, reply.reply)
    elif name == "reassign":
        to, _ = body(m.Reassign)
        req = feedback.reassign(s, user, request_id, to.assignee)
    else:
        note, _ = body(m.Escalate)
        req = feedback.escalate(s, user, request_id, note.note)
    s.commit()
    return respond(m.RevisionRequest, feedback.request_json(req))


for _name, _model, _summary in (
    ("decline", m.Decline, "不修改，答复反馈人：{reply}"),
    ("reassign", m.Reassign, "指派给企业编辑（审核员）：{assignee}"),
    ("escalate", m.Escalate, "督办（审核员）：{note}"),
):
    operation(
        "POST",
        f"/requests/<int:request_id>/{_name}",
        summary=_summary,
        body=_model,
        response=m.RevisionRequest,
        auth=True,
        endpoint=f"request_{_name}",
    )(lambda request_id, _n=_name: _request_action(request_id, _n))


@operation(
    "POST",
    "/tickets",
    summary="服务平台提交已闭环的工单（新建 201，更新 200）",
    body=m.TicketIn,
    response=m.TicketSaved,
    status=201,
    auth=True,
)
def post_ticket():  # type: ignore[no-untyped-def]
    user = require_user()
    s = db.session()
    require_json()
    _ticket, data = body(m.TicketIn)
    outcome = tickets.upsert(s, user, data)  # the standard's rules: times in order, etc.
    ops.commit(s)
    saved = {
        "ticket_no": outcome.ticket.ticket_no,
        "linked": outcome.linked,
        "draft": outcome.draft,
    }
    return respond(m.TicketSaved, saved, 201 if outcome.created else 200)


@operation(
    "GET",
    "/tickets",
    summary="工单记录（本企业编辑、服务平台、审核员）",
    response=m.TicketList,
    auth=True,
)
def list_tickets():  # type: ignore[no-untyped-def]
    user = require_user()
    s = db.session()
    items = tickets.visible_tickets(s, user)
    results = [tickets.ticket_json(s, t) for t in items]
    return respond(m.TicketList, {"total": len(results), "results": results})


@operation(
    "GET",
    "/stats",
    summary="闭环统计：关联率、工单转化文章、复用、评价、修订请求",
    response=m.Stats,
    auth=True,
)
def get_stats():  # type: ignore[no-untyped-def]
    return respond(m.Stats, stats.figures(db.session(), require_user()))
