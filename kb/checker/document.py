"""A line-level reading of an article source that every rule shares.

Rules need positions in the whole source (front matter included), so this is a small
line scanner rather than a Markdown renderer: it classifies each body line (heading, list item,
fenced or indented code, table, text), groups text into blocks, masks inline code and URLs in a
"prose" copy of each line (same length, so columns stay true), and lists links and images.

Every pattern here is linear: each bounded repeat excludes the delimiter that would let the
engine restart inside it, and anything that could nest is parsed with string operations.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kb import frontmatter

MASK = "\ue000"  # stands in for inline code and URLs in prose: not CJK, not Latin, not space

_FENCE_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,})([^`\n]*)$")
_ORDERED = re.compile(r"([ \t]*)(\d{1,9})([.)、])(?:[ \t]+|$)")
_BULLET = re.compile(r"([ \t]*)([-*+])(?:[ \t]+|$)")
_HEADING = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)")
_BACKTICKS = re.compile(r"`+")
_URL = re.compile(r"(?:https?|ftp|file)://[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]{1,2000}")
_LINK = re.compile(
    r"(!?)\[([^\[\]\n]{0,500})\]\(([^()\s\[\]]{0,1000})(?:[ \t]+\"[^\"\n]{0,300}\")?\)"
)
_LINK_TARGET = re.compile(r"\]\(([^()\s\[\]]{0,1000}(?:[ \t]+\"[^\"\n]{0,300}\")?)\)")
_KEY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]{0,40})[ \t]*:")
_MARKERS = frozenset("#-*+_|>")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+#-]{0,100}")


@dataclass(slots=True)
class Line:
    """One line of the body, classified."""

    no: int  # 1-based line in the whole source
    raw: str
    kind: str  # blank | heading | item | text | code | table | rule | quote
    prose: str = ""  # raw with inline code and URLs masked; "" for code lines
    level: int = 0  # heading level, or list nesting depth (by indentation)
    ordered: bool = False
    number: int | None = None  # the number written on an ordered item
    content_col: int = 0  # 0-based column where the line's content starts (after any marker)

    @property
    def content(self) -> str:
        return self.prose[self.content_col :]


@dataclass(slots=True)
class Link:
    line: int
    column: int  # 1-based
    text: str
    url: str
    image: bool


@dataclass
class Block:
    """Consecutive lines read as one unit: a paragraph, a list item with its continuation, …"""

    kind: str  # paragraph | item | heading | table
    lines: list[Line]
    _text: tuple[str, list[tuple[int, int, int]]] | None = field(default=None, repr=False)

    @property
    def first(self) -> Line:
        return self.lines[0]

    def text(self) -> tuple[str, list[tuple[int, int, int]]]:
        """The block's prose joined without separators, with (offset, line, column) anchors."""
        if self._text is None:
            parts: list[str] = []
            anchors: list[tuple[int, int, int]] = []
            offset = 0
            for ln in self.lines:
                content = ln.prose[ln.content_col :]
                chunk = content.strip()
                lead = len(content) - len(content.lstrip())
                anchors.append((offset, ln.no, ln.content_col + lead + 1))
                parts.append(chunk)
                offset += len(chunk)
            self._text = ("".join(parts), anchors)
        return self._text


def position(anchors: list[tuple[int, int, int]], offset: int) -> tuple[int, int]:
    """Source (line, column) of a character offset in a block's joined text."""
    i = max(bisect.bisect_right(anchors, (offset, 1 << 62, 0)) - 1, 0)
    start, line, col = anchors[i]
    return line, col + max(offset - start, 0)


@dataclass
class Section:
    """A ``##`` section with everything under it (deeper headings included)."""

    heading: Line | None  # None for text before the first heading
    lines: list[Line] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.heading.content.strip() if self.heading else ""


def cjk_count(text: str) -> int:
    return len(_CJK.findall(text))


def substance(text: str) -> int:
    """Length as a reader feels it: Chinese characters plus Latin words."""
    stripped = _CJK.sub(" ", text.replace(MASK, " "))
    return cjk_count(text) + len(_LATIN_WORD.findall(stripped))


def code_spans(raw: str) -> list[tuple[int, int]]:
    """(start, end) of inline code spans: a backtick run closed by the next run of equal length."""
    if "`" not in raw:
        return []
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(raw)]
    by_len: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(runs):
        by_len.setdefault(b - a, []).append(i)
    cursor: dict[int, int] = {}
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        a, b = runs[i]
        queue = by_len[b - a]
        k = cursor.get(b - a, 0)
        while k < len(queue) and queue[k] <= i:
            k += 1
        cursor[b - a] = k
        if k < len(queue):
            j = queue[k]
            spans.append((a, runs[j][1]))
            i = j + 1
        else:
            i += 1
    return spans


def _mask(chars: list[str], spans: list[tuple[int, int]]) -> None:
    for a, b in spans:
        chars[a:b] = MASK * (b - a)


def mask_code(raw: str) -> str:
    """The line with inline code spans masked (URLs kept: links are read from this)."""
    spans = code_spans(raw)
    if not spans:
        return raw
    chars = list(raw)
    _mask(chars, spans)
    return "".join(chars)


def mask_prose(raw: str) -> str:
    """Mask inline code spans, link targets and URLs with MASK, keeping the length."""
    if "`" not in raw and "://" not in raw and "](" not in raw:
        return raw
    chars = list(raw)
    _mask(chars, code_spans(raw))
    if "](" in raw:
        _mask(chars, [m.span(1) for m in _LINK_TARGET.finditer("".join(chars))])
    if "://" in raw:
        _mask(chars, [m.span() for m in _URL.finditer("".join(chars))])
    return "".join(chars)


class Document:
    """An article source read once for all rules."""

    def __init__(self, text: str) -> None:
        self.source = text
        self.lines = text.split("\n")
        self._line_starts: list[int] | None = None
        parts = frontmatter.split(text)
        self.meta: dict[str, Any] | None = parts.meta
        self.meta_error = parts.error
        self.has_front_matter = bool(self.lines) and self.lines[0].lstrip("\ufeff").strip() == "---"
        self.body_line = parts.body_line  # 1-based line where the body starts
        self.body = parts.body
        self.body_lines: list[Line] = []
        self.links: list[Link] = []
        self._scan()
        self.blocks = self._blocks()
        self.sections = self._sections()

    # ---- front matter ----------------------------------------------------------------------

    def meta_line(self, key: str) -> int:
        """The source line of a front matter key, or 1 when it is not written."""
        if not self.has_front_matter:
            return 1
        for i in range(1, min(self.body_line - 1, len(self.lines))):
            m = _KEY_LINE.match(self.lines[i])
            if m and m.group(1) == key:
                return i + 1
        return 1

    def meta_value(self, key: str) -> Any:
        return (self.meta or {}).get(key)

    @property
    def type(self) -> str:
        value = self.meta_value("type")
        return value.strip() if isinstance(value, str) else ""

    def review_by(self) -> date | None:
        value = self.meta_value("review_by")
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                return None
        return None

    def meta_list(self, key: str) -> list[str]:
        value = self.meta_value(key)
        if isinstance(value, str):
            return [v for v in re.split(r"[,，、]\s*", value) if v.strip()]
        if isinstance(value, list):
            return [str(v) for v in value if isinstance(v, str | int | float) and str(v).strip()]
        return []

    # ---- body ------------------------------------------------------------------------------

    def _scan(self) -> None:
        start = self.body_line - 1
        fence: tuple[str, int] | None = None  # (marker char, length) of the open fence
        in_list = False
        prev_blank = True
        indented_code = False
        for idx in range(start, len(self.lines)):
            raw = self.lines[idx]
            no = idx + 1
            if fence is not None:
                stripped = raw.strip()
                char, size = fence
                if stripped and set(stripped) == {char} and len(stripped) >= size:
                    fence = None
                self.body_lines.append(Line(no, raw, "code"))
                continue
            m = _FENCE_OPEN.match(raw)
            if m:
                marker = m.group(1)
                fence = (marker[0], len(marker))
                self.body_lines.append(Line(no, raw, "code"))
                prev_blank = False
                continue
            if not raw.strip():
                self.body_lines.append(Line(no, raw, "blank"))
                prev_blank = True
                continue
            indent = len(raw) - len(raw.lstrip(" \t"))
            expanded = len(raw[:indent].expandtabs(4))
            if indented_code and expanded >= 4:
                self.body_lines.append(Line(no, raw, "code"))
                continue
            indented_code = False
            if expanded >= 4 and prev_blank and not in_list:
                indented_code = True
                self.body_lines.append(Line(no, raw, "code"))
                continue
            prev_blank = False
            prose = mask_prose(raw)
            line = self._classify(no, raw, prose, indent)
            if line.kind == "item":
                in_list = True
            elif line.kind in ("heading", "rule") or (line.kind == "text" and indent == 0):
                in_list = False
            self.body_lines.append(line)
            self._collect_links(line)

    def _classify(self, no: int, raw: str, prose: str, indent: int) -> Line:
        lead = raw[indent : indent + 1]
        if lead not in _MARKERS and not lead.isdigit():
            return Line(no, raw, "text", prose, content_col=indent)
        m = _HEADING.match(raw) if lead == "#" else None
        if m:
            content_col = m.end()
            return Line(no, raw, "heading", prose, level=len(m.group(1)), content_col=content_col)
        stripped = raw.strip()
        if len(stripped) >= 3 and set(stripped.replace(" ", "")) in ({"-"}, {"*"}, {"_"}):
            return Line(no, raw, "rule", prose)
        m = _ORDERED.match(raw)
        if m and m.group(3) != "、":
            return Line(
                no,
                raw,
                "item",
                prose,
                level=indent,
                ordered=True,
                number=int(m.group(2)),
                content_col=m.end(),
            )
        m = _BULLET.match(raw)
        if m:
            return Line(no, raw, "item", prose, level=indent, content_col=m.end())
        if stripped.startswith("|"):
            return Line(no, raw, "table", prose, content_col=indent)
        if stripped.startswith(">"):
            body = raw.lstrip(" \t")
            depth = len(body) - len(body.lstrip("> \t"))
            return Line(no, raw, "quote", prose, content_col=indent + depth)
        return Line(no, raw, "text", prose, content_col=indent)

    def _collect_links(self, line: Line) -> None:
        if "](" not in line.raw:
            return
        # links are read from the line with only inline code masked, so URLs are intact
        for m in _LINK.finditer(mask_code(line.raw)):
            self.links.append(
                Link(line.no, m.start() + 1, m.group(2), m.group(3), image=m.group(1) == "!")
            )

    def _blocks(self) -> list[Block]:
        blocks: list[Block] = []
        current: Block | None = None
        for ln in self.body_lines:
            if ln.kind in ("blank", "code", "rule"):
                current = None
                continue
            if ln.kind == "heading":
                blocks.append(Block("heading", [ln]))
                current = None
                continue
            if ln.kind == "table":
                if current is None or current.kind != "table":
                    current = Block("table", [])
                    blocks.append(current)
                current.lines.append(ln)
                continue
            if ln.kind == "item":
                current = Block("item", [ln])
                blocks.append(current)
                continue
            # text or quote: continues the open paragraph or list item
            if current is None or current.kind == "table":
                current = Block("paragraph", [])
                blocks.append(current)
            current.lines.append(ln)
        return blocks

    def _sections(self) -> list[Section]:
        sections = [Section(None)]
        for ln in self.body_lines:
            if ln.kind == "heading" and ln.level <= 2:
                sections.append(Section(ln))
                continue
            sections[-1].lines.append(ln)
        return sections

    # ---- helpers for rules -----------------------------------------------------------------

    def locate(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset in the source."""
        if self._line_starts is None:
            starts = [0]
            find = self.source.find
            at = find("\n")
            while at >= 0:
                starts.append(at + 1)
                at = find("\n", at + 1)
            self._line_starts = starts
        i = bisect.bisect_right(self._line_starts, offset) - 1
        return i + 1, offset - self._line_starts[i] + 1

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    def prose_lines(self) -> list[Line]:
        """Body lines a reader reads as text (no code, no blanks)."""
        return [ln for ln in self.body_lines if ln.kind not in ("code", "blank", "rule")]

    def headings(self) -> list[Line]:
        return [ln for ln in self.body_lines if ln.kind == "heading"]
