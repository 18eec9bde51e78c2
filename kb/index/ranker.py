"""Scoring and highlighting of a known candidate set.

The candidates (documents with enough of the query's words, inside the reader's ACL) come from
kb.index.bitsets and are scored all at once with numpy (see ``rank``); highlights are found in
the stored text by plain string search, so nothing is re-segmented at query time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup, escape

from kb.index.analyzer import fold_for_lookup
from kb.index.bitsets import DocSets


@dataclass(frozen=True)
class Variant:
    """One way a query word can occur: the word itself, a sub-word, a synonym, its pinyin.

    ``words`` holds one term, or several that must all occur (a multi-word synonym); ``weight``
    says how much a match counts against the user's own word (1.0); ``presence`` how far a
    match counts as "the document has this word" for coordination and the weak-answer test.
    """

    words: tuple[str, ...]
    weight: float
    presence: float
    fields: tuple[tuple[str, float], ...]


@dataclass
class Concept:
    """One query word with every variant that counts as it, and its document set."""

    variants: list[Variant]
    bits: int = 0
    idf: float = 0.0
    df: int = 0  # documents with the word itself or a curated synonym (not sub-words)


# BM25 k1: high, so a page that is about the word keeps gaining from more mentions (external
# set nDCG@10: k1 2.0 0.602 · 3.0 0.615 · 5.0 0.621 · 8.0 0.622)
K1 = 5.0
COORD_BASE = 0.3  # score × (COORD_BASE + IDF-weighted share of the query's words present)


def pseudo_tf(
    sets: DocSets, word: str, fields: tuple[tuple[str, float], ...]
) -> tuple[np.ndarray, float]:
    """BM25F's combined term frequency of one word for every document (dense, zero where
    absent), and the word's idf over all the fields.

    Per field, term frequency over the field's length normalisation, weighted by the field's
    boost, summed over fields; ``rank`` saturates the sum once (so a word in title *and* body
    does not count twice as much) and multiplies by the idf.
    """
    dense = np.zeros(sets.size, dtype=np.float32)
    present = 0
    for field, boost in fields:
        ids, tf = sets.postings(field, word)
        if len(ids):
            dense[ids] += boost * tf / sets.norm(field)[ids]
            present |= sets.term(field, word)
    return dense, sets.idf(present.bit_count()) if present else 0.0


def rank(
    sets: DocSets, concepts: list[Concept], candidates: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(candidate ids, scores, coverage) for every candidate, all in numpy.

    A concept scores as its best variant (weight × BM25F); the sum over concepts is multiplied
    by ``COORD_BASE`` + the candidate's coverage: the idf-weighted share of the query's words
    it contains, so documents with the rare, decisive words beat those with the common ones.
    """
    ids = sets.ids(candidates)
    totals = np.zeros(len(ids), dtype=np.float32)
    covered = np.zeros(len(ids), dtype=np.float32)
    weight_sum = sum(c.idf for c in concepts) or 1.0
    cache: dict[tuple[str, tuple[tuple[str, float], ...]], np.ndarray] = {}

    def word_scores(word: str, fields: tuple[tuple[str, float], ...]) -> np.ndarray:
        key = (word, fields)
        if key not in cache:
            dense, idf = pseudo_tf(sets, word, fields)
            tf = dense[ids]  # only the candidates from here on
            cache[key] = idf * tf * (K1 + 1) / (tf + K1)
        return cache[key]

    for concept in concepts:
        best = np.zeros(len(ids), dtype=np.float32)
        presence = np.zeros(len(ids), dtype=np.float32)
        for variant in concept.variants:
            parts = [word_scores(w, variant.fields) for w in variant.words]
            if len(parts) == 1:
                score = parts[0]
            else:  # every word of a multi-word synonym must be there
                stacked = np.vstack(parts)
                score = np.where(stacked.min(axis=0) > 0, stacked.mean(axis=0), 0.0)
            np.maximum(best, variant.weight * score, out=best)
            np.maximum(presence, np.where(score > 0, variant.presence, 0.0), out=presence)
        totals += best
        covered += concept.idf * presence
    coverage = covered / weight_sum
    return ids, totals * (COORD_BASE + coverage), coverage


def top(ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Positions (into ``ids``) of the ``k`` best, best first; ties by lower document number."""
    part = np.argpartition(-scores, k - 1)[:k] if len(ids) > k else np.arange(len(ids))
    order = np.lexsort((ids[part], -scores[part]))
    return part[order]


def spans(text: str, terms: Iterable[str], per_term: int = 50) -> list[tuple[int, int]]:
    """Character ranges where the query's terms occur in ``text``.

    Found by string search in the folded text (same length as the original, see
    analyzer.normalise) — faster than decoding the postings' stored offsets, which means
    inflating every block of a common word's posting list.
    """
    folded = fold_for_lookup(text)
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
            # starts are sorted (spans returns ranges in order): count by bisection
            count = bisect_left(starts, s + width) - bisect_left(starts, s)
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
