"""Scoring and highlighting of a known candidate set.

The candidates (documents with enough of the query's words, inside the reader's ACL) come from
kb.index.bitsets and are scored all at once with numpy (see ``rank``); highlights are found in
the stored text by plain string search, so nothing is re-segmented at query time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from markupsafe import Markup, escape

from kb.index.analyzer import normalise
from kb.index.bitsets import DocSets


@dataclass(frozen=True)
class Leaf:
    field: str
    text: str
    boost: float
    concept: int  # index of the query word this term stands for


K1 = 1.2
B = 0.75


def rank(
    searcher: Any, sets: DocSets, leaves: list[Leaf], n_concepts: int, candidates: int
) -> dict[int, float]:
    """A score for every candidate at once (numpy), no per-document Python.

    BM25 with each present term counted once (tf = 1): the field boost, the term's idf and
    the field-length normalisation are BM25's; term frequency is left out because reading it
    means decoding every posting block of a common word (zlib and pickle per block in Whoosh),
    which cost more than the whole rest of a search. Multiplied by the share of query words
    the document contains, so documents with all the words come first.
    """
    ids = np.fromiter(sets.ids(candidates), dtype=np.int64)
    totals = np.zeros(len(ids))
    concepts = np.zeros((max(1, n_concepts), len(ids)), dtype=bool)
    norms: dict[str, np.ndarray] = {}
    for leaf in leaves:
        bits = sets.term(leaf.field, leaf.text) & candidates
        if not bits:
            continue
        if leaf.field not in norms:
            if leaf.field == "pinyin":
                norms[leaf.field] = np.ones(len(ids))
            else:
                lengths, average = sets.lengths(leaf.field)
                dl = lengths[ids] / max(average, 1.0)
                norms[leaf.field] = (K1 + 1) / (1 + K1 * (1 - B + B * dl))
        present = sets.mask(bits)[ids]
        weight = leaf.boost * sets.idf(searcher, leaf.field, leaf.text)
        totals += present * (weight * norms[leaf.field])
        if leaf.concept < len(concepts):
            concepts[leaf.concept] |= present
    totals *= 0.5 + concepts.sum(axis=0) / max(1, n_concepts)
    return dict(zip(ids.tolist(), totals.tolist(), strict=True))


def spans(text: str, terms: Iterable[str], per_term: int = 50) -> list[tuple[int, int]]:
    """Character ranges where the query's terms occur in ``text``.

    Found by string search in the folded text (same length as the original, see
    analyzer.normalise) — faster than decoding the postings' stored offsets, which means
    inflating every block of a common word's posting list.
    """
    folded = normalise(text)
    found: set[tuple[int, int]] = set()
    for term in terms:
        if not term:
            continue
        start = folded.find(term)
        count = 0
        while start >= 0 and count < per_term:
            found.add((start, start + len(term)))
            start = folded.find(term, start + len(term))
            count += 1
    # longest first at each position, then drop ranges inside an earlier one
    ordered = sorted(found, key=lambda r: (r[0], -r[1]))
    merged: list[tuple[int, int]] = []
    for s, e in ordered:
        if merged and s < merged[-1][1]:
            continue
        merged.append((s, e))
    return merged


def mark(text: str, ranges: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """``text[start:end]`` escaped, with ``<mark>`` around the ranges (overlaps merged)."""
    end = len(text) if end is None else end
    out: list[str] = []
    index = start
    for s, e in ranges:
        if s < index or e > end:
            continue
        out.append(str(escape(text[index:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        index = e
    out.append(str(escape(text[index:end])))
    return "".join(out)


def snippet(text: str, ranges: list[tuple[int, int]], width: int = 90, windows: int = 2) -> Markup:
    """Up to ``windows`` passages of about ``width`` characters where most matches cluster."""
    if not ranges:
        return Markup(escape(text[:140]) + ("…" if len(text) > 140 else ""))
    starts = [s for s, _e in ranges]
    chosen: list[tuple[int, int]] = []
    remaining = list(ranges)
    for _ in range(windows):
        if not remaining:
            break
        best, best_count = remaining[0][0], 0
        for s, _e in remaining:
            count = sum(1 for x in starts if s <= x < s + width)
            if count > best_count:
                best, best_count = s, count
        begin = max(0, best - 20)
        chosen.append((begin, min(len(text), begin + width)))
        remaining = [r for r in remaining if not begin <= r[0] < begin + width]
    chosen.sort()
    parts: list[str] = []
    last_end = -1
    for begin, finish in chosen:
        if begin < last_end:
            begin = last_end
        prefix = "…" if begin > 0 and begin != last_end else ""
        parts.append(prefix + mark(text, ranges, begin, finish))
        last_end = finish
    if last_end < len(text):
        parts.append("…")
    return Markup("".join(parts))
