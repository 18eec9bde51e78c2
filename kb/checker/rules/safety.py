"""KB-SAFE: raw HTML the renderer would not show as written.

The renderer shows raw HTML as escaped text and bleach strips what is left, so nothing here can
run in a reader's browser; these rules make sure the author sees what would be lost rather
than losing it silently. Dangerous markup (script, iframes, event handlers, ``javascript:``
links) is an error; other tags are a warning that they will appear as plain text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

from kb.checker.context import CheckContext
from kb.checker.document import Document, Line, mask_code
from kb.checker.registry import Rule, rule
from kb.checker.report import Finding

DANGEROUS_TAGS = frozenset(
    "script iframe frame frameset object embed applet style link meta base form input button "
    "textarea select svg math template noscript portal".split()
)
HTML_TAGS = frozenset(
    "a abbr address article aside audio b bdi bdo big blockquote body br caption center cite code "
    "col colgroup dd del details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 h5 h6 "
    "head header hr html i img ins kbd label legend li main mark nav ol p picture pre q s samp "
    "section small source span strike strong sub summary sup table tbody td tfoot th thead time "
    "title tr tt u ul var video wbr".split()
)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9\-]{0,30})(?=[\s>/])([^<>\n]{0,2000})(>?)")
_EVENT_ATTR = re.compile(r"(?i)(?:^|[\s/\"'])(on[a-z]{3,30})[ \t]*=")
_URL_ATTR = re.compile(
    r"(?i)(?:href|src|action|formaction|xlink:href)[ \t]*=[ \t]*[\"']?([^\"'\s>]{0,200})"
)
_LINK_TARGET = re.compile(r"\]\([ \t]*<?([^)\s>]{0,200})")
_REF_DEFINITION = re.compile(r"[ \t]{0,3}\[[^\[\]\n]{1,200}\]:[ \t]*<?([^\s>]{0,200})")
_COMMENT = re.compile(r"<!--")
_BAD_SCHEME = ("javascript:", "vbscript:", "data:text/html", "data:image/svg", "livescript:")


def _lines(doc: Document) -> Iterator[tuple[Line, str]]:
    """Body lines outside code, with inline code masked (code shows markup as written)."""
    for ln in doc.prose_lines():
        if "<" in ln.raw or ":" in ln.raw or "](" in ln.raw or "&#" in ln.raw:
            yield ln, mask_code(ln.raw)


def _bad_url(url: str) -> bool:
    cleaned = re.sub(r"[\x00-\x20]", "", html.unescape(url[:200])).lower()
    return cleaned.startswith(_BAD_SCHEME)


@rule("KB-SAFE-001", "error", "危险的 HTML 标签")
def dangerous_tags(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for ln, text in _lines(doc):
        for m in _TAG.finditer(text):
            name = m.group(2).lower()
            if name in DANGEROUS_TAGS and not m.group(1):
                yield r.at(
                    f"正文中有 <{name}> 标签。知识库不执行原始 HTML，它会被当作文字原样显示，"
                    "读者看到的是一串代码。请删除；如果是要展示这段代码，请放进代码块（```）。",
                    ln.no,
                    m.start() + 1,
                )


@rule("KB-SAFE-002", "error", "HTML 事件属性")
def event_attributes(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for ln, text in _lines(doc):
        for m in _TAG.finditer(text):
            event = _EVENT_ATTR.search(m.group(3))
            if event and m.group(2).lower() not in DANGEROUS_TAGS:
                yield r.at(
                    f"HTML 标签 <{m.group(2)}> 带有事件属性 {event.group(1)}，"
                    "这是脚本代码，不会被执行，"
                    "会原样显示给读者。请删除这段 HTML，用 Markdown 写内容。",
                    ln.no,
                    m.start() + 1,
                )


@rule("KB-SAFE-003", "error", "javascript: 等脚本链接")
def script_links(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for ln, text in _lines(doc):
        candidates = [(m.start(), m.group(1)) for m in _LINK_TARGET.finditer(text)]
        candidates += [(m.start(), m.group(1)) for m in _URL_ATTR.finditer(text)]
        m = _REF_DEFINITION.match(text)
        if m:
            candidates.append((m.start(), m.group(1)))
        for start, url in candidates:
            if _bad_url(url):
                yield r.at(
                    "链接指向 javascript: 等脚本地址，发布时会被清除，读者点击没有任何反应。"
                    "请改为 http(s) 网址或站内链接 /articles/<标识>。",
                    ln.no,
                    start + 1,
                )


@rule("KB-SAFE-004", "warning", "原始 HTML 不会生效")
def raw_html(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for ln, text in _lines(doc):
        for m in _TAG.finditer(text):
            name = m.group(2).lower()
            if name in DANGEROUS_TAGS or name not in HTML_TAGS or _EVENT_ATTR.search(m.group(3)):
                continue
            hint = (
                "加粗请用 **文字**"
                if name in ("u", "b", "strong", "font", "mark")
                else ("换行请直接空一行分段" if name == "br" else "请改用 Markdown 写法")
            )
            yield r.at(
                f"原始 HTML 标签 <{m.group(1)}{name}> 不会生效，会作为文字原样显示。{hint}。",
                ln.no,
                m.start() + 1,
            )
            break  # one per line is enough to show the author
        for m in _COMMENT.finditer(text):
            yield r.at(
                "HTML 注释（<!-- -->）不会被隐藏，会原样显示给读者。请删除注释。",
                ln.no,
                m.start() + 1,
            )
            break
