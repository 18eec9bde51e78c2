"""No author-written text can run script in a reader's browser or make it fetch elsewhere.

Over 40 XSS vectors are fed through the body, the title and the front matter fields of real
published articles; the rendered article page, the API's html and the editor's live preview
must keep none of them: no script, no event attribute, no javascript:/data:/vbscript: URL, no
remote image, no author-set style/id/name. External links carry rel="noopener noreferrer
nofollow". Pathological Markdown renders without error in bounded time.

These articles are created through the lifecycle operations with the checker bypassed (the
way conftest.make_article does): the content checker would rightly refuse most of them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from markupsafe import escape

from tests.conftest import GOOD_BODY, create_article, login, world_app

BODY_VECTORS: list[tuple[str, str]] = [
    ("script", "<script>alert(1)</script>"),
    ("script-mixed-case", "<ScRiPt>alert(1)</sCrIpT>"),
    ("script-split", "<scr<script>ipt>alert(1)</script>"),
    ("img-onerror", '<img src=x onerror="alert(1)">'),
    ("svg-onload", "<svg onload=alert(1)>"),
    ("details-ontoggle", "<details open ontoggle=alert(1)>x</details>"),
    ("iframe", '<iframe src="//evil.example"></iframe>'),
    ("style-tag", "<style>body{background:url(//evil.example)}</style>"),
    ("form", '<form action="//evil.example"><input name=x></form>'),
    ("raw-a-js", '<a href="javascript:alert(1)">x</a>'),
    ("html-comment", "<!-- --><script>alert(1)</script>"),
    ("block-html", "<div>\n<script>alert(1)</script>\n</div>"),
    ("link-js", "[x](javascript:alert(1))"),
    ("link-js-mixed-case", "[x](JaVaScRiPt:alert(1))"),
    ("link-js-upper", "[x](JAVASCRIPT:alert(1))"),
    ("link-js-tab", "[x](java\tscript:alert(1))"),
    ("link-js-leading-space", "[x](  javascript:alert(1)  )"),
    ("link-js-control-char", "[x](\x01javascript:alert(1))"),
    ("link-js-entity-dec", "[x](&#106;avascript:alert(1))"),
    ("link-js-entity-hex", "[x](&#x6A;avascript:alert(1))"),
    ("link-js-entity-padded", "[x](&#0000106&#0000097vascript:alert(1))"),
    ("link-js-entity-colon", "[x](javascript&colon;alert(1))"),
    ("link-js-entity-tab", "[x](jav&#x09;ascript:alert(1))"),
    ("link-js-angle", "[x](<javascript:alert(1)>)"),
    ("link-data", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"),
    ("link-data-mixed-case", "[x](DaTa:text/html,<script>alert(1)</script>)"),
    ("link-vbscript", "[x](vbscript:msgbox(1))"),
    ("link-vbscript-mixed-case", "[x](VbScRiPt:msgbox(1))"),
    ("reference-js", "[x][r]\n\n[r]: javascript:alert(1)"),
    ("reference-title", '[x][r]\n\n[r]: https://example.com "t" onmouseover="alert(1)"'),
    ("autolink-js", "<javascript:alert(1)>"),
    ("autolink-js-upper", "<JAVASCRIPT:alert(1)>"),
    ("autolink-data", "<data:text/html,<script>alert(1)</script>>"),
    ("link-title-break", '[x](https://example.com "a" onclick="alert(1)")'),
    ("link-title-script", '[x](https://example.com "\\"><script>alert(1)</script>")'),
    ("link-url-quote", '[x](https://a.example/"onmouseover="alert(1))'),
    ("nested-brackets-js", "[[x](javascript:alert(1))](https://example.com)"),
    ("link-text-html", "[<img src=x onerror=alert(1)>](https://example.com)"),
    ("emphasis-js", "***[x](javascript:alert(1))***"),
    ("img-js", "![x](javascript:alert(1))"),
    ("img-data", "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)"),
    ("img-title-break", '![a](/static/ok.png "x" onerror="alert(1)")'),
    ("img-remote-http", "![a](http://evil.example/a.png)"),
    ("img-remote-https", "![a](https://evil.example/a.png)"),
    ("img-remote-upper", "![a](HTTPS://evil.example/a.png)"),
    ("img-protocol-relative", "![a](//evil.example/a.png)"),
    ("img-backslash-slash", "![a](\\/evil.example/a.png)"),
    ("img-slash-backslash", "![a](/\\evil.example/a.png)"),
    ("img-reference-remote", "![a][i]\n\n[i]: https://evil.example/a.png"),
    ("img-raw-remote", '<img src="https://evil.example/a.png">'),
    ("attr-list-heading", "## 标题 {#evil style=color:red}"),
    ("attr-list-paragraph", '段落\n{: #evil style="color:red" onclick="alert(1)" }'),
    ("attr-list-link", "[x](https://example.com){: name=evil id=evil onclick=alert(1)}"),
    ("raw-a-name", '<a name="evil" id="evil" style="color:red">x</a>'),
    ("code-lang-break", '```" onmouseover="alert(1)\nx\n```'),
    ("code-lang-script", '```"><script>alert(1)</script>\nx\n```'),
    ("table-cell-html", "| a |\n|---|\n| <img src=x onerror=alert(1)> |"),
    ("table-align-break", '| a |\n|:-" onclick="alert(1)|\n| b |'),
    ("entity-double", "&lt;script&gt;alert(1)&lt;/script&gt; &amp;lt;script&amp;gt;"),
]

FIELD_VECTORS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</title><script>alert(1)</script>",
    "'><svg onload=alert(1)>",
    "javascript:alert(1)",
    "{{ 7*7 }}<b onclick=alert(1)>",
]
FIELDS = ["title", "summary", "products", "os", "tags", "category"]
SCHEME = re.compile(r"^(javascript|data|vbscript):", re.IGNORECASE)
LOCAL_SCRIPT = "/static/kb.js"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def browser_url(value: str) -> str:
    """How a browser reads an attribute URL: tabs/newlines dropped, ends trimmed, \\ as /."""
    return re.sub(r"[\t\n\r]", "", value).strip("\x00- ").replace("\\", "/")


def is_remote(value: str) -> bool:
    url = browser_url(value)
    parts = urlsplit(url)
    return url.startswith("//") or bool(parts.scheme) or bool(parts.netloc)


def assert_safe(html: str, *, where: str, page: bool = False) -> None:
    parser = Tags()
    parser.feed(html)
    lowered = html.lower()
    if not page:
        assert "<script" not in lowered, where
    for tag, attrs in parser.tags:
        if tag == "script":
            assert page and attrs.get("src") == LOCAL_SCRIPT, (where, tag, attrs)
        assert tag not in {"style", "iframe", "object", "embed", "svg", "math"}, (where, tag)
        if not page:  # the templates' own forms and widgets are fine; the author's are not
            assert tag not in {
                "form",
                "input",
                "textarea",
                "button",
                "meta",
                "link",
                "base",
                "details",
                "div",
                "span",
                "section",
            }, (where, tag)
        for name, value in attrs.items():
            assert not name.startswith("on"), (where, tag, name, value)
            assert name != "style", (where, tag, attrs)
            if name in {"href", "src", "action", "formaction", "xlink:href", "poster"}:
                assert not SCHEME.match(browser_url(value or "")), (where, tag, attrs)
            if not page:
                assert name != "name", (where, tag, attrs)
                if name == "id":
                    assert tag in {"h2", "h3", "h4", "h5", "h6"}, (where, tag, attrs)
                    assert value and value.startswith("h-"), (where, tag, attrs)
        if tag == "img":
            assert not is_remote(attrs.get("src") or ""), (where, attrs)
        href = attrs.get("href") or "" if tag == "a" else ""
        if href and is_remote(href) and not href.startswith("mailto:"):
            assert attrs.get("rel") == "noopener noreferrer nofollow", (where, attrs)


def article_region(page: str) -> str:
    start = page.index('<article class="article">')
    return page[start : page.index("</article>", start)]


def body_region(page: str) -> str:
    """The rendered Markdown alone (the allow-list has no <div>, so the first </div> ends it)."""
    start = page.index('<div class="body">') + len('<div class="body">')
    return page[start : page.index("</div>", start)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with world_app(tmp_path_factory.mktemp("render") / "data") as app:
        yield {
            "app": app,
            "client": app.test_client(),
            "publish": lambda slug, **fields: create_article(app, "published", slug=slug, **fields),
            "editor": login(app.test_client(), "editor"),
        }


def test_there_are_at_least_forty_vectors():
    assert len(BODY_VECTORS) + len(FIELD_VECTORS) * len(FIELDS) >= 40
    assert len(BODY_VECTORS) >= 40
    assert len({name for name, _ in BODY_VECTORS}) == len(BODY_VECTORS)


@pytest.mark.parametrize(("name", "vector"), BODY_VECTORS, ids=[n for n, _ in BODY_VECTORS])
def test_body_vector_is_defused_on_page_and_api(site, name, vector):
    slug = site["publish"](f"xss-{name}", body=f"## 说明\n\n{vector}\n\n结束语。\n")
    response = site["client"].get(f"/articles/{slug}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "结束语" in body_region(page)  # the article rendered, not an error page
    assert_safe(body_region(page), where=f"page {name}")
    assert_safe(article_region(page), where=f"article {name}", page=True)
    assert_safe(page, where=f"whole page {name}", page=True)
    api = site["client"].get(f"/api/v1/articles/{slug}")
    assert api.status_code == 200
    assert_safe(api.get_json()["html"], where=f"api {name}")


def test_body_vectors_are_defused_in_the_live_preview(site):
    for name, vector in BODY_VECTORS:
        response = site["editor"].post(
            "/editor/preview",
            data={
                "title": "预览",
                "type": "常见问题",
                "category": "办公软件",
                "visibility": "public",
                "markdown": vector,
            },
        )
        assert response.status_code == 200, name
        assert_safe(response.get_json()["html"], where=f"preview {name}")


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("index", range(len(FIELD_VECTORS)))
def test_front_matter_vector_is_escaped_on_the_page(site, field, index):
    vector = FIELD_VECTORS[index]
    value: Any = [vector] if field in ("products", "os", "tags") else vector
    slug = site["publish"](f"field-{field}-{index}", **{field: value})
    for path in (f"/articles/{slug}", "/articles", "/"):
        response = site["client"].get(path)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert_safe(page, where=f"{path} {field} {index}", page=True)
    article = site["client"].get(f"/articles/{slug}").get_data(as_text=True)
    # the author's text is shown, as text
    assert str(escape(vector)) in article_region(article)
    api = site["client"].get(f"/api/v1/articles/{slug}").get_json()
    shown = api[field]
    assert (shown == [vector]) if isinstance(shown, list) else (shown == vector)


def test_front_matter_vectors_through_the_api_source(site):
    """The same vectors written into a real front matter block, through the JSON API."""
    editor = site["editor"]
    source = (
        "---\n"
        "title: '</title><script>alert(1)</script>'\n"
        "slug: xss-front-matter\n"
        "type: 常见问题\n"
        "category: '\"><img src=x onerror=alert(1)>'\n"
        "products: ['<svg onload=alert(1)>']\n"
        'tags: ["<b onclick=alert(1)>x</b>"]\n'
        'summary: "<iframe src=//evil.example></iframe>"\n'
        "visibility: public\n"
        "---\n\n" + GOOD_BODY + "\n[x](javascript:alert(1))\n"
    )
    created = editor.post("/api/v1/articles", json={"source": source})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert_safe(created.get_json()["html"], where="api create")
    page = editor.get("/articles/xss-front-matter").get_data(as_text=True)
    assert_safe(body_region(page), where="draft page")
    assert_safe(page, where="draft whole page", page=True)
    workbench = editor.get("/editor/").get_data(as_text=True)
    assert_safe(workbench, where="workbench", page=True)
    form = editor.get("/editor/xss-front-matter/edit").get_data(as_text=True)
    assert_safe(form, where="edit form", page=True)


def test_external_links_get_rel_and_local_ones_do_not(site):
    body = (
        "见 [官网](https://www.kylinos.cn/support) 和 <https://www.uniontech.com/>，"
        "以及 https://www.wps.cn/ 与 [协议相对](//example.com/x)。\n\n"
        "本站：[另一篇](/articles/other) · [锚点](#h-说明) · [邮件](mailto:help@example.com)\n\n"
        "![截图](/static/screenshot.png)\n"
    )
    slug = site["publish"]("links", body=body)
    html = site["client"].get(f"/api/v1/articles/{slug}").get_json()["html"]
    parser = Tags()
    parser.feed(html)
    links = {attrs["href"]: attrs.get("rel") for tag, attrs in parser.tags if tag == "a"}
    for external in (
        "https://www.kylinos.cn/support",
        "https://www.uniontech.com/",
        "https://www.wps.cn/",
        "//example.com/x",
    ):
        assert links[external] == "noopener noreferrer nofollow", external
    assert links["/articles/other"] is None
    assert links["#h-说明"] is None
    assert links["mailto:help@example.com"] is None
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert images == [{"alt": "截图", "src": "/static/screenshot.png"}]


def test_table_of_contents_shows_heading_text_once_escaped(site):
    body = "## A & B <x>\n\n正文。\n\n## 第二节\n\n正文。\n\n## 第三节\n\n正文。\n"
    slug = site["publish"]("toc-escape", body=body)
    page = site["client"].get(f"/articles/{slug}").get_data(as_text=True)
    toc = page[
        page.index('<nav class="toc">') : page.index("</nav>", page.index('<nav class="toc">'))
    ]
    assert "A &amp; B &lt;x&gt;" in toc
    assert "&amp;amp;" not in toc and "&amp;lt;" not in toc


PATHOLOGICAL = [
    ("nested-brackets", "[" * 10_000 + "x" + "]" * 10_000),
    ("nested-links", "[a" * 10_000 + "](x)" * 10_000),
    ("nested-parens", "[a](" + "(" * 10_000 + ")" * 10_000),
    # near the 200 KB body limit: bleach's linkifier took minutes on this (quadratic)
    ("parens-at-size-limit", "见 https://a.example/ [a](" + "(" * 90_000 + ")" * 90_000),
    ("nested-list-indented", "\n".join("\t" * i + f"- 第 {i} 层" for i in range(500))),
    ("nested-list-one-line", "- " * 500 + "x"),
    ("nested-ordered-one-line", "1. " * 500 + "x"),
    ("nested-quote", "> " * 500 + "x"),
    ("nested-quote-list", "> - " * 500 + "x"),
    ("nested-emphasis", "*" * 10_000 + "x" + "*" * 10_000),
    ("many-angles", "<" * 10_000),
]


@pytest.mark.parametrize(("name", "body"), PATHOLOGICAL, ids=[n for n, _ in PATHOLOGICAL])
def test_pathological_markdown_renders_in_bounded_time(site, name, body):
    from kb import render

    render.render.cache_clear()
    slug = site["publish"](f"patho-{name}", body=body)
    started = time.process_time()
    page = site["client"].get(f"/articles/{slug}")
    api = site["client"].get(f"/api/v1/articles/{slug}")
    elapsed = time.process_time() - started
    assert page.status_code == 200 and api.status_code == 200
    assert_safe(api.get_json()["html"], where=name)
    assert elapsed < 8, f"{name} took {elapsed:.1f} s"
