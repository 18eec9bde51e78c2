"""The Atom feed (RFC 4287) of new and updated public articles, served at /feed.atom.

Built with ElementTree so every text is escaped by the XML writer. Entry ids are the
articles' addresses (permanent: a slug never changes); ``updated`` is when the version now
online was published, so a feed reader shows a revised article again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from kb.models import Article

NS = "http://www.w3.org/2005/Atom"
TITLE = "广西信创服务保障知识库 · 最近更新"
AUTHOR = "广西壮族自治区数据局"


def _rfc3339(value: datetime | None) -> str:
    value = value or datetime.now(UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def feed(
    articles: Iterable[Article],
    *,
    self_url: str,
    home_url: str,
    url_of: Callable[[Article], str],
) -> bytes:
    """The feed document for ``articles`` (already limited to public, newest first)."""
    ET.register_namespace("", NS)
    items = list(articles)
    root = ET.Element(f"{{{NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "zh-CN"})
    _sub(root, "id", self_url)
    _sub(root, "title", TITLE)
    _sub(root, "subtitle", "入围企业提供、自治区数据局审核发布的信创产品问题解决办法")
    _sub(
        root,
        "updated",
        _rfc3339(max((a.published_at for a in items if a.published_at), default=None)),
    )
    _sub(root, "link", rel="self", href=self_url, type="application/atom+xml")
    _sub(root, "link", rel="alternate", href=home_url, type="text/html")
    author = _sub(root, "author")
    _sub(author, "name", AUTHOR)
    for article in items:
        entry = _sub(root, "entry")
        url = url_of(article)
        _sub(entry, "id", url)
        _sub(entry, "title", article.title)
        _sub(entry, "link", rel="alternate", href=url, type="text/html")
        _sub(entry, "updated", _rfc3339(article.published_at or article.updated_at))
        entry_author = _sub(entry, "author")
        _sub(entry_author, "name", article.owner.name)
        _sub(entry, "category", term=article.category, label=article.category)
        _sub(entry, "category", term=article.type, label=article.type)
        _sub(entry, "summary", article.summary or article.title)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
