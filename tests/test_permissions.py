"""Who may see what, and who may do what: one policy behind every page and API route.

The read matrix is every role × visibility × status, for the article page, the API article,
the API listing and the /articles listing: exactly who gets 200 and who gets 404 (never 403
for an article the user may not know exists). The transition table checks that a role's
forbidden moves answer 401/403/404/409/422 with a Chinese message and change nothing.

The world is built once per module (15 articles, one signed-in client per role) so the
~400 matrix cases stay fast; each case only reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from kb import db
from kb.models import Article, AuditEvent, Revision
from tests.conftest import USERS, create_article, login, world_app

ROLES = ["anonymous", "reader", "reader2", "editor", "editor2", "curator", "admin"]
VISIBILITIES = ["public", "registered", "restricted"]
STATUSES = ["draft", "submitted", "returned", "published", "archived"]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def may_read(role: str, visibility: str, status: str) -> bool:
    """The rule of the issue, written independently of kb/permissions/policy.py."""
    if role in ("curator", "admin"):
        return True
    if status != "published":
        return role == "editor"  # the owning enterprise (demo) only
    if visibility == "public":
        return True
    if visibility == "registered":
        return role != "anonymous"
    # restricted, allowed_orgs [demo-unit]: bureau, owner demo, listed demo-unit
    return role in ("editor", "reader")


def slug_for(visibility: str, status: str) -> str:
    return f"{visibility}-{status}"


def title_for(visibility: str, status: str) -> str:
    return f"矩阵文章 {visibility} {status} 标记"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with world_app(tmp_path_factory.mktemp("perm") / "data") as app:

        def make(slug: str, status: str, visibility: str = "public", **fields: Any) -> str:
            restricted = ["demo-unit"] if visibility == "restricted" else []
            return create_article(
                app, status, slug=slug, visibility=visibility, allowed_orgs=restricted, **fields
            )

        for visibility in VISIBILITIES:
            for status in STATUSES:
                make(
                    slug_for(visibility, status),
                    status,
                    visibility,
                    title=title_for(visibility, status),
                )
        clients = {"anonymous": app.test_client()}
        for username, _role, _org in USERS:
            clients[username] = login(app.test_client(), username)
        yield {"app": app, "clients": clients, "make": make}


matrix = pytest.mark.parametrize("status", STATUSES)
by_visibility = pytest.mark.parametrize("visibility", VISIBILITIES)
by_role = pytest.mark.parametrize("role", ROLES)


@by_role
@by_visibility
@matrix
def test_article_page(world, role, visibility, status):
    response = world["clients"][role].get(f"/articles/{slug_for(visibility, status)}")
    expected = 200 if may_read(role, visibility, status) else 404
    if (role, visibility, status) == ("anonymous", "registered", "published"):
        expected = 401  # 登录后可查看: signing in shows it; the title stays withheld
    assert response.status_code == expected
    page = response.get_data(as_text=True)
    assert (title_for(visibility, status) in page) == (expected == 200)
    assert ("登录后可查看" in page) == (expected == 401)


@by_role
@by_visibility
@matrix
def test_api_article(world, role, visibility, status):
    response = world["clients"][role].get(f"/api/v1/articles/{slug_for(visibility, status)}")
    expected = 200 if may_read(role, visibility, status) else 404
    assert response.status_code == expected
    body = response.get_json()
    if expected == 200:
        assert body["slug"] == slug_for(visibility, status)
        assert body["status"] == status
    else:
        assert body["error"]["code"] == "not_found"


@by_role
@by_visibility
@matrix
def test_api_listing(world, role, visibility, status):
    client = world["clients"][role]
    slug = slug_for(visibility, status)
    by_status = client.get(f"/api/v1/articles?status={status}&per_page=100")
    assert by_status.status_code == 200
    every = client.get("/api/v1/articles?status=all&per_page=100")
    assert every.status_code == 200
    expected = may_read(role, visibility, status)
    assert (slug in [a["slug"] for a in by_status.get_json()["results"]]) == expected
    assert (slug in [a["slug"] for a in every.get_json()["results"]]) == expected


@by_role
@by_visibility
@matrix
def test_articles_listing_page(world, role, visibility, status):
    """The reader's listing shows published articles only, each to whoever may read it."""
    page = world["clients"][role].get("/articles").get_data(as_text=True)
    shown = title_for(visibility, status) in page
    assert shown == (status == "published" and may_read(role, visibility, status))


@by_role
def test_listing_totals_match_the_matrix(world, role):
    client = world["clients"][role]
    listed = client.get("/api/v1/articles?per_page=100").get_json()
    readable = [slug_for(v, "published") for v in VISIBILITIES if may_read(role, v, "published")]
    assert listed["total"] == len(readable)
    assert sorted(a["slug"] for a in listed["results"]) == sorted(readable)


@pytest.mark.parametrize("role", ["anonymous", "reader2", "editor2"])
def test_hidden_article_answers_exactly_like_a_missing_one(world, role):
    client = world["clients"][role]
    for path in (
        "/articles/{}",
        "/api/v1/articles/{}",
        "/articles/{}/revisions",
        "/api/v1/articles/{}/revisions",
        "/articles/{}/download",
    ):
        hidden = client.get(path.format("restricted-draft"))
        missing = client.get(path.format("no-such-articl"))  # same length, never created
        assert hidden.status_code == missing.status_code == 404, path
        # the page echoes the requested path only in its sign-in link; the CSRF token is
        # signed with the current second, so two requests straddling a second differ there
        assert same_page(hidden.get_data().replace(b"restricted-draft", b"no-such-articl")) == (
            same_page(missing.get_data())
        )


def same_page(body: bytes) -> bytes:
    """The page with its CSRF tokens blanked: the meta tag's and the sign-out form's (a signed
    reader's page has both, and a request straddling a second gets different ones)."""
    body = re.sub(rb'name="csrf-token" content="[^"]*"', b'name="csrf-token" content=""', body)
    return re.sub(rb'name="csrf_token" value="[^"]*"', b'name="csrf_token" value=""', body)


# ---- transitions a role may not make ------------------------------------------------------


def snapshot(app: Flask, slug: str) -> tuple[Any, ...]:
    with app.app_context():
        s = db.session()
        article = s.scalar(select(Article).where(Article.slug == slug))
        revisions = list(
            s.execute(
                select(Revision.number, Revision.state, Revision.review_note, Revision.source)
                .where(Revision.article_id == article.id)
                .order_by(Revision.number)
            )
        )
        events = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.object_id == slug)
        )
        return (
            article.status,
            article.pending,
            article.title,
            article.published_revision_id,
            article.working_revision_id,
            [tuple(r) for r in revisions],
            events,
        )


REFUSED = [
    # (who, article status, visibility, action, body, expected status)
    ("anonymous", "draft", "public", "submit", None, 401),
    ("anonymous", "published", "public", "archive", None, 401),
    ("reader", "published", "public", "archive", None, 403),
    ("reader", "published", "public", "submit", None, 403),
    ("reader", "submitted", "public", "publish", None, 404),
    ("reader2", "published", "restricted", "archive", None, 404),
    ("editor", "submitted", "public", "publish", None, 403),
    ("editor", "submitted", "public", "return", {"reason": "自己退回"}, 403),
    ("editor", "published", "public", "archive", None, 403),
    ("editor", "archived", "public", "restore", None, 403),
    ("editor", "submitted", "public", "submit", None, 409),
    ("editor", "draft", "public", "withdraw", None, 409),
    ("editor", "published", "public", "submit", None, 409),
    ("editor2", "draft", "public", "submit", None, 404),
    ("editor2", "published", "public", "archive", None, 403),
    ("editor2", "published", "public", "submit", None, 403),
    ("curator", "draft", "public", "submit", None, 403),
    ("curator", "draft", "public", "publish", None, 409),
    ("curator", "returned", "public", "publish", None, 409),
    ("curator", "draft", "public", "archive", None, 409),
    ("curator", "published", "public", "restore", None, 409),
    ("curator", "published", "public", "publish", None, 409),
    ("curator", "submitted", "public", "return", {"reason": "  "}, 422),
    ("admin", "submitted", "public", "return", None, 422),
    ("admin", "archived", "public", "archive", None, 409),
]


@pytest.mark.parametrize(("who", "status", "visibility", "action", "body", "expected"), REFUSED)
def test_refused_transition_changes_nothing(world, who, status, visibility, action, body, expected):
    slug = world["make"](f"t-{who}-{status}-{visibility}-{action}", status, visibility)
    before = snapshot(world["app"], slug)
    response = world["clients"][who].post(f"/api/v1/articles/{slug}/{action}", json=body)
    assert response.status_code == expected, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert CHINESE.search(error["message"]), error
    assert set(error) >= {"code", "message", "fields"}
    assert snapshot(world["app"], slug) == before


@pytest.mark.parametrize(
    ("who", "status", "method", "path", "data", "expected", "message"),
    [
        ("editor2", "published", "put", "/api/v1/articles/{}", "json", 403, "没有权限"),
        ("editor", "archived", "put", "/api/v1/articles/{}", "json", 403, "没有权限"),
        ("editor", "submitted", "put", "/api/v1/articles/{}", "json", 409, "撤回"),
        ("reader", "published", "put", "/api/v1/articles/{}", "json", 403, "没有权限"),
        ("curator", "draft", "post", "/review/{}/publish", {}, 409, "只有待审核的修订可以发布"),
        ("curator", "submitted", "post", "/review/{}/return", {"reason": ""}, 422, "必须填写原因"),
        ("editor", "published", "post", "/editor/{}/submit", {}, 409, "不能提交审核"),
        ("editor", "submitted", "post", "/review/{}/publish", {}, 403, "没有权限"),
        ("reader", "submitted", "post", "/review/{}/publish", {}, 403, "没有权限"),
        ("editor2", "draft", "post", "/editor/{}/edit", {"title": "x"}, 404, "不存在"),
    ],
)
def test_refused_edits_and_page_transitions_change_nothing(
    world, who, status, method, path, data, expected, message
):
    slug = world["make"](f"p-{who}-{status}-{method}-{expected}", status)
    before = snapshot(world["app"], slug)
    client = world["clients"][who]
    if data == "json":
        data = {
            "title": "改写",
            "type": "故障处理",
            "category": "打印与扫描",
            "visibility": "public",
            "markdown": "改写的正文",
        }
        response = getattr(client, method)(path.format(slug), json=data)
    else:
        response = getattr(client, method)(path.format(slug), data=data)
    assert response.status_code == expected
    shown = (
        response.get_json()["error"]["message"]
        if response.is_json
        else response.get_data(as_text=True)
    )
    assert message in shown
    assert snapshot(world["app"], slug) == before


def test_editor_cannot_create_for_another_enterprise(app, login_as):
    editor = login_as("editor")
    response = editor.post(
        "/api/v1/articles",
        json={
            "title": "冒名文章",
            "slug": "impostor",
            "type": "常见问题",
            "category": "办公软件",
            "visibility": "public",
            "enterprise": "other",
            "markdown": "正文",
        },
    )
    # the editor's own enterprise always owns what they write, whatever the field says
    assert response.status_code == 201
    assert response.get_json()["enterprise"] == "demo"
    assert login_as("editor2").get("/api/v1/articles/impostor").status_code == 404


@pytest.mark.parametrize("who", ["reader", "curator"])
def test_only_editors_and_admins_create_articles(app, login_as, who):
    client = login_as(who)
    response = client.post(
        "/api/v1/articles",
        json={
            "title": "越权文章",
            "slug": "not-mine",
            "type": "常见问题",
            "category": "办公软件",
            "visibility": "public",
            "markdown": "正文",
        },
    )
    assert response.status_code == 403
    assert CHINESE.search(response.get_json()["error"]["message"])
    assert login_as("admin").get("/api/v1/articles/not-mine").status_code == 404
    assert client.get("/editor/new").status_code == 403
