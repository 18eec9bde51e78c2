"""Pages of both loops: the vote form on an article, 我的反馈, the editors' revision-request
inbox, the curators' overview (overdue, reassign, escalate), ticket records and the figures.

A visitor's vote is tied to a signed cookie holding a random id (one vote per browser); votes
are rate-limited per address and per browser or user, a flood is answered 429.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    after_this_request,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from itsdangerous import BadSignature, URLSafeSerializer

from kb import articles as ops
from kb import db, feedback, ratelimit, stats, tickets
from kb.errors import KbError
from kb.models import Article
from kb.permissions import policy
from kb.permissions.roles import Action, Role
from kb.views.util import actor

bp = Blueprint("feedback", __name__)

VOTER_COOKIE = "kb_voter"
_NEW_VOTER = "_kb_new_voter"


# ---- visitor identity and rate limits ---------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="kb-voter")


def voter_id(create: bool = False) -> str | None:
    """The visitor's random id from the signed cookie (None for signed-in users)."""
    if policy.signed_in(actor()):
        return None
    raw = request.cookies.get(VOTER_COOKIE)
    if raw:
        try:
            value = _serializer().loads(raw)
            if isinstance(value, str) and 8 <= len(value) <= 64:
                return value
        except BadSignature:
            pass
    if not create:
        return None
    value = secrets.token_urlsafe(18)
    request.environ[_NEW_VOTER] = value
    return value


def set_voter_cookie(response: Response) -> Response:
    value = request.environ.get(_NEW_VOTER)
    if value:
        response.set_cookie(
            VOTER_COOKIE,
            _serializer().dumps(value),
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response


def limit_votes(user: Any, visitor: str | None) -> None:
    """At most FEEDBACK_RATE_PER_VOTER votes a minute per browser or user, and
    FEEDBACK_RATE_PER_IP per address (offices share one address, so that limit is higher)."""
    cfg = current_app.config
    who = f"vote-user:{user.id}" if policy.signed_in(user) else f"vote-visitor:{visitor}"
    ratelimit.check([who], int(cfg.get("FEEDBACK_RATE_PER_VOTER") or 10))
    ratelimit.check(
        [f"vote-ip:{request.remote_addr or '-'}"], int(cfg.get("FEEDBACK_RATE_PER_IP") or 60)
    )


# ---- the panel on the article page ------------------------------------------------------


@bp.app_context_processor
def _article_panel() -> dict[str, Any]:
    def loop_panel(article: Article) -> dict[str, Any]:
        s = db.session()
        user = actor()
        yes, no = article.helpful_yes or 0, article.helpful_no or 0
        staffish = policy.can(user, Action.READ_WORK, article)
        votable = article.status == "published" and (
            policy.signed_in(user) or article.visibility == "public"
        )
        return {
            "yes": yes,
            "no": no,
            "ratio": round(100 * yes / (yes + no)) if yes + no else None,
            "solved": tickets.solved(s, article),
            "votable": votable,
            "mine": feedback.vote_of(s, user, article, voter_id()) if votable else None,
            "reasons": feedback.REASONS,
            "max_comment": feedback.MAX_COMMENT,
            "requests": feedback.requests_for(s, user, status="open", article=article)
            if staffish
            else [],
            "source": tickets.source_ticket(s, article) if staffish else None,
            "age_of": feedback.age_of,
        }

    return {"loop_panel": loop_panel}


@bp.post("/articles/<slug>/feedback")
def vote(slug: str):  # type: ignore[no-untyped-def]
    s = db.session()
    user = actor()
    article = ops.get(s, user, slug)
    visitor = voter_id(create=True)
    after_this_request(set_voter_cookie)
    limit_votes(user, visitor)
    choice = request.form.get("helpful")
    helpful: Any = {"yes": True, "no": False}.get(choice or "", choice)
    if helpful is True:  # a reason ticked before choosing 有帮助 after all is not a complaint
        form_reason, form_comment = None, ""
    else:
        form_reason, form_comment = (
            request.form.get("reason") or None,
            request.form.get("comment", ""),
        )
    fb = feedback.vote(
        s,
        user,
        article,
        helpful=helpful,
        reason=form_reason,
        comment=form_comment,
        visitor_id=visitor,
    )
    ops.commit(s)
    thanks = "request" if fb.request_id and not fb.helpful else "vote"
    return redirect(url_for("articles.show", slug=slug, thanks=thanks) + "#feedback")


# ---- 我的反馈 -----------------------------------------------------------------------------


@bp.get("/feedback/mine")
@login_required
def mine() -> str:
    items = feedback.mine(db.session(), actor())
    return render_template(
        "feedback/mine.html",
        items=items,
        STATUS=feedback.STATUS_LABELS,
        status_of=feedback.feedback_status,
    )


# ---- revision requests ------------------------------------------------------------------


def _handlers_only() -> None:
    user = actor()
    if not (policy.is_staff(user) or user.role == Role.EDITOR):
        abort(403)


@bp.get("/feedback/requests")
@login_required
def inbox() -> str:
    _handlers_only()
    s = db.session()
    status = request.args.get("status") or "open"
    items = feedback.requests_for(s, actor(), status=status)
    items.sort(key=lambda r: (r.escalated_at is None, r.created_at))
    return render_template(
        "feedback/inbox.html",
        items=items,
        status=status,
        STATUS=feedback.STATUS_LABELS,
        age_of=feedback.age_of,
        feedback_of=lambda r: feedback.feedback_of(s, r),
    )


def _back(default: str) -> Any:
    from kb.views.util import safe_next

    return redirect(safe_next(request.form.get("next"), default))


@bp.post("/feedback/requests/<int:request_id>/decline")
@login_required
def decline(request_id: int):  # type: ignore[no-untyped-def]
    _handlers_only()
    s = db.session()
    feedback.decline(s, actor(), request_id, request.form.get("reply", ""))
    s.commit()
    return _back(url_for("feedback.inbox"))


@bp.post("/feedback/requests/<int:request_id>/reassign")
@login_required
def reassign(request_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    feedback.reassign(s, actor(), request_id, request.form.get("assignee", ""))
    s.commit()
    return _back(url_for("feedback.overview"))


@bp.post("/feedback/requests/<int:request_id>/escalate")
@login_required
def escalate(request_id: int):  # type: ignore[no-untyped-def]
    s = db.session()
    feedback.escalate(s, actor(), request_id, request.form.get("note", ""))
    s.commit()
    return _back(url_for("feedback.overview"))


@bp.get("/feedback/overview")
@login_required
def overview() -> str:
    if not policy.is_staff(actor()):
        abort(403)
    s = db.session()
    items = feedback.requests_for(s, actor(), status="open")
    ages = {r.id: feedback.age_of(r) for r in items}
    only_overdue = request.args.get("overdue") == "1"
    if only_overdue:
        items = [r for r in items if ages[r.id].overdue]
    items.sort(key=lambda r: (not ages[r.id].overdue, r.created_at))
    editors = {r.owner_id: feedback.editors_of(s, r.owner_id) for r in items}
    limit, _h, _w = feedback.calendar()
    return render_template(
        "feedback/overview.html",
        items=items,
        ages=ages,
        editors=editors,
        limit=limit,
        only_overdue=only_overdue,
        overdue_total=sum(a.overdue for a in ages.values()),
    )


# ---- tickets and figures ----------------------------------------------------------------


@bp.get("/feedback/tickets")
@login_required
def ticket_list() -> str:
    _handlers_only()
    s = db.session()
    user = actor()
    items = tickets.visible_tickets(s, user)
    return render_template(
        "feedback/tickets.html",
        items=items,
        articles_of=lambda t: tickets.articles_of(s, user, t),
    )


@bp.get("/feedback/tickets/<int:ticket_id>")
@login_required
def ticket_page(ticket_id: int) -> str:
    _handlers_only()
    s = db.session()
    user = actor()
    ticket = tickets.visible_ticket(s, user, ticket_id)
    cited, draft = tickets.articles_of(s, user, ticket)
    return render_template("feedback/ticket.html", t=ticket, cited=cited, draft=draft)


@bp.get("/feedback/stats")
@login_required
def figures():  # type: ignore[no-untyped-def]
    try:
        data = stats.figures(db.session(), actor())
    except KbError as err:
        if err.status == 403:
            abort(403)
        raise
    from kb import charts  # issue 11: the figures drawn, not only tabled

    rates = [
        (e["name"], round(e["link_rate"] * 100, 1))
        for e in data["enterprises"]
        if e["link_rate"] is not None
    ]
    reuse = [(r["title"], r["tickets"]) for r in (data["overall"] or {}).get("reuse", [])[:10]]
    drawn = [charts.ranked_bars("各企业工单闭环关联率（%）", rates)]
    if data["overall"] is not None:
        drawn.append(charts.ranked_bars("文章复用：帮助解决的工单数 Top 10", reuse))
    return render_template("feedback/stats.html", data=data, REASONS=feedback.REASONS, charts=drawn)
