"""Markdown → safe HTML: the only module that turns user text into Markup.

Two layers, because either alone has failed before: Python-Markdown runs with raw HTML
switched off (an author's ``<script>`` is shown as text, and the checker tells them), then
bleach keeps only an allow-list of tags, attributes and URL schemes, built once at import.
Inputs that make Python-Markdown quadratic or recursive are defused first.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

import bleach
import markdown
from bleach.html5lib_shim import Filter
from markdown.extensions.toc import slugify_unicode
from markupsafe import Markup, escape

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "hr",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "em",
        "u",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "img",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "sup",
        "sub",
        "kbd",
    }
)
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto"})
HEADING_ID_PREFIX = "h-"
_LANG_CLASS = re.compile(r"^language-[A-Za-z0-9_+-]{1,30}$")
_HEADING_ID = re.compile(r"^h-[\w-]{1,100}$")
_MAX_BRACKETS_PER_BLOCK = 64
_MAX_INDENT = 48
_MAX_QUOTE_DEPTH = 16


def _is_local_url(value: str) -> bool:
    """True for a path on this site: no scheme, no host, not protocol-relative."""
    # Read it as a browser does: it drops tabs and newlines, strips control characters and
    # spaces at the ends, and treats "\\" as "/" (so "\\/host" and "/\\host" mean "//host").
    value = re.sub(r"[\t\n\r]", "", value).strip("\x00- ").replace("\\", "/")
    if value.startswith("//"):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def _allow_attribute(tag: str, name: str, value: str) -> bool:
    if tag == "a":
        if name == "href":
            return True  # bleach checks the scheme against ALLOWED_PROTOCOLS
        if name == "title":
            return True
        return name == "class" and value == "headerlink"
    if tag == "img":
        if name == "src":
            # a remote image would make every reader's browser fetch an author-chosen URL
            return _is_local_url(value)
        return name in {"alt", "title"}
    if tag == "ol":
        return name == "start" and value.isdigit() and len(value) < 6
    if tag in {"th", "td"}:
        return name == "align" and value in {"left", "right", "center"}
    if tag == "code":
        return name == "class" and bool(_LANG_CLASS.match(value))
    if tag in {"h2", "h3", "h4", "h5", "h6"}:
        return name == "id" and bool(_HEADING_ID.match(value))
    return False


class _ExternalLinks(Filter):
    """Adds rel="noopener noreferrer nofollow" to links that leave the site.

    A token filter, linear in the input: bleach's LinkifyFilter was measured quadratic on
    parentheses here (40,000 pairs took 22 s), so bare URLs are linked by pymdownx.magiclink
    inside Markdown instead.
    """

    def __iter__(self):  # type: ignore[no-untyped-def]
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] == "a":
                attrs = dict(token.get("data") or {})
                href = attrs.get((None, "href"), "")
                if href and not _is_local_url(href) and not href.startswith("mailto:"):
                    attrs[(None, "rel")] = "noopener noreferrer nofollow"
                    token["data"] = attrs
            yield token


_CLEANER = bleach.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=_allow_attribute,
    protocols=ALLOWED_PROTOCOLS,
    strip=True,
    strip_comments=True,
    filters=[_ExternalLinks],
)


def _slugify(value: str, separator: str) -> str:
    return HEADING_ID_PREFIX + slugify_unicode(value, separator)


def _new_markdown() -> markdown.Markdown:
    md = markdown.Markdown(
        # superfences, unlike fenced_code, allows code blocks inside numbered steps
        extensions=["tables", "pymdownx.superfences", "toc", "sane_lists", "pymdownx.magiclink"],
        extension_configs={
            "pymdownx.highlight": {"use_pygments": False},
            "toc": {"slugify": _slugify, "permalink": False, "toc_depth": "2-3"},
            "tables": {"use_align_attribute": True},
        },
        output_format="html",
    )
    # Raw HTML would otherwise pass straight through Markdown; shown as text instead.
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    return md


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def defuse(text: str) -> str:
    """Neutralise inputs that make Python-Markdown slow (nested brackets) or recurse (nesting).

    Normal articles pass through unchanged; only pathological blocks lose link syntax or
    nesting depth, which no real article needs.
    """
    out: list[str] = []
    block: list[str] = []
    in_fence = False

    def flush() -> None:
        if block:
            chunk = "\n".join(block)
            # Full-width brackets, not backslash escapes: Python-Markdown's escape handling is
            # itself quadratic (20,000 escapes took 7 s). Without brackets there is no link
            # syntax left to scan, so the parentheses of a link destination may stay.
            if (
                chunk.count("[") > _MAX_BRACKETS_PER_BLOCK
                or chunk.count("(") > 4 * _MAX_BRACKETS_PER_BLOCK
            ):
                chunk = chunk.replace("[", "［").replace("]", "］")
            out.append(chunk)
            block.clear()

    for line in text.split("\n"):
        if _FENCE.match(line):
            flush()
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        if not line.strip():
            flush()
            out.append(line)
            continue
        expanded = line.expandtabs(4)
        indent = len(expanded) - len(expanded.lstrip(" "))
        if indent > _MAX_INDENT:
            line = " " * _MAX_INDENT + expanded.lstrip(" ")
        stripped = line.lstrip()
        if stripped.startswith(">"):
            depth = len(stripped) - len(stripped.lstrip("> "))
            marks = stripped[:depth].count(">")
            if marks > _MAX_QUOTE_DEPTH:
                line = "> " * _MAX_QUOTE_DEPTH + stripped[depth:]
        block.append(line)
    flush()
    return "\n".join(out)


@dataclass(frozen=True)
class Rendered:
    html: Markup
    toc: tuple[tuple[int, str, str], ...]  # (level, id, text) for h2/h3


@lru_cache(maxsize=512)
def render(text: str, title: str | None = None) -> Rendered:
    """Render Markdown to sanitised HTML with a table of contents.

    With ``title``, a leading ``# <title>`` is dropped: the page already shows the title.
    """
    if title:
        from kb.frontmatter import without_title_heading

        text = without_title_heading(text, title)
    md = _new_markdown()
    try:
        raw = md.convert(defuse(text))
    except RecursionError:
        return Rendered(Markup("<pre>") + escape(text) + Markup("</pre>"), ())
    toc = tuple(_flatten_toc(getattr(md, "toc_tokens", [])))
    return Rendered(Markup(_CLEANER.clean(raw)), toc)


def _flatten_toc(tokens: list[dict]) -> list[tuple[int, str, str]]:
    result: list[tuple[int, str, str]] = []
    for token in tokens:
        # plain text: the template escapes it once (bleach's output would be escaped twice)
        text = html.unescape(bleach.clean(token["name"], tags=set(), strip=True))
        result.append((token["level"], token["id"], text))
        result.extend(_flatten_toc(token.get("children", [])))
    return result


_IMG = re.compile(r"<img\b[^>]*>")
_ALT = re.compile(r'\balt="([^"]*)"')
_LOCAL_HREF = re.compile(r'(<a\b[^>]*?\bhref=")(/[^/"][^"]*|/)(")')


def self_contained(html_: Markup, base_url: str) -> Markup:
    """Sanitised article HTML made fit for a file saved to disk: images (the only resources an
    article loads) become their alt text, links to this site become absolute addresses."""
    base = base_url.rstrip("/")

    def image(match: re.Match[str]) -> str:
        alt = _ALT.search(match.group(0))
        return f'<span class="image">［图片：{alt.group(1) if alt else ""}］</span>'

    text = _IMG.sub(image, str(html_))
    text = _LOCAL_HREF.sub(lambda m: m.group(1) + base + m.group(2) + m.group(3), text)
    return Markup(text)
