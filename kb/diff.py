"""Revision comparison for the review desk, the history page and the diff API.

A Chinese paragraph is one Markdown line, so a line diff marks a whole paragraph for a
one-character fix. Here lines are aligned first (difflib over the lines), a changed line is
paired with the most similar line it replaces, and each pair is compared word by word (jieba
tokens) and, inside a changed word, character by character: a one-character fix marks exactly
that character. The output is escaped text whose only markup is ``<del>`` (in the old side)
and ``<ins>`` (in the new side); Markdown is compared as source text, never rendered here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

_EMPTY = Markup("")

# a changed run of words is refined by characters when the two runs are at least this similar;
# below it, character marks scatter over a rewritten sentence and are harder to read
CHAR_REFINE_RATIO = 0.3
CONTEXT = 2  # unchanged lines kept around each change on the review desk


@dataclass(frozen=True)
class Row:
    """One aligned line pair. ``op``: equal | replace | insert | delete | skip."""

    op: str
    old_no: int | None
    new_no: int | None
    old_html: Markup
    new_html: Markup
    html: Markup = _EMPTY  # both sides in one line: ``<del>`` and ``<ins>`` in place
    skipped: int = 0  # for op "skip": how many unchanged lines are folded away

    def as_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "old_line": self.old_no,
            "new_line": self.new_no,
            "old_html": str(self.old_html),
            "new_html": str(self.new_html),
            "html": str(self.html),
        }


def _words(text: str) -> list[str]:
    """jieba's precise cut of one line (the index's segmenter, domain words kept whole)."""
    from kb.index.analyzer import segmenter  # jieba only, no Whoosh

    return segmenter().lcut(text, HMM=False) if text else []


def _mark(tag: str, text: str) -> Markup:
    return Markup(f"<{tag}>{escape(text)}</{tag}>") if text else Markup("")


def inline(old: str, new: str) -> tuple[Markup, Markup, Markup]:
    """``old`` with removed parts in ``<del>``, ``new`` with added parts in ``<ins>``, and
    both in one line (unchanged text once, each ``<del>`` before its ``<ins>``)."""
    a, b = _words(old), _words(new)
    left: list[Markup] = []
    right: list[Markup] = []
    both: list[Markup] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        x, y = "".join(a[i1:i2]), "".join(b[j1:j2])
        if op == "equal":
            left.append(escape(x))
            right.append(escape(y))
            both.append(escape(y))
        elif op == "replace" and difflib.SequenceMatcher(None, x, y).ratio() >= CHAR_REFINE_RATIO:
            chars = difflib.SequenceMatcher(None, x, y, autojunk=False)
            for cop, k1, k2, m1, m2 in chars.get_opcodes():
                if cop == "equal":
                    left.append(escape(x[k1:k2]))
                    right.append(escape(y[m1:m2]))
                    both.append(escape(y[m1:m2]))
                else:
                    left.append(_mark("del", x[k1:k2]))
                    right.append(_mark("ins", y[m1:m2]))
                    both += [_mark("del", x[k1:k2]), _mark("ins", y[m1:m2])]
        else:
            left.append(_mark("del", x))
            right.append(_mark("ins", y))
            both += [_mark("del", x), _mark("ins", y)]
    join = Markup("").join
    return join(left), join(right), join(both)


def _pair(old: list[str], new: list[str]) -> list[tuple[int | None, int | None]]:
    """Pair the lines of a replaced block, each old line with its most similar new line, in
    order; what finds no partner (similarity under one half) is a plain removal or addition."""
    pairs: list[tuple[int | None, int | None]] = []
    j = 0
    for i, line in enumerate(old):
        best, best_ratio = None, 0.5
        for k in range(j, len(new)):
            ratio = difflib.SequenceMatcher(None, line, new[k], autojunk=False).quick_ratio()
            if ratio > best_ratio:
                ratio = difflib.SequenceMatcher(None, line, new[k], autojunk=False).ratio()
                if ratio > best_ratio:
                    best, best_ratio = k, ratio
        if best is None:
            pairs.append((i, None))
            continue
        pairs.extend((None, k) for k in range(j, best))
        pairs.append((i, best))
        j = best + 1
    pairs.extend((None, k) for k in range(j, len(new)))
    return pairs


def compare(old_text: str, new_text: str) -> list[Row]:
    """Every line of both texts, aligned, with inline marks on the changed ones."""
    a, b = old_text.splitlines(), new_text.splitlines()
    rows: list[Row] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            rows.extend(
                Row("equal", i + 1, j + 1, escape(a[i]), escape(b[j]), escape(b[j]))
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        for i, j in _pair(a[i1:i2], b[j1:j2]):
            if i is not None and j is not None:
                left, right, both = inline(a[i1 + i], b[j1 + j])
                rows.append(Row("replace", i1 + i + 1, j1 + j + 1, left, right, both))
            elif i is not None:
                gone = _mark("del", a[i1 + i])
                rows.append(Row("delete", i1 + i + 1, None, gone, Markup(""), gone))
            elif j is not None:
                added = _mark("ins", b[j1 + j])
                rows.append(Row("insert", None, j1 + j + 1, Markup(""), added, added))
    return rows


def changed(rows: list[Row]) -> bool:
    return any(r.op != "equal" for r in rows)


def folded(rows: list[Row], context: int = CONTEXT) -> list[Row]:
    """The rows a reviewer needs: changes with ``context`` lines around, the rest folded."""
    keep = [False] * len(rows)
    for n, row in enumerate(rows):
        if row.op != "equal":
            for k in range(max(0, n - context), min(len(rows), n + context + 1)):
                keep[k] = True
    out: list[Row] = []
    run = 0
    for n, row in enumerate(rows):
        if keep[n]:
            if run:
                out.append(Row("skip", None, None, Markup(""), Markup(""), skipped=run))
                run = 0
            out.append(row)
        else:
            run += 1
    if run and out:
        out.append(Row("skip", None, None, Markup(""), Markup(""), skipped=run))
    return out


def unified_html(rows: list[Row]) -> Markup:
    """One column for the API: every line, the changed ones with ``<del>``/``<ins>`` in place."""
    return Markup("\n").join(r.html for r in rows if r.op != "skip")


def between(s: Any, actor: Any, article: Any, old: int, new: int) -> list[Row]:
    """Every line of revisions ``old`` and ``new`` of an article, aligned and marked; 404/403
    by the work permission, as the revision history."""
    from kb import articles as ops
    from kb.permissions import policy
    from kb.permissions.roles import Action

    policy.require(actor, Action.READ_WORK, article)
    return compare(ops.revision(s, article, old).source, ops.revision(s, article, new).source)
