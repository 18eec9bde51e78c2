"""KB-LINK: internal links to articles that exist, images that exist and can be shown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from kb.checker.context import CheckContext
from kb.checker.document import Document
from kb.checker.registry import Rule, rule
from kb.checker.report import Finding
from kb.frontmatter import SLUG_RE

_ARTICLE = re.compile(r"/articles/([^/?#]*)/?(?:[?#].*)?$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]{0,20}:")


@rule("KB-LINK-001", "error", "站内链接指向不存在的文章")
def internal_links(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for link in doc.links:
        if link.image:
            continue
        m = _ARTICLE.match(link.url)
        if m is None:
            continue
        slug = unquote(m.group(1))
        if not SLUG_RE.match(slug):
            yield r.at(
                f"站内链接“{link.url[:80]}”的文章标识不合法。标识只含小写字母、数字和 -，"
                "请从目标文章的地址栏复制 /articles/<标识>。",
                link.line,
                link.column,
            )
        elif ctx.known_slugs is not None and slug != ctx.self_slug and slug not in ctx.known_slugs:
            yield r.at(
                f"站内链接指向的文章“{slug}”不存在。请核对标识，或先创建那篇文章；读者点开会看到“文章不存在”。",
                link.line,
                link.column,
            )


@rule("KB-LINK-002", "error", "图片文件不存在")
def relative_images(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    if ctx.base_dir is None:
        return
    base = ctx.base_dir
    for link in doc.links:
        if (
            not link.image
            or not link.url
            or _SCHEME.match(link.url)
            or link.url.startswith(("/", "#"))
        ):
            continue
        path = unquote(urlsplit(link.url).path)
        try:
            exists = (base / path).is_file()
        except (OSError, ValueError):
            exists = False
        if not exists:
            yield r.at(
                f"图片“{link.url[:80]}”找不到（相对于文章所在目录）。请核对文件名和路径，或把图片放到该位置。",
                link.line,
                link.column,
            )


@rule("KB-LINK-003", "warning", "外部图片不会显示")
def remote_images(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for link in doc.links:
        if link.image and (_SCHEME.match(link.url) or link.url.startswith("//")):
            yield r.at(
                "图片引用了外部网址，知识库不会显示外部图片（读者的浏览器不应访问作者指定的网站）。"
                "请把图片下载后随文章一起上传，用相对路径引用。",
                link.line,
                link.column,
            )


@rule("KB-LINK-004", "warning", "链接写法不规范")
def link_form(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for link in doc.links:
        if link.image:
            continue
        if not link.url.strip():
            yield r.at(
                "链接没有填写地址：[文字]() 。请补上地址，或去掉方括号。", link.line, link.column
            )
            continue
        path = urlsplit(link.url).path
        if not _SCHEME.match(link.url) and path.endswith(".md"):
            slug = path.rsplit("/", 1)[-1][:-3].lower()
            yield r.at(
                f"链接写成了文件名“{link.url[:80]}”，发布后无法打开。"
                "站内文章请写作 /articles/<标识>。",
                link.line,
                link.column,
                fix=f"/articles/{slug}",
            )
