"""Bad input gets a 4xx with a Chinese message naming the field, never a 500, and never
changes what is already saved.

Each case is sent to the JSON API (create and revise) and, where a form can carry it, to the
editor's HTML form, which must show the message and keep the author's input.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from kb import articles as ops
from kb import db
from kb.accounts import SYSTEM
from kb.models import Article, Organisation, Revision
from tests.conftest import GOOD_BODY, draft, login, world_app

CHINESE = re.compile(r"[\u4e00-\u9fff]")
HEAD = (
    "---\ntitle: 麒麟系统连接投影仪\ntype: 操作指南\ncategory: 外部设备\nvisibility: public\n"
    "{extra}---\n\n"
)
GOOD_JSON = {
    "title": "麒麟系统连接投影仪",
    "type": "操作指南",
    "category": "外部设备",
    "visibility": "public",
    "markdown": GOOD_BODY,
}


def state(app) -> tuple:
    """Everything a bad request could have changed: articles and all their revisions."""
    with app.app_context():
        s = db.session()
        articles = list(
            s.execute(
                select(
                    Article.slug,
                    Article.status,
                    Article.pending,
                    Article.title,
                    Article.working_revision_id,
                    Article.published_revision_id,
                ).order_by(Article.id)
            )
        )
        revisions = list(
            s.execute(
                select(
                    Revision.article_id, Revision.number, Revision.state, Revision.source
                ).order_by(Revision.id)
            )
        )
        return [tuple(a) for a in articles], [tuple(r) for r in revisions]


def assert_error(response, status: int | tuple[int, ...], field: str | None) -> dict:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) >= {"code", "message", "fields"}
    assert CHINESE.search(error["message"]), error
    if field is not None:
        assert field in error["fields"], error
        assert CHINESE.search(error["fields"][field]), error
    return error


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One app for the module (signing in hashes passwords, which is slow by design)."""
    with world_app(tmp_path_factory.mktemp("bad") / "data") as app:
        clients = {name: login(app.test_client(), name) for name in ("editor", "reader", "curator")}
        clients["anonymous"] = app.test_client()
        yield {"app": app, "clients": clients, "count": itertools.count()}


@pytest.fixture
def app(site):
    return site["app"]


@pytest.fixture
def editor(site):
    return site["clients"]["editor"]


@pytest.fixture
def client(site):
    return site["clients"]["anonymous"]


@pytest.fixture
def existing(site):
    """A published article with a pending draft revision: the thing bad input must not touch."""
    slug = f"printer-offline-{next(site['count'])}"
    app = site["app"]
    with app.app_context():
        s = db.session()
        demo = s.scalar(select(Organisation).where(Organisation.code == "demo"))
        article = ops.create(s, SYSTEM, draft(slug=slug), owner=demo)
        s.flush()
        article.working_revision.state = "submitted"
        article.status = "submitted"
        ops.publish(s, SYSTEM, article)
        ops.commit(s)
    response = site["clients"]["editor"].put(
        f"/api/v1/articles/{slug}", json=dict(GOOD_JSON, title="打印机脱机（修订中）")
    )
    assert response.status_code == 200
    return slug


# ---- raw bodies: size, encoding, JSON syntax ------------------------------------------------

RAW_JSON_CASES = [
    # (name, body bytes, status, field)
    ("nested-too-deep", b'{"title": ' + b"[" * 50 + b"]" * 50 + b"}", 400, "body"),
    ("nested-very-deep", b"[" * 100_000, 400, "body"),
    ("nan", b'{"title": NaN}', 400, "body"),
    ("infinity", b'{"title": "x", "summary": -Infinity}', 400, "body"),
    ("overflow-float", b'{"title": 1e999}', 400, "body"),
    ("duplicate-key", b'{"title": "a", "title": "b"}', 400, "title"),
    ("lone-surrogate", b'{"title": "\\ud800"}', 400, "body"),
    ("lone-surrogate-key", b'{"\\udfff": "x"}', 400, "body"),
    ("lone-surrogate-markdown", b'{"title": "x", "markdown": "a\\udc00b"}', 400, "body"),
    ("bad-utf8", b'{"title": "\xff\xfe\xe4"}', 400, "body"),
    ("truncated", b'{"title": "x"', 400, "body"),
    ("empty", b"", 400, "body"),
    ("not-an-object", b'["title"]', 422, "body"),
    ("huge-integer", b'{"title": ' + b"9" * 5000 + b"}", 400, "body"),
]


@pytest.mark.parametrize(
    ("name", "raw", "status", "field"), RAW_JSON_CASES, ids=[c[0] for c in RAW_JSON_CASES]
)
def test_bad_json_is_refused_and_changes_nothing(app, editor, existing, name, raw, status, field):
    before = state(app)
    for method, path in (("post", "/api/v1/articles"), ("put", f"/api/v1/articles/{existing}")):
        response = getattr(editor, method)(path, data=raw, content_type="application/json")
        assert_error(response, status, field)
    assert state(app) == before


def test_json_depth_limit_is_a_small_number_and_normal_nesting_passes(app, editor):
    limit = app.config["MAX_JSON_DEPTH"]
    assert 5 <= limit <= 64
    ok = editor.post("/api/v1/articles", json=dict(GOOD_JSON, slug="shallow", tags=["投影仪"]))
    assert ok.status_code == 201
    deep = b'{"title": ' + b"[" * limit + b"]" * limit + b"}"
    assert_error(
        editor.post("/api/v1/articles", data=deep, content_type="application/json"), 400, "body"
    )


def test_body_over_one_megabyte_is_413_json(app, editor, existing):
    before = state(app)
    big = b"x" * (1024 * 1024 + 1)
    for method, path, ctype in (
        ("post", "/api/v1/articles", "text/markdown"),
        ("post", "/api/v1/articles", "application/json"),
        ("put", f"/api/v1/articles/{existing}", "text/markdown"),
        ("post", f"/api/v1/articles/{existing}/return", "application/json"),
    ):
        response = getattr(editor, method)(path, data=big, content_type=ctype)
        error = assert_error(response, 413, None)
        assert "1 MB" in error["message"]
    # even without signing in, the body size is refused before anything else
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert state(app) == before


def test_body_over_one_megabyte_through_the_form_is_a_chinese_page(app, editor):
    before = state(app)
    response = editor.post("/editor/new", data={"title": "大", "markdown": "字" * 400_000})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "内容过大" in page and "1 MB" in page
    assert state(app) == before


# ---- article content: size, front matter, fields -------------------------------------------

LONG_BODY = "## 步骤\n\n" + "这是一段很长的说明文字。" * 7000  # ~250 KB of UTF-8


def test_markdown_over_200_kb_is_refused_naming_the_field(app, editor, existing):
    before = state(app)
    assert len(LONG_BODY.encode()) > 200 * 1024
    assert len(LONG_BODY.encode()) < 1024 * 1024
    cases = [
        ("post", "/api/v1/articles", {"json": dict(GOOD_JSON, markdown=LONG_BODY)}),
        (
            "post",
            "/api/v1/articles",
            {"data": (HEAD.format(extra="") + LONG_BODY).encode(), "content_type": "text/markdown"},
        ),
        ("put", f"/api/v1/articles/{existing}", {"json": dict(GOOD_JSON, markdown=LONG_BODY)}),
    ]
    for method, path, kwargs in cases:
        response = getattr(editor, method)(path, **kwargs)
        error = assert_error(response, (413, 422), "markdown")
        assert "200 KB" in error["message"]
    assert state(app) == before


SOURCE_CASES = [
    # (name, markdown source, field)
    ("no-front-matter", "# 标题\n\n正文。\n", "front_matter"),
    ("unterminated", "---\ntitle: 标题\ntype: 常见问题\n\n正文。\n", "front_matter"),
    ("bad-yaml", HEAD.format(extra="tags: [a, b\n"), "front_matter"),
    ("not-a-mapping", "---\n- a\n- b\n---\n\n正文。\n", "front_matter"),
    (
        "python-tag",
        HEAD.format(extra="summary: !!python/object/apply:os.system [ls]\n"),
        "front_matter",
    ),
    ("impossible-date", HEAD.format(extra="review_by: 2024-13-45\n"), "front_matter"),
    ("feb-30", HEAD.format(extra="review_by: 2024-02-30\n"), "front_matter"),
    ("bad-date-text", HEAD.format(extra="review_by: 明年\n"), "review_by"),
    ("numeric-key", HEAD.format(extra="1: a\nfoo: b\n"), "front_matter"),
    ("null-key", HEAD.format(extra="~: a\nbar: b\n"), "front_matter"),
    ("unknown-field", HEAD.format(extra="author: 张三\n"), "front_matter"),
    ("huge-number", HEAD.format(extra="summary: " + "9" * 5000 + "\n"), "front_matter"),
    (
        "yaml-surrogate-title",
        HEAD.replace("麒麟系统连接投影仪", '"\\ud800"').format(extra=""),
        "title",
    ),
    ("yaml-surrogate-tag", HEAD.format(extra='tags: ["\\udc80"]\n'), "tags"),
    ("yaml-nul", HEAD.format(extra='summary: "a\\0b"\n'), "summary"),
    ("unknown-type", HEAD.replace("操作指南", "小技巧").format(extra=""), "type"),
    ("unknown-visibility", HEAD.replace("public", "secret").format(extra=""), "visibility"),
    ("missing-title", HEAD.replace("title: 麒麟系统连接投影仪\n", "").format(extra=""), "title"),
    ("title-is-a-list", HEAD.replace("麒麟系统连接投影仪", "[a, b]").format(extra=""), "title"),
    ("bad-slug", HEAD.format(extra="slug: 中文标识\n"), "slug"),
    ("tags-not-a-list", HEAD.format(extra="tags: {a: 1}\n"), "tags"),
    ("title-too-long", HEAD.replace("麒麟系统连接投影仪", "长" * 201).format(extra=""), "title"),
]


@pytest.mark.parametrize(
    ("name", "source", "field"), SOURCE_CASES, ids=[c[0] for c in SOURCE_CASES]
)
def test_bad_article_source_is_refused_naming_the_field(app, editor, existing, name, source, field):
    before = state(app)
    text = source + GOOD_BODY
    for method, path in (("post", "/api/v1/articles"), ("put", f"/api/v1/articles/{existing}")):
        as_markdown = getattr(editor, method)(
            path, data=text.encode("utf-8", "surrogatepass"), content_type="text/markdown"
        )
        assert_error(as_markdown, 422, field)
        as_json = getattr(editor, method)(path, json={"source": text})
        if "surrogate" in name:  # the JSON layer itself may refuse what YAML would decode
            assert as_json.status_code in (400, 422)
        else:
            assert_error(as_json, 422, field)
    assert state(app) == before


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"type": "小技巧"}, "type"),
        ({"visibility": "secret"}, "visibility"),
        ({"visibility": None}, "visibility"),
        ({"title": ""}, "title"),
        ({"title": {"a": 1}}, "title"),
        ({"category": ""}, "category"),
        ({"markdown": 5}, "markdown"),
        ({"products": "a" * 200}, "products"),
        ({"tags": [["nested"]]}, "tags"),
        ({"review_by": "2024-02-30"}, "review_by"),
        ({"slug": "Bad Slug!"}, "slug"),
        ({"allowed_orgs": [True]}, "allowed_orgs"),
        ({"colour": "red"}, "front_matter"),
    ],
)
def test_bad_json_fields_are_refused_naming_the_field(app, editor, existing, override, field):
    before = state(app)
    body = {k: v for k, v in {**GOOD_JSON, **override}.items() if v is not None}
    assert_error(editor.post("/api/v1/articles", json=body), 422, field)
    assert_error(editor.put(f"/api/v1/articles/{existing}", json=body), 422, field)
    assert state(app) == before


def test_bad_utf8_markdown_body_is_refused(app, editor, existing):
    before = state(app)
    raw = HEAD.format(extra="").encode() + b"\xff\xfe \xc3\x28 \xed\xa0\x80\n"
    for method, path in (("post", "/api/v1/articles"), ("put", f"/api/v1/articles/{existing}")):
        response = getattr(editor, method)(path, data=raw, content_type="text/markdown")
        assert_error(response, 400, "markdown")
    assert state(app) == before


def test_duplicate_slug_is_refused_and_the_original_keeps_its_content(app, editor, existing):
    before = state(app)
    response = editor.post("/api/v1/articles", json=dict(GOOD_JSON, slug=existing))
    error = assert_error(response, 409, "slug")
    assert existing in error["message"]
    assert state(app) == before


def test_slug_cannot_be_changed_by_a_revision(app, editor, existing):
    before = state(app)
    response = editor.put(f"/api/v1/articles/{existing}", json=dict(GOOD_JSON, slug="renamed"))
    assert_error(response, 422, "slug")
    assert state(app) == before


def test_transition_the_role_may_not_make_is_refused_and_changes_nothing(app, existing, site):
    before = state(app)
    reader = site["clients"]["reader"]
    assert_error(reader.post(f"/api/v1/articles/{existing}/archive"), 403, None)
    editor = site["clients"]["editor"]
    assert_error(editor.post(f"/api/v1/articles/{existing}/publish"), 403, None)
    assert_error(editor.post(f"/api/v1/articles/{existing}/withdraw"), 409, None)
    curator = site["clients"]["curator"]
    assert_error(curator.post(f"/api/v1/articles/{existing}/publish"), 409, None)
    assert_error(
        curator.post(f"/api/v1/articles/{existing}/return", json={"reason": 5}), 422, "reason"
    )
    assert state(app) == before


@pytest.mark.parametrize(
    "query",
    [
        "status=zzz",
        "page=0",
        "page=abc",
        "page=99999999999999999999",
        "per_page=1000",
        "type=%FF",
        "category=%ED%A0%80",
    ],
)
def test_bad_listing_parameters_never_500(client, query):
    response = client.get(f"/api/v1/articles?{query}")
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        field = query.split("=")[0]
        assert_error(response, 422, field)


@pytest.mark.parametrize(
    "path",
    [
        "/articles/%ED%A0%80",
        "/articles/%FF%FE",
        "/api/v1/articles/..%2F..%2Fetc",
        "/api/v1/articles/x/diff?from=a&to=1",
        "/articles?type=%ED%A0%80",
        "/articles?page=-1",
        "/api/v1/articles/" + "a" * 5000,
    ],
)
def test_odd_urls_never_500(client, path):
    response = client.get(path)
    assert 400 <= response.status_code < 500
    if response.mimetype == "application/json":
        assert CHINESE.search(response.get_json()["error"]["message"])
    else:
        assert CHINESE.search(response.get_data(as_text=True))


# ---- the same through the editor's HTML form ------------------------------------------------

FORM = {
    "title": "麒麟系统连接投影仪的方法",
    "slug": "kylin-projector",
    "type": "操作指南",
    "category": "外部设备",
    "products": "爱普生 CB-X06",
    "os": "银河麒麟桌面操作系统 V10 SP1",
    "tags": "投影仪",
    "review_by": "",
    "visibility": "public",
    "allowed_orgs": "",
    "summary": "连接投影仪并设置复制屏幕。",
    "markdown": GOOD_BODY + "\n作者独有的一句话：请先接好 HDMI 线。\n",
}


@pytest.mark.parametrize(
    ("override", "message", "status"),
    [
        ({"type": "小技巧"}, "未知的文章类型", 422),
        ({"visibility": "secret"}, "未知的可见范围", 422),
        ({"title": ""}, "缺少标题", 422),
        ({"review_by": "2024-02-30"}, "YYYY-MM-DD", 422),
        ({"slug": "Bad Slug!"}, "标识只能由", 422),
        ({"markdown": LONG_BODY + "\n作者独有的一句话：请先接好 HDMI 线。\n"}, "200 KB", 413),
    ],
)
def test_form_shows_chinese_message_and_keeps_the_input(app, editor, override, message, status):
    before = state(app)
    data = dict(FORM, **override)
    response = editor.post("/editor/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in page
    assert 'role="alert"' in page
    assert "作者独有的一句话：请先接好 HDMI 线。" in page  # the body is still in the textarea
    if data["title"]:
        assert f'value="{data["title"]}"' in page
    assert "爱普生 CB-X06" in page
    assert state(app) == before


def test_form_duplicate_slug_and_bad_edit_keep_input_and_change_nothing(app, editor, existing):
    before = state(app)
    response = editor.post("/editor/new", data=dict(FORM, slug=existing))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "已被其他文章使用" in page and "作者独有的一句话" in page
    response = editor.post(
        f"/editor/{existing}/edit", data=dict(FORM, slug=existing, type="小技巧")
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "未知的文章类型" in page and "作者独有的一句话" in page
    assert state(app) == before


def test_form_with_bad_utf8_never_500(app, editor):
    before = state(app)
    raw = (
        "title=%FF%FE&type=%E6%93%8D%E4%BD%9C%E6%8C%87%E5%8D%97&category=x&visibility=public"
        "&markdown=%ED%A0%80%C3%28"
    )
    response = editor.post(
        "/editor/new", data=raw, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (302, 422)
    with app.app_context():
        for (title,) in db.session().execute(select(Article.title)):
            title.encode("utf-8")  # whatever was stored is valid text
        count = db.session().scalar(select(func.count()).select_from(Article))
    assert count <= len(before[0]) + 1
