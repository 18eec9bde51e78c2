"""KB-READ: sentence and paragraph length, glossary jargon explained, abbreviations explained."""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator

from kb.checker import glossary as glossary_mod
from kb.checker.context import CheckContext
from kb.checker.document import Block, Document, position, substance
from kb.checker.registry import Rule, rule
from kb.checker.report import Finding

_SENTENCE_END = re.compile(r"[。！？!?；;]+")
# sections whose text is a list of sources, not prose to be read
_REFERENCE_HEADING = re.compile(r"参考|相关链接|延伸阅读|附录")
# what may follow a term to explain it: a parenthesis, a colon (definition list), or a phrase
_EXPLAINED_AFTER = re.compile(
    r"[ \t]{0,2}[\u4e00-\u9fff]{0,4}[ \t*_]{0,4}"
    r"(?:[（(]|[:：]|是指|指的是|，?即(?!使|可)|就是|也就是|是一[种个款套类项门])"
)
# "X 是……" defines X when X opens the sentence
_DEFINES = re.compile(r"[ \t*_]{0,3}(?:是|，是)(?!否)")
_SENTENCE_START = re.compile(r"(?:^|[。！？；：:])[ \t*_]*$")
_OPENERS = {"（": "）", "(": ")", "「": "」", "“": "”", "《": "》"}
_ABBREVIATION = re.compile(r"(?<![A-Za-z0-9_.\-/])[A-Z][A-Z0-9]{1,7}(?![A-Za-z0-9_\-])")
# abbreviations every office reader knows, or that are names rather than jargon
COMMON_ABBREVIATIONS = frozenset(
    """
    OK ID PC TV CD DVD USB PDF CPU IT QQ APP PPT CEO FAQ IP HP LED LCD VIP MB KB GB TB AM PM
    WPS UOS WIN DIY SN NO USA AI HTTP URL WWW HTML JPG JPEG PNG GIF BMP TIFF MP3 MP4 AVI ZIP RAR
    EXE TXT CSV AMD JS GHZ MHZ
    """.split()
)


def _prose_blocks(doc: Document) -> Iterator[Block]:
    """Paragraph and list-item blocks outside reference sections."""
    skip = False
    for block in doc.blocks:
        if block.kind == "heading":
            heading = block.first
            if heading.level <= 2:
                skip = bool(_REFERENCE_HEADING.search(heading.content))
            continue
        if not skip and block.kind in ("paragraph", "item"):
            yield block


@rule("KB-READ-001", "warning", "句子过长")
def long_sentences(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    limit = ctx.thresholds.sentence_max_chars
    for block in _prose_blocks(doc):
        text, anchors = block.text()
        if substance(text) <= limit:
            continue
        start = 0
        for m in _SENTENCE_END.finditer(text + "。"):
            sentence = text[start : m.start()]
            size = substance(sentence)
            if size > limit:
                line, column = position(anchors, start)
                yield r.at(
                    f"句子过长（约 {size} 字，建议不超过 {limit} 字）。"
                    "请在适当位置断句，一句话只讲一件事，操作写成分步。",
                    line,
                    column,
                )
            start = m.end()


@rule("KB-READ-002", "warning", "段落过长")
def long_paragraphs(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    limit = ctx.thresholds.paragraph_max_chars
    for block in _prose_blocks(doc):
        text, anchors = block.text()
        size = substance(text)
        if size > limit:
            yield r.at(
                f"段落过长（约 {size} 字，建议不超过 {limit} 字）。请按意思拆成几段，或改为列表。",
                anchors[0][1],
                anchors[0][2],
            )


def _in_link_text(line: str, column: int) -> bool:
    """Is the 0-based column inside the text of a Markdown link on this line?"""
    open_at = line.rfind("[", max(0, column - 500), column + 1)
    if open_at < 0:
        return False
    close_at = line.find("](", column, column + 500)
    return close_at >= 0 and "]" not in line[open_at + 1 : close_at]


def _explained(text: str, start: int, end: int) -> bool:
    """Is the word at text[start:end] explained right there: "词（解释）", "全称（词）", "词：…"?

    A word inside a parenthesis, quotation or book title is part of an explanation, a UI label
    or a document's name: none of these need an explanation of their own.
    """
    if _EXPLAINED_AFTER.match(text, end):
        return True
    if _DEFINES.match(text, end) and _SENTENCE_START.search(text[max(0, start - 6) : start]):
        return True
    return _enclosed(text, start)


def _enclosed(text: str, start: int) -> bool:
    window = text[max(0, start - 40) : start]
    for opener, closer in _OPENERS.items():
        at = window.rfind(opener)
        if at >= 0 and closer not in window[at:]:
            return True
    return False


@rule("KB-READ-003", "warning", "术语首次出现时没有解释")
def jargon_explained(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    gloss = ctx.glossary or glossary_mod.shipped()
    if not len(gloss):
        return
    # what the article is about is named, not explained: its products, OS and title words
    named = " ".join(doc.meta_list("products") + doc.meta_list("os"))
    seen: set[str] = set()
    findings: list[Finding] = []
    names: list[str] = []
    lines = [ln for block in _prose_blocks(doc) for ln in block.lines]
    # one pass of the matcher over all prose (lines joined by newlines), mapped back by offset
    joined = "\n".join(ln.prose for ln in lines)
    starts = list(itertools.accumulate((len(ln.prose) + 1 for ln in lines), initial=0))
    for m in gloss.matches(joined):
        term = gloss.term_of(m.group())
        if term is None or term.term in seen:
            continue
        seen.add(term.term)
        if term.common or any(form in named for form in term.forms):
            continue
        index = bisect.bisect_right(starts, m.start()) - 1
        ln = lines[index]
        start, end = m.start() - starts[index], m.end() - starts[index]
        if _explained(ln.prose, start, end) or _in_link_text(ln.raw, start):
            continue
        names.append(m.group())
        findings.append(
            r.at(
                f"术语“{m.group()}”首次出现时没有解释。请在其后用括号给出通俗解释，"
                f"如“{m.group()}（{term.explanation.rstrip('。')}）”，"
                f"或链接到术语表：[{m.group()}](/glossary#{term.anchor})。",
                ln.no,
                start + 1,
                fix=ln.raw[:end] + f"（{term.explanation.rstrip('。')}）" + ln.raw[end:],
            )
        )
    limit = ctx.thresholds.jargon_max_findings
    yield from findings[:limit]
    if len(findings) > limit:
        rest = "、".join(names[limit:][:10])
        yield r.at(
            f"另有 {len(findings) - limit} 个术语首次出现时没有解释：{rest}……。"
            "术语较多时，可在文末加“术语说明”一节集中解释。",
            findings[limit].line,
            findings[limit].column,
        )


@rule("KB-READ-004", "warning", "英文缩写从未解释")
def abbreviations_explained(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    gloss = ctx.glossary or glossary_mod.shipped()
    named = " ".join(
        doc.meta_list("products") + doc.meta_list("os") + [str(doc.meta_value("title") or "")]
    )
    first: dict[str, tuple[int, int]] = {}
    explained: set[str] = set()
    looked: dict[str, int] = {}
    for block in _prose_blocks(doc):
        for ln in block.lines:
            text = ln.prose
            for m in _ABBREVIATION.finditer(text):
                word = m.group()
                if word in explained or looked.get(word, 0) >= 20:
                    continue  # an explanation, if any, comes early: don't inspect every use
                looked[word] = looked.get(word, 0) + 1
                if any(c.isdigit() for c in word):
                    continue  # M6202NW, D2000, SM2: model numbers and names, not abbreviations
                if _explained(text, m.start(), m.end()) or _in_link_text(ln.raw, m.start()):
                    explained.add(word)
                first.setdefault(word, (ln.no, m.start() + 1))
    for word, (line, column) in first.items():
        if word in explained or word in COMMON_ABBREVIATIONS or word in named:
            continue
        if gloss.term_of(word) is not None or gloss.term_of(word.rstrip("0123456789")) is not None:
            continue  # glossary terms are KB-READ-003's business
        yield r.at(
            f"英文缩写“{word}”在文中从未解释。请在首次出现时写出中文全称或通俗解释，"
            f"如“{word}（中文全称）”。",
            line,
            column,
        )
