"""Search: the reader's question → a permission-scoped page of results with facets,
highlights and a "您是不是要找" suggestion.

Each query word becomes a *concept* (the word in title, keywords and body, its sub-words,
synonyms and pinyin). Document sets from kb.index.bitsets give, in C-speed integer operations,
the reader's scope (ACL terms and filters), the candidates (documents with most of the words)
and so the exact total and facet counts — computed only over what the reader may see, before
anything is ranked. kb.index.ranker scores the candidates and highlights the page. No query
parser is involved, so no wildcard, prefix or fuzzy syntax can expand without bound; phrase
and suggestion look-ups go through Whoosh with the same ACL as a filter.
"""

from __future__ import annotations

import heapq
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice, pairwise
from typing import Any

import numpy as np
from markupsafe import Markup, escape
from whoosh.query import And, Or, Phrase, Query, Term

from kb.errors import KbError
from kb.index import bitsets, health, ranker, synonyms, thesaurus, writer
from kb.index.analyzer import QUERY_FILLER, fold_for_lookup, normalise, precise_words, tokens
from kb.index.schema import PINYIN_BOOST, SEARCH_FIELDS, brand_of, review_day

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_WORDS = 12
SORTS = ("relevance", "newest", "helpful")
FILTER_FIELDS = {
    "type": "type",
    "category": "category",
    "product": "brand",
    "enterprise": "enterprise",
}


class SearchError(KbError):
    status = 400
    code = "bad_query"


@dataclass
class Hit:
    slug: str
    title: str
    title_html: Markup
    snippet_html: Markup
    type: str
    category: str
    products: list[str]
    enterprise: str
    updated_at: str
    helpful: dict[str, int]


@dataclass
class ResultPage:
    query: str
    total: int
    page: int
    per_page: int
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    suggestion: str | None = None
    notice: str | None = None
    timed_out: bool = False
    weak: bool = False  # the best match is poor: "没有找到可靠的答案"
    coverage: float | None = None  # idf-weighted share of the query's words in the best match

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# ---- searchers: one per thread, refreshed cheaply, reopened when a rebuild swaps folders ----

_local = threading.local()
_open: list[Any] = []  # every searcher opened, so close_all() can release their files
_open_lock = threading.Lock()


def searcher() -> Any:
    """This thread's searcher on the live index; IndexUnavailable (503) while there is none
    or the node is repairing it (kb.index.health) — never a silently empty result."""
    base = writer.root()
    name = writer.current_name(base)
    if name is None or health.repairing(base):
        raise health.IndexUnavailable()
    key = (str(base), name)
    entry = getattr(_local, "entry", None)
    if entry is not None and entry[0] == key and entry[1].up_to_date():
        return entry[1]
    # Not Searcher.refresh(): in whoosh-reloaded 2.7.5 it fails after an empty index and
    # re-adds the old reader's segments to the new one. A new searcher on non-compound
    # segments opens in well under a millisecond.
    try:
        fresh = writer.open_current(base).searcher()
    except Exception as exc:  # damaged: expected, repaired in the background, no traceback
        log.warning("search index %s cannot be opened (%s): answering 503", name, exc)
        from kb.index import drainer

        drainer.wake()  # the health check confirms the damage and repairs it
        raise health.IndexUnavailable() from None
    _track(entry[1] if entry is not None else None, fresh)
    _local.entry = (key, fresh)
    return fresh


_retired: list[tuple[float, Any]] = []  # (when, searcher) replaced, closed a little later
RETIRE_SECONDS = 60.0


def _track(old: Any | None, new: Any | None) -> None:
    """Keep count of open searchers. A replaced one is closed only a minute later: the shared
    document sets of its generation (kb.index.bitsets) read through the reader of whichever
    thread built them, and other threads may still be answering from that generation."""
    now = time.monotonic()
    with _open_lock:
        if old is not None:
            if old in _open:
                _open.remove(old)
            _retired.append((now, old))
        while _retired and now - _retired[0][0] > RETIRE_SECONDS:
            _retired.pop(0)[1].close()
        if new is not None:
            _open.append(new)


def _forget_mine() -> None:
    """Open a fresh searcher on this thread's next call. The old one is not closed here: the
    shared document sets of its generation (kb.index.bitsets) may read through its reader;
    close_all() releases it."""
    _local.entry = None


def close_all() -> None:
    """Close every searcher of this process (at shutdown, and between tests)."""
    with _open_lock:
        while _open:
            _open.pop().close()
        while _retired:
            _retired.pop()[1].close()
    _local.__dict__.clear()


def warm() -> None:
    """Prepare the live index generation's shared sets (after a commit); never raises."""
    try:
        s = searcher()
        if s is not None:
            sets = bitsets.for_searcher(s, str(writer.root()))
            sets.warm(SEARCH_FIELDS, FILTER_FIELDS.values())
    except Exception:  # a cache that is not warm costs the next search a little time only
        log.exception("warming the search caches failed")


# ---- query construction --------------------------------------------------------------------


@dataclass
class ParsedQuery:
    text: str
    words: list[str]
    phrases: list[list[str]]
    notice: str | None = None


def parse(q: str) -> ParsedQuery:
    """Validate and analyse the user's text; raises ``SearchError`` with a Chinese message."""
    text = normalise(q or "").strip()
    if len(text) > MAX_QUERY_CHARS:
        raise SearchError(
            f"搜索词不能超过 {MAX_QUERY_CHARS} 个字符，请只写问题的关键部分。",
            fields={"q": f"最多 {MAX_QUERY_CHARS} 个字符"},
        )
    if any(ord(c) < 32 for c in text):
        text = re.sub(r"[\x00-\x1f]", " ", text)
    phrases = [precise_words(p) for p in re.findall(r'"([^"]{1,100})"', text)]
    phrases = [p for p in phrases if p]
    words = list(dict.fromkeys(precise_words(text.replace('"', " "))))
    words = [w for w in words if w not in QUERY_FILLER] or words
    notice = None
    if len(words) > MAX_WORDS:
        notice = f"问题较长，只按前 {MAX_WORDS} 个关键词搜索。"
        words = words[:MAX_WORDS]
    return ParsedQuery(text, words, phrases[:3], notice)


def _field_terms(word: str, weight: float) -> list[Query]:
    return [Term(f, word, boost=b * weight) for f, b in SEARCH_FIELDS.items()]


FIELDS = tuple(SEARCH_FIELDS.items())
_ID_PARTS = re.compile(r"[a-z0-9]{2,}")
_HAN = re.compile(r"[\u3400-\u9fff]")
PINYIN_FIELDS = (("pinyin", PINYIN_BOOST),)
SUBWORD_WEIGHT = 0.3  # 打印 for 打印机
SYNONYM_WEIGHT = 0.8  # a curated synonym (kb.index.synonyms)
GROUP_WEIGHT = 0.6  # a curated multi-word synonym ("统信 uos")
THESAURUS_WEIGHT = 0.35  # a general-language synonym (kb.index.thesaurus, Cilin)


def _concept(word: str, synonym_map: dict[str, list[tuple[str, ...]]]) -> ranker.Concept:
    variants = [ranker.Variant((word,), 1.0, 1.0, FIELDS)]
    subs = [t for t, _p, _s, _e in tokens(word) if t != word][:2]
    variants += [ranker.Variant((sub,), SUBWORD_WEIGHT, 0.5, FIELDS) for sub in subs]
    parts = _ID_PARTS.findall(word)
    if len(parts) > 1 and not _HAN.search(word):  # debian/copyright: both words, not together
        variants.append(ranker.Variant(tuple(dict.fromkeys(parts)), GROUP_WEIGHT, 0.9, FIELDS))
    curated = synonym_map.get(word, [])[:3]
    for alt in curated:
        weight = SYNONYM_WEIGHT if len(alt) == 1 else GROUP_WEIGHT
        variants.append(ranker.Variant(tuple(alt), weight, 0.9, FIELDS))
    known = {w for alt in curated for w in alt}
    if len(word) >= 2 and not word.isascii():
        for alt in thesaurus.alternatives(word):
            if alt not in known:
                variants.append(ranker.Variant((alt,), THESAURUS_WEIGHT, 0.6, FIELDS))
    if word.isascii() and word.isalpha() and len(word) >= 2:
        variants.append(ranker.Variant((word,), 1.0, 1.0, PINYIN_FIELDS))
    return ranker.Concept(variants)


def concepts_of(
    parsed: ParsedQuery, synonym_map: dict[str, list[tuple[str, ...]]]
) -> list[ranker.Concept]:
    concepts = [_concept(w, synonym_map) for w in parsed.words]
    for i, (a, b) in enumerate(zip(parsed.words, parsed.words[1:], strict=False)):
        # two-word synonyms ("统信 uos") and pinyin typed with spaces ("neicun yichu")
        for alt in synonym_map.get(f"{a} {b}", [])[:2]:
            concepts[i].variants.append(ranker.Variant(tuple(alt), GROUP_WEIGHT, 0.9, FIELDS))
        if (a + b).isascii() and (a + b).isalpha():
            concepts[i].variants.append(ranker.Variant((a + b,), 1.0, 1.0, PINYIN_FIELDS))
    return concepts


def too_common(variant: ranker.Variant, sets: bitsets.DocSets) -> bool:
    """A weak stand-in (a sub-word, a general-language synonym) found in more than
    ``COMMON_SHARE`` of the articles: it would neither decide a match nor move a score at its
    weight, and decoding its postings is much of a query's cost on a large index. The user's
    own word and the curated synonyms always stay."""
    if variant.weight > THESAURUS_WEIGHT:
        return False
    limit = max(COMMON_SHARE * sets.live_count, COSTLY_POSTINGS)
    return any(
        sets.doc_frequency(field, word) > limit
        for word in variant.words
        for field, _b in variant.fields
    )


def everywhere(concept: ranker.Concept, sets: bitsets.DocSets) -> bool:
    """The user's word is in so many articles of a large index (系统, 使用, 显示 …) that it
    can neither decide nor usefully order: it is left out of matching and scoring when the
    query has other words, and its postings, the longest there are, are never read."""
    own = concept.variants[0]
    limit = max(BACKGROUND_SHARE * sets.live_count, COSTLY_POSTINGS)
    return all(
        max(sets.doc_frequency(field, word) for field, _b in own.fields) > limit
        for word in own.words
    )


def occurs(concept: ranker.Concept, sets: bitsets.DocSets) -> bool:
    """Some variant of the concept is in the index at all (term dictionary only)."""
    return any(
        sets.doc_frequency(field, word) > 0
        for variant in concept.variants
        for word in variant.words
        for field, _b in variant.fields
    )


def concept_bits(concept: ranker.Concept, sets: bitsets.DocSets, min_presence: float = 0.0) -> int:
    """Documents with any variant of the concept (every word of a multi-word one)."""
    found = 0
    for variant in concept.variants:
        if variant.presence < min_presence:
            continue
        group = sets.live
        for w in variant.words:
            group &= sets.any_of((f, w) for f, _b in variant.fields)
        found |= group
    return found


def required_phrase(words: list[str]) -> Query:
    if len(words) == 1:
        return Or(_field_terms(words[0], 1.0))
    return Or([Phrase(f, words, slop=1) for f in SEARCH_FIELDS])


def needed(n: int) -> int:
    """How many of n deciding words a result must contain: one.

    Colloquial questions carry words no article uses (装, 来, 电脑); requiring all of them
    finds nothing for about half of real questions, and requiring half still lost answers
    that hold only the one rare word (external set: nDCG@10 0.535 → 0.566, own set 0.961 →
    0.967). Common words never decide (``COMMON_SHARE``) and coverage ranks pages with more
    of the words first, so "any rare word" does not flood the page."""
    return 1


MAX_CORE = 6  # the most selective words decide what matches; the rest only add to scores
# a word in more than this share of the articles (用, 文档, 设置 …) never decides a match
COMMON_SHARE = 0.2
# a user's word in more than this share of a large index steps aside when the query has other
# words (forced on at 1k articles: external nDCG@10 0.644 → 0.642; 0.618 at 0.2)
BACKGROUND_SHARE = 0.4
# the large-index rules apply only to words in more than this many articles: shorter posting
# lists cost a couple of milliseconds, and in a small collection one page is a large share
COSTLY_POSTINGS = 2000
MIN_CANDIDATES = 10  # fewer pages with the decisive words: let the common ones find more
PHRASE_TOP = 20  # the best this many are checked for the query's words side by side
PHRASE_TITLE_BOOST = 0.3
PHRASE_BODY_BOOST = 0.15
# weak answer: the best result's score, as a share of what a page holding every query word
# would score, times (WEAK_BASE + the best coverage among the first page) is below WEAK_SCORE.
# Fitted on the external set (347 questions): 70 % of the unanswerable flagged, 8.8 % of the
# answerable; the former rule (coverage < 0.15, < 0.35 when the most specific word is in no
# article) flagged 57 % and 9.8 %.
WEAK_SCORE = 0.06
WEAK_BASE = 0.3
SINGLE_CHAR_WEIGHT = 0.5
STALE_FACTOR = 0.9  # an article past its review date (复审日期) ranks a little lower


# ---- search --------------------------------------------------------------------------------


def search(q: str, visible_terms: list[str], s_db: Any, **options: Any) -> ResultPage:
    """One page of results (see ``_search``); an unreadable index answers 503, not 500.

    Vote counts come from the database: the index's copy is refreshed in the background.
    """
    try:
        result = _search(q, visible_terms, s_db, **options)
    except KbError:
        raise
    except Exception:
        # a searcher may hold a file a merge has since replaced: retry once on a fresh one
        _forget_mine()
        try:
            result = _search(q, visible_terms, s_db, **options)
        except KbError:
            raise
        except Exception:
            found = writer.problem()
            if found is None:
                raise
            from kb.index import drainer

            drainer.wake()
            raise health.IndexUnavailable() from None
    counts = writer.helpful_counts(s_db, [hit.slug for hit in result.hits])
    for hit in result.hits:
        yes, no = counts.get(hit.slug, (hit.helpful["yes"], hit.helpful["no"]))
        hit.helpful = {"yes": yes, "no": no}
    return result


def _search(
    q: str,
    visible_terms: list[str],
    s_db: Any,
    *,
    filters: dict[str, str] | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = 10,
    time_limit: float = 2.0,
    _corrected: bool = False,
) -> ResultPage:
    """One page of results for a reader whose visibility is ``visible_terms``."""
    filters = {k: v for k, v in (filters or {}).items() if v}
    unknown = set(filters) - set(FILTER_FIELDS)
    if unknown:
        raise SearchError("未知的筛选条件：" + "、".join(sorted(unknown)))
    if sort not in SORTS:
        raise SearchError(
            f"未知的排序方式“{sort}”", fields={"sort": "应为 relevance、newest 或 helpful"}
        )
    parsed = parse(q)
    result = ResultPage(
        query=parsed.text, total=0, page=page, per_page=per_page, notice=parsed.notice
    )
    deadline = time.monotonic() + time_limit
    s = searcher()
    sets = bitsets.for_searcher(s, str(writer.root()))
    scope = reader_scope(sets, visible_terms)
    for name, value in filters.items():
        fieldname = FILTER_FIELDS[name]
        scope &= sets.term(fieldname, brand_of(value) if fieldname == "brand" else value)
    required = [required_phrase(p) for p in parsed.phrases]
    for phrase in required:
        scope &= sets.from_query(phrase, s)
    concepts: list[ranker.Concept] = []
    texts: set[str] = set()
    if parsed.words:
        concepts = concepts_of(parsed, synonyms.mapping(s_db))
        for c in concepts:
            c.variants = [v for v in c.variants if not too_common(v, sets)]
        texts = {w for c in concepts for v in c.variants for w in v.words}
        words = list(parsed.words)
        background = [everywhere(c, sets) for c in concepts]
        # only when another word can still find something: "系统 xyzzy" keeps 系统
        if any(
            not common and occurs(c, sets) for c, common in zip(concepts, background, strict=True)
        ):
            concepts = [c for c, common in zip(concepts, background, strict=True) if not common]
            words = [w for w, common in zip(words, background, strict=True) if not common]
        for word, c in zip(words, concepts, strict=True):
            c.bits = concept_bits(c, sets)
            # rarity of the word itself (and its curated synonyms), not of its sub-words; a
            # single character (转, 卡, 做) says less than its rarity suggests
            c.df = (concept_bits(c, sets, min_presence=0.9) or c.bits).bit_count()
            c.idf = sets.idf(c.df) * (SINGLE_CHAR_WEIGHT if len(word) == 1 else 1.0)
        candidates = select_candidates(concepts, sets.live_count, scope)
    else:
        candidates = scope
        if sort == "relevance":
            sort = "newest"
    result.total = candidates.bit_count()
    for name, fieldname in FILTER_FIELDS.items():
        found = sets.counts(fieldname, candidates)
        result.facets[name] = dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))
    if not candidates:
        result.weak = bool(parsed.words)
        if parsed.words and time.monotonic() < deadline:
            result.suggestion = suggest_correction(parsed, visible_terms)
            if not result.suggestion:
                result.suggestion = split_pinyin(parsed.words, sets)
            if result.suggestion and not _corrected:
                # nothing at all: show what the corrected query finds, and say so
                retry = search(
                    result.suggestion,
                    visible_terms,
                    s_db,
                    filters=filters,
                    sort=sort,
                    page=page,
                    per_page=per_page,
                    time_limit=max(0.1, deadline - time.monotonic()),
                    _corrected=True,
                )
                if retry.total:
                    retry.query = result.query
                    retry.suggestion = result.suggestion
                    retry.notice = (
                        f"没有找到与“{result.query}”相符的文章，"
                        f"以下是“{result.suggestion}”的搜索结果。"
                    )
                    return retry
        return result
    wanted = page * per_page
    stored: dict[int, dict[str, Any]] = {}
    if concepts:
        ids, scores, coverage = ranker.rank(sets, concepts, candidates)
        best = ranker.top(ids, scores, min(len(ids), max(wanted, PHRASE_TOP)))
        if len(parsed.words) > 1:
            boosts = np.ones(len(best), dtype=np.float32)
            for i, pos in enumerate(best[:PHRASE_TOP]):
                doc = int(ids[pos])
                stored[doc] = s.stored_fields(doc)
                # folded once for both: the lookups below are plain substring searches
                title = fold_for_lookup(stored[doc].get("title", ""))
                body = fold_for_lookup(stored[doc].get("body", ""))
                boosts[i] = phrase_boost(parsed.words, title, body) * section_boost(
                    concepts, title, body
                )
            scores[best] *= boosts
            best = best[np.lexsort((ids[best], -scores[best]))]
        result.coverage = round(float(coverage[best[0]]), 3)
        result.weak = weak_answer(concepts, float(scores[best[0]]), coverage[best[:10]])
        stale = _stale(s, ids[best[:PHRASE_TOP]])
        if stale.any():
            scores[best[:PHRASE_TOP][stale]] *= STALE_FACTOR
            best = best[np.lexsort((ids[best], -scores[best]))]
    if sort == "relevance":
        top = [int(ids[i]) for i in best[:wanted]]
    else:
        all_ids = sets.ids(candidates).tolist()
        updated = s.reader().column_reader("updated")
        if sort == "helpful":
            helpful = s.reader().column_reader("helpful")
            top = heapq.nlargest(wanted, all_ids, key=lambda d: (helpful[d], updated[d], d))
        else:
            top = heapq.nlargest(wanted, all_ids, key=lambda d: (updated[d], d))
    for doc in top[(page - 1) * per_page :]:
        result.hits.append(_hit(s, doc, texts, stored.get(doc)))
    if result.total < 3 and parsed.words and time.monotonic() < deadline:
        result.suggestion = suggest_correction(parsed, visible_terms)
    return result


def split_pinyin(words: list[str], sets: bitsets.DocSets) -> str | None:
    """Run-together pinyin cut into indexed pinyin words: xgmm → "xg mm" (修改密码),
    dabuding → "da buding"; None when no word needs it or none can be cut."""
    out: list[str] = []
    changed = False
    for word in words:
        if not (word.isascii() and word.isalpha() and 4 <= len(word) <= 30):
            out.append(word)
            continue
        if sets.term("pinyin", word):
            out.append(word)
            continue
        n = len(word)
        best: list[list[str] | None] = [[]] + [None] * n  # fewest pieces covering word[:i]
        for i in range(2, n + 1):
            for j in range(max(0, i - 12), i - 1):
                prefix = best[j]
                if prefix is None or (best[i] is not None and len(best[i]) <= len(prefix) + 1):
                    continue
                if sets.term("pinyin", word[j:i]):
                    best[i] = [*prefix, word[j:i]]
        pieces = best[n]
        if pieces and len(pieces) > 1:
            out.extend(pieces)
            changed = True
        else:
            out.append(word)
    return " ".join(out) if changed else None


def _stale(s: Any, docs: np.ndarray) -> np.ndarray:
    """Which of ``docs`` are past their review date (an index without the field: none)."""
    reader = s.reader()
    if not len(docs) or "review_by" not in s.schema or not reader.has_column("review_by"):
        return np.zeros(len(docs), dtype=bool)
    column = reader.column_reader("review_by")
    today = review_day(datetime.now(UTC).date())
    return np.array([0 < column[int(d)] < today for d in docs], dtype=bool)


def select_candidates(concepts: list[ranker.Concept], live_count: int, scope: int) -> int:
    """Documents with enough of the query's decisive words.

    The rarest words decide (at most ``MAX_CORE``), words in more than ``COMMON_SHARE`` of the
    articles never do unless the query has nothing else; half of the deciding words are needed,
    fewer when that finds nothing.
    """
    counts = [c.df for c in concepts]
    order = sorted(range(len(concepts)), key=lambda i: counts[i])
    decisive = [i for i in order if counts[i] <= COMMON_SHARE * live_count and counts[i]]
    core = (decisive or order)[:MAX_CORE]
    core_bits = [concepts[i].bits for i in core]
    m = needed(len(core))
    candidates = at_least_in(core_bits, m, scope)
    while not candidates and m > 1:  # something rather than nothing
        m -= 1
        candidates = at_least_in(core_bits, m, scope)
    if decisive and len(decisive) < len(order) and candidates.bit_count() < MIN_CANDIDATES:
        # few pages have the rare words (perhaps the user's word is not the pages' word):
        # pages with most of all the words may still answer, ranked below
        every = [concepts[i].bits for i in order[:MAX_CORE]]
        candidates |= at_least_in(every, needed(len(every)), scope)
    return candidates


def phrase_boost(words: list[str], title: str, body: str) -> float:
    """More for the query's words side by side (as typed) in the (folded) title or body."""
    pairs = list(pairwise(words))
    in_title = in_body = 0
    for a, b in pairs:
        joined = (a + " " + b) if (a[-1:].isascii() and b[:1].isascii()) else a + b
        in_title += joined in title
        in_body += joined in body
    n = max(1, len(pairs))
    return 1.0 + PHRASE_TITLE_BOOST * in_title / n + PHRASE_BODY_BOOST * in_body / n


# The best PHRASE_TOP are re-scored for what the right page of a manual has and its siblings
# (same manual, same title words) lack; external set, P@1 (grade 2) / nDCG@10:
# 0.479 / 0.621 before, title 0.498 / 0.634, + proximity 0.514 / 0.644. Also tried and left
# out: breadcrumb (summary) matches (0.3: 0.498 / 0.635, 1.0: 0.486 / 0.633), dampening pages
# under 100-300 characters (P@1 0.473-0.479, nDCG 0.610-0.619), re-scoring 30 instead of 20.
TITLE_SHARE_BOOST = 1.0  # × (1 + this × idf-weighted share of the query's words in the title)
PROXIMITY_BOOST = 1.0  # × (1 + this × idf-weighted share of them within one body window)
PROXIMITY_WINDOW = 20  # characters (12: P@1 0.498, 40: 0.511, 80: 0.502)
PROXIMITY_OCCURRENCES = 50  # of each word: enough to find a cluster, bounded cost (20: P@1 0.511)


def section_boost(concepts: list[ranker.Concept], title: str, body: str) -> float:
    """More for a page whose title holds the query's specific (high-idf) words, and whose body
    has them close together (the section that is about them, not one that lists them).
    ``title`` and ``body`` are folded (``fold_for_lookup``)."""
    total = sum(c.idf for c in concepts) or 1.0
    hit = sum(
        c.idf
        for c in concepts
        if any(all(w in title for w in v.words) for v in c.variants if v.presence >= 0.9)
    )
    factor = 1.0 + TITLE_SHARE_BOOST * hit / total
    return factor * (1.0 + PROXIMITY_BOOST * proximity(concepts, body))


def proximity(concepts: list[ranker.Concept], body: str) -> float:
    """The largest idf-weighted share of the query's words (two or more) that occur within
    ``PROXIMITY_WINDOW`` characters of each other in the body (own word or curated synonym)."""
    total = sum(c.idf for c in concepts) or 1.0
    events: list[tuple[int, int]] = []
    for i, c in enumerate(concepts):
        for v in c.variants:
            if v.presence < 0.9 or len(v.words) != 1:
                continue
            start = body.find(v.words[0])
            count = 0
            while start >= 0 and count < PROXIMITY_OCCURRENCES:
                events.append((start, i))
                start = body.find(v.words[0], start + 1)
                count += 1
    events.sort()
    best = 0.0
    left = 0
    inside: dict[int, int] = {}
    for pos, i in events:
        inside[i] = inside.get(i, 0) + 1
        while pos - events[left][0] > PROXIMITY_WINDOW:
            j = events[left][1]
            inside[j] -= 1
            if not inside[j]:
                del inside[j]
            left += 1
        if len(inside) > 1:
            best = max(best, sum(concepts[j].idf for j in inside) / total)
    return best


def weak_answer(concepts: list[ranker.Concept], best_score: float, coverage: np.ndarray) -> bool:
    """Whether even the best match is poor ("没有找到可靠的答案").

    The best score is compared with the most a page could score (every word, saturated term
    frequency, full coverage): colloquial questions about things the corpus does not cover
    match only a common word or two, once, and score a small share of that.
    """
    possible = sum(c.idf for c in concepts) * (ranker.K1 + 1) * (ranker.COORD_BASE + 1)
    if possible <= 0:
        return True
    best_coverage = float(coverage.max()) if len(coverage) else 0.0
    return best_score / possible * (WEAK_BASE + best_coverage) < WEAK_SCORE


def at_least_in(sets: list[int], m: int, scope: int) -> int:
    return bitsets.at_least(sets, m) & scope if sets else 0


def _hit(s: Any, doc: int, texts: set[str], fields: dict[str, Any] | None = None) -> Hit:
    fields = fields or s.stored_fields(doc)
    title = fields["title"]
    body = fields.get("body", "")
    title_html = Markup(ranker.mark(title, ranker.spans(title, texts)))
    body_spans = ranker.spans(body, texts)
    if body_spans:
        snippet_html = ranker.snippet(body, body_spans)
    else:  # matched only in products, tags or headings: the summary says what it is
        snippet_html = Markup(escape((fields.get("summary") or body)[:140]))
    yes, no = fields.get("helpful_votes") or [0, 0]
    return Hit(
        slug=fields["slug"],
        title=title,
        title_html=title_html,
        snippet_html=snippet_html,
        type=fields["type"],
        category=fields["category"],
        products=list(fields.get("product_list") or []),
        enterprise=fields["enterprise"],
        updated_at=datetime.fromtimestamp(fields["updated"], UTC).isoformat(),
        helpful={"yes": yes, "no": no},
    )


# ---- suggestions: built only from what the reader may see -----------------------------------


def reader_scope(sets: bitsets.DocSets, visible_terms: list[str]) -> int:
    """The live documents a reader with ``visible_terms`` may see, as a document set.

    (A Whoosh search with an ACL *query* as its filter walks the ACL's postings one document
    at a time in Python: 0.8 s at 100k articles, paid by every suggestion.)"""
    return sets.live & sets.any_of(("acl", t) for t in visible_terms)


def _visible(sets: bitsets.DocSets, scope: int, word: str) -> bool:
    return bool(sets.any_of((f, word) for f in SEARCH_FIELDS) & scope)


_lexicon_cache: dict[int, dict[str, set[str]]] = {}


def _candidates(s: Any, text: str) -> list[str]:
    """Title words sharing a character with ``text`` (a small pool for difflib).

    The words come from the whole index; each is verified against the reader's ACL before it
    may be suggested.
    """
    key = id(s.reader())
    by_char = _lexicon_cache.get(key)
    if by_char is None:
        by_char = {}
        for raw in islice(s.reader().lexicon("title"), 200_000):
            word = raw.decode("utf-8")
            if len(word) > 1:
                for ch in set(word):
                    by_char.setdefault(ch, set()).add(word)
        _lexicon_cache.clear()
        _lexicon_cache[key] = by_char
    pool: set[str] = set()
    for ch in set(text):
        pool |= by_char.get(ch, set())
    return sorted(pool)


def _correct(s: Any, sets: bitsets.DocSets, scope: int, text: str) -> str | None:
    import difflib

    for candidate in difflib.get_close_matches(text, _candidates(s, text), n=6, cutoff=0.6):
        # a word already inside the query is no correction of it
        if candidate not in text and _visible(sets, scope, candidate):
            return candidate
    return None


def suggest_correction(parsed: ParsedQuery, visible_terms: list[str]) -> str | None:
    """A better query when few results came back: the query, or each unknown word in it,
    replaced by a close word that occurs in an article the reader may see (pinyin is mapped
    back to Chinese)."""
    s = searcher()
    sets = bitsets.for_searcher(s, str(writer.root()))
    scope = reader_scope(sets, visible_terms)
    compact = "".join(parsed.words)
    if len(parsed.words) > 1 and len(compact) <= 8 and not compact.isascii():
        whole = _correct(s, sets, scope, compact)
        if whole:
            return whole
    changed = False
    out: list[str] = []
    for word in parsed.words:
        if _visible(sets, scope, word):
            out.append(word)
            continue
        replacement = None
        if word.isascii() and word.isalpha():
            replacement = _from_pinyin(s, sets, scope, word)
        if replacement is None and len(word) > 1:
            replacement = _correct(s, sets, scope, word)
        if replacement:
            out.append(replacement)
            changed = True
        else:
            out.append(word)
    return " ".join(out) if changed else None


def _from_pinyin(s: Any, sets: bitsets.DocSets, scope: int, word: str) -> str | None:
    from pypinyin import Style, lazy_pinyin

    found = sets.ids(sets.term("pinyin", word) & scope)[:5]
    for hit in (s.stored_fields(int(doc)) for doc in found):
        for text in [hit["title"], *(hit.get("product_list") or [])]:
            for candidate in precise_words(text):
                if word in (
                    "".join(lazy_pinyin(candidate)),
                    "".join(lazy_pinyin(candidate, style=Style.FIRST_LETTER)),
                ):
                    return candidate
    return None


def type_ahead(q: str, visible_terms: list[str], limit: int = 8) -> list[dict[str, str | None]]:
    """Titles and products the reader may see that match what has been typed so far."""
    text = normalise(q or "").strip()[:50]
    words = precise_words(text)
    if not words:
        return []
    s = searcher()
    fields = {"title": 3.0, "keywords": 1.0}
    concepts: list[Query] = [
        Or([Term(f, w, boost=b) for f, b in fields.items()] + [Term("pinyin", w)])
        for w in words[:-1]
    ]
    last = words[-1]
    alternatives: list[Query] = [Term(f, last, boost=b) for f, b in fields.items()]
    if last.isascii() and last.isalnum():
        # bounded: at most 20 completions of a partly typed pinyin or model number
        for fieldname in ("pinyin", "keywords"):
            alternatives.extend(
                Term(fieldname, t) for t in islice(s.reader().expand_prefix(fieldname, last), 20)
            )
    concepts.append(Or(alternatives))
    sets = bitsets.for_searcher(s, str(writer.root()))
    allowed = set(sets.ids(reader_scope(sets, visible_terms)).tolist())
    if not allowed:  # Whoosh takes an empty filter set for no filter at all
        return []
    started = time.perf_counter()
    found = s.search(And(concepts), limit=limit, filter=allowed)
    out: list[dict[str, str | None]] = []
    seen: set[str] = set()
    lowered = text.lower()
    for hit in found:
        if hit["title"] not in seen:
            out.append({"text": hit["title"], "slug": hit["slug"]})
            seen.add(hit["title"])
        for product in hit.get("product_list") or []:
            if product not in seen and lowered and lowered.split()[-1] in product.lower():
                out.append({"text": product, "slug": None})
                seen.add(product)
        if time.perf_counter() - started > 0.5:
            break
    return out[: limit + 2]
