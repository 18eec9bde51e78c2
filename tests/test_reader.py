"""The reader's side: 登录后可查看 instead of 404 for 登录可见 articles, related articles scoped
by permission, the last-change date, 最近更新 by date, China time, the Atom feed (public only),
the self-contained HTML download and the favicon."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from kb.web import localtime
from tests.conftest import GOOD_BODY, get_article, login

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$")


def page(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def test_a_visitor_gets_a_sign_in_page_for_a_registered_article_and_comes_back(
    app, client, make_article
):
    slug = make_article(
        slug="vpn-config", title="单位 VPN 客户端的配置方法", visibility="registered"
    )
    response = client.get(f"/articles/{slug}")
    shown = page(response)
    assert response.status_code == 401
    assert "登录后可查看" in shown
    assert "单位 VPN 客户端的配置方法" not in shown  # the title is withheld
    link = re.search(r'class="button" href="(/login\?next=[^"]+)"', shown)
    assert link, "the page links to the sign-in form"
    target = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)["next"][0]
    assert target == f"/articles/{slug}"
    # signing in through that link lands on the article
    signed = client.post(
        "/login", data={"username": "reader", "password": "correct-horse-battery", "next": target}
    )
    assert signed.status_code == 302 and signed.headers["Location"].endswith(f"/articles/{slug}")
    assert "单位 VPN 客户端的配置方法" in page(client.get(f"/articles/{slug}"))


def test_restricted_drafts_and_missing_articles_still_answer_404(client, make_article):
    restricted = make_article(slug="secret-fix", title="受限的处理方法", visibility="restricted")
    draft = make_article(status="draft", slug="draft-fix", visibility="registered")
    for slug in (restricted, draft, "no-such-article"):
        response = client.get(f"/articles/{slug}")
        assert response.status_code == 404, slug
        assert "登录后可查看" not in page(response) and "受限的处理方法" not in page(response)


def test_related_articles_share_the_topic_and_respect_who_may_read(app, make_article, login_as):
    common = dict(category="打印与扫描", products=["惠普 LaserJet M1136"])
    base = make_article(slug="m1136-offline", title="惠普 M1136 打印机脱机的处理", **common)
    make_article(slug="m1136-driver", title="惠普 M1136 打印机驱动安装与脱机排查", **common)
    make_article(
        slug="m1136-queue", title="惠普 M1136 打印队列卡住与脱机", visibility="registered", **common
    )
    make_article(
        slug="m1136-other-ent",
        title="惠普 M1136 打印机脱机的企业内部说明",
        owner="other",
        visibility="restricted",
        **common,
    )
    make_article(  # same words, other category and brand: not the same topic
        slug="scanner-offline",
        title="扫描仪脱机的处理",
        category="外部设备",
        products=["得力 扫描仪"],
    )

    def related(client) -> set[str]:  # type: ignore[no-untyped-def]
        shown = page(client.get(f"/articles/{base}"))
        section = (
            shown.split("<h2>相关文章</h2>", 1)[1].split("</section>", 1)[0]
            if "相关文章" in shown
            else ""
        )
        return set(re.findall(r'href="/articles/([a-z0-9-]+)"', section))

    anonymous = related(app.test_client())
    assert anonymous == {"m1136-driver"}
    assert related(login_as("reader")) == {"m1136-driver", "m1136-queue"}
    assert related(login_as("editor2")) == {"m1136-driver", "m1136-queue", "m1136-other-ent"}


def test_article_page_shows_when_it_last_changed_in_china_time(app, client, make_article):
    slug = make_article(slug="printer-offline")
    published = get_article(app, slug).published_at
    shown = page(client.get(f"/articles/{slug}"))
    china = published.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")
    assert f'<dt>最后更新</dt><dd><time datetime="{published.isoformat()}">{china}</time>' in shown


def test_one_date_filter_shows_china_time():
    evening_utc = datetime(2026, 1, 1, 17, 30, tzinfo=UTC)
    assert localtime(evening_utc) == "2026-01-02 01:30"
    assert localtime("2026-01-01T17:30:00+00:00", "%Y-%m-%d") == "2026-01-02"  # search hits
    assert localtime(None) == "" and localtime("not a date") == ""


def test_home_lists_recent_updates_newest_first_with_dates(app, client, make_article, login_as):
    for slug in ("zz-first", "aa-second", "mm-third"):  # slug order is not date order
        make_article(slug=slug, title=f"文章 {slug}")
    home = page(client.get("/"))
    section = home.split("<h2>最近更新", 1)[1]
    order = re.findall(r'href="/articles/([a-z-]+)"', section)
    assert order[:3] == ["mm-third", "aa-second", "zz-first"]
    first = get_article(app, "mm-third").published_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f">{first:%Y-%m-%d}</time>" in section


def test_atom_feed_is_valid_and_lists_only_public_articles(app, client, make_article):
    make_article(slug="public-one", title="公开文章一")
    make_article(slug="public-two", title="公开文章二 <b>&</b>")
    make_article(slug="for-members", title="登录可见文章", visibility="registered")
    make_article(slug="for-few", title="受限文章", visibility="restricted")
    make_article(status="draft", slug="not-yet", title="草稿文章")
    response = client.get("/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author"):  # RFC 4287 4.1.1
        assert root.find(f"{ATOM}{tag}") is not None, tag
    assert root.find(f"{ATOM}link[@rel='self']").get("href").endswith("/feed.atom")
    entries = root.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles == ["公开文章二 <b>&</b>", "公开文章一"]  # newest first, text escaped by XML
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids) and all(i.startswith("http") for i in ids)
    for entry in entries:
        assert RFC3339.match(entry.findtext(f"{ATOM}updated"))
        assert (
            entry.find(f"{ATOM}link[@rel='alternate']")
            .get("href")
            .endswith("/articles/" + entry.findtext(f"{ATOM}id").rsplit("/", 1)[1])
        )
    assert RFC3339.match(root.findtext(f"{ATOM}updated"))
    # signed in or not, the feed is the public one
    assert (
        b"\xe7\x99\xbb\xe5\xbd\x95\xe5\x8f\xaf\xe8\xa7\x81" not in response.get_data()
    )  # 登录可见
    signed = login(app.test_client(), "curator").get("/feed.atom")
    assert [
        e.findtext(f"{ATOM}title") for e in ET.fromstring(signed.get_data()).findall(f"{ATOM}entry")
    ] == titles


def test_html_download_is_one_self_contained_page(client, make_article):
    body = GOOD_BODY.replace(
        "## 参考资料",
        "见 [另一篇文章](/articles/other) 与截图：\n\n"
        "![打印机状态窗口](/static/shot.png)\n\n## 参考资料",
    )
    slug = make_article(
        slug="printer-offline", title="打印机脱机的处理", body="# 打印机脱机的处理\n\n" + body
    )
    shown = page(client.get(f"/articles/{slug}"))
    assert 'href="/articles/printer-offline/download.html"' in shown and "下载 Markdown" in shown
    response = client.get(f"/articles/{slug}/download.html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'filename="printer-offline.html"' in response.headers["Content-Disposition"]
    html = page(response)
    assert "<style>" in html and 'rel="stylesheet"' not in html
    assert not re.search(r"<(?:script|img|link|iframe)\b", html)  # nothing to fetch
    assert not re.search(r'\bsrc="', html)
    assert "［图片：打印机状态窗口］" in html
    assert 'href="http://localhost/articles/other"' in html  # links still lead home
    assert html.count("打印机脱机的处理</h1>") == 1  # the body's title H1 is not repeated
    assert "lpstat -p" in html


def test_favicon_is_served_locally(client):
    home = page(client.get("/"))
    icon = re.search(r'<link rel="icon" href="([^"]+)"', home).group(1)
    assert icon.startswith("/static/")
    with client.get(icon) as response:  # a file response: closed, or it leaks the handle
        assert response.status_code == 200 and b"<svg" in response.get_data()
    assert client.get("/favicon.ico").headers["Location"].endswith(icon)
