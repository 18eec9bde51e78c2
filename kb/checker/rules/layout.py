"""KB-LAYOUT: cautions emphasised; Chinese typography checked by autocorrect (with a fix).

Typography is delegated to autocorrect-py (the maintained Rust library behind the Chinese
copywriting guidelines) rather than hand-written rules. Its Markdown parser has a call limit,
so it gets the body in chunks of lines, with code blocks and overlong lines blanked out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kb.checker.context import CheckContext
from kb.checker.document import Document
from kb.checker.registry import Rule, rule
from kb.checker.report import Finding

CAUTION_WORDS = ("注意", "警告", "重要", "危险", "小心", "特别提示")
_CAUTION = re.compile(
    r"(?:^|(?<=[。！？；]))[ \t]*(" + "|".join(CAUTION_WORDS) + r")(?:事项)?[ \t]*([:：!！])"
)
_CHUNK_LINES = 400


@rule("KB-LAYOUT-001", "warning", "警示语没有加粗")
def cautions_emphasised(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for ln in doc.prose_lines():
        if ln.kind in ("heading", "table"):
            continue
        text = ln.prose[ln.content_col :]
        for m in _CAUTION.finditer(text):
            word = m.group(1)
            start = ln.content_col + m.start(1)
            end = ln.content_col + m.end(2)
            yield r.at(
                f"警示语“{word}”没有加粗。注意、警告、重要、危险等提示请加粗，"
                f"写作“**{word}**：”，让读者一眼看到。",
                ln.no,
                start + 1,
                fix=ln.raw[:start] + f"**{word}**：" + ln.raw[end:],
            )


def _autocorrect():  # type: ignore[no-untyped-def]
    import autocorrect_py

    return autocorrect_py


@rule("KB-LAYOUT-002", "warning", "中文排版：空格与标点")
def typography(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    limit = ctx.thresholds.typography_max_line
    # the whole source with everything that is not prose blanked, so line numbers stay true
    text_lines = [""] * len(doc.lines)
    for ln in doc.body_lines:
        if ln.kind in ("code", "blank", "rule") or len(ln.raw) > limit:
            continue
        text_lines[ln.no - 1] = ln.raw
    ac = _autocorrect()
    first = doc.body_line - 1
    for start in range(first, len(text_lines), _CHUNK_LINES):
        chunk = text_lines[start : start + _CHUNK_LINES]
        if not any(chunk):
            continue
        try:
            result = ac.lint_for("\n".join(chunk), "article.md")
        except ValueError:
            continue  # the parser gave up on this chunk (call limit): skip it, never fail
        for item in result.lines:
            line = start + item.line
            old = doc.lines[line - 1] if 0 < line <= len(doc.lines) else item.old
            new_line = old.replace(item.old, item.new, 1) if item.old in old else item.new
            yield r.at(
                "中文排版不规范：中文与英文、数字之间应有空格，中文句子中应使用全角标点（，。：；？！）。"
                f"建议改为：{item.new[:80]}",
                line,
                item.col,
                fix=new_line,
            )
