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
from itertools import islice
from typing import Any

from markupsafe import Markup, escape
from whoosh.query import And, Or, Phrase, Query, Term

from kb.errors import KbError
from kb.index import bitsets, health, ranker, synonyms, writer
from kb.index.analyzer import normalise, precise_words, tokens
from kb.index.schema import PINYIN_BOOST, SEARCH_FIELDS, brand_of

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
TITLE_PHRASE_BOOST = 2.0  # the query words as a phrase in the title


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
    notice = None
    if len(words) > MAX_WORDS:
        notice = f"问题较长，只按前 {MAX_WORDS} 个关键词搜索。"
        words = words[:MAX_WORDS]
    return ParsedQuery(text, words, phrases[:3], notice)


def _field_terms(word: str, weight: float) -> list[Query]:
    return [Term(f, word, boost=b * weight) for f, b in SEARCH_FIELDS.items()]


@dataclass
class Concept:
    """One query word with everything that counts as it: its fields, sub-words, single-word
    synonyms and pinyin (``leaves``), and multi-word synonyms (``groups``: all words needed)."""

    leaves: list[tuple[str, str, float]]
    groups: list[tuple[str, ...]] = field(default_factory=list)

    def bits(self, sets: bitsets.DocSets) -> int:
        found = sets.any_of((f, t) for f, t, _b in self.leaves)
        for words in self.groups:
            group = sets.live
            for w in words:
                group &= sets.any_of((f, w) for f in SEARCH_FIELDS)
            found |= group
        return found


def _concept(word: str, synonym_map: dict[str, list[tuple[str, ...]]]) -> Concept:
    leaves = [(f, word, b) for f, b in SEARCH_FIELDS.items()]
    leaves += [("body", sub, 0.3) for sub in [t for t, _p, _s, _e in tokens(word) if t != word][:2]]
    concept = Concept(leaves)
    for alt in synonym_map.get(word, [])[:3]:
        if len(alt) == 1:
            concept.leaves += [(f, alt[0], b * 0.8) for f, b in SEARCH_FIELDS.items()]
        else:
            concept.groups.append(alt)
    if word.isascii() and word.isalpha() and len(word) >= 2:
        concept.leaves.append(("pinyin", word, PINYIN_BOOST))
    return concept


def concepts_of(
    parsed: ParsedQuery, synonym_map: dict[str, list[tuple[str, ...]]]
) -> list[Concept]:
    concepts = [_concept(w, synonym_map) for w in parsed.words]
    for i, (a, b) in enumerate(zip(parsed.words, parsed.words[1:], strict=False)):
        # two-word synonyms ("统信 uos") and pinyin typed with spaces ("neicun yichu")
        concepts[i].groups.extend(synonym_map.get(f"{a} {b}", [])[:2])
        if (a + b).isascii() and (a + b).isalpha():
            concepts[i].leaves.append(("pinyin", a + b, PINYIN_BOOST))
    return concepts


def leaves_of(concepts: list[Concept]) -> list[ranker.Leaf]:
    """Every scored term of the query, tagged with the word it stands for."""
    out: list[ranker.Leaf] = []
    for index, concept in enumerate(concepts):
        out.extend(ranker.Leaf(f, t, b, index) for f, t, b in concept.leaves)
        for words in concept.groups:
            out.extend(
                ranker.Leaf(f, w, b * 0.4, index) for w in words for f, b in SEARCH_FIELDS.items()
            )
    return out


def required_phrase(words: list[str]) -> Query:
    if len(words) == 1:
        return Or(_field_terms(words[0], 1.0))
    return Or([Phrase(f, words, slop=1) for f in SEARCH_FIELDS])


def needed(n: int) -> int:
    """How many of n query words a result must contain: one of one or two, half of more
    (documents with more of them rank higher, see ranker.rank).

    Colloquial questions carry words no article uses (装, 来, 电脑); requiring all of them
    finds nothing for about half of real questions, requiring any floods the page."""
    return 1 if n <= 2 else (n + 1) // 2


MAX_CORE = 6  # the most selective words decide what matches; the rest only add to scores


def acl_filter(visible_terms: list[str], filters: dict[str, str]) -> Query:
    parts: list[Query] = [Or([Term("acl", t) for t in visible_terms])]
    for name, value in filters.items():
        if value:
            fieldname = FILTER_FIELDS[name]
            parts.append(Term(fieldname, brand_of(value) if fieldname == "brand" else value))
    return And(parts)


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
    scope = sets.live & sets.any_of(("acl", t) for t in visible_terms)
    for name, value in filters.items():
        fieldname = FILTER_FIELDS[name]
        scope &= sets.term(fieldname, brand_of(value) if fieldname == "brand" else value)
    required = [required_phrase(p) for p in parsed.phrases]
    for phrase in required:
        scope &= sets.from_query(phrase, s)
    if parsed.words:
        concepts = concepts_of(parsed, synonyms.mapping(s_db))
        bits = [c.bits(sets) for c in concepts]
        order = sorted(range(len(concepts)), key=lambda i: bits[i].bit_count())
        core_ids = order[:MAX_CORE]
        core_bits = [bits[i] for i in core_ids]
        m = needed(len(core_ids))
        candidates = at_least_in(core_bits, m, scope)
        while not candidates and m > 1:  # something rather than nothing
            m -= 1
            candidates = at_least_in(core_bits, m, scope)
        leaves = leaves_of(concepts)
    else:
        candidates = scope
        leaves = []
        core_bits, m = [], 1
        if sort == "relevance":
            sort = "newest"
    result.total = candidates.bit_count()
    for name, fieldname in FILTER_FIELDS.items():
        found = sets.counts(fieldname, candidates)
        result.facets[name] = dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))
    if not candidates:
        if parsed.words and time.monotonic() < deadline:
            result.suggestion = suggest_correction(parsed, visible_terms)
        return result
    wanted = page * per_page
    ids = sets.ids(candidates)
    if sort == "relevance":
        scores = ranker.rank(s, sets, leaves, len(parsed.words), candidates)
        if 1 < len(parsed.words) <= 4:  # the words as a phrase in the title
            phrase = Phrase("title", parsed.words, slop=2)
            for doc in sets.ids(sets.from_query(phrase, s) & candidates):
                scores[doc] = scores.get(doc, 0.0) * TITLE_PHRASE_BOOST
        top = heapq.nlargest(wanted, ids, key=lambda d: (scores.get(d, 0.0), -d))
    else:
        updated = s.reader().column_reader("updated")
        if sort == "helpful":
            helpful = s.reader().column_reader("helpful")
            top = heapq.nlargest(wanted, ids, key=lambda d: (helpful[d], updated[d], d))
        else:
            top = heapq.nlargest(wanted, ids, key=lambda d: (updated[d], d))
    texts = {leaf.text for leaf in leaves}
    for doc in top[(page - 1) * per_page :]:
        result.hits.append(_hit(s, doc, texts))
    if result.total < 3 and parsed.words and time.monotonic() < deadline:
        result.suggestion = suggest_correction(parsed, visible_terms)
    return result


def at_least_in(sets: list[int], m: int, scope: int) -> int:
    return bitsets.at_least(sets, m) & scope if sets else 0


def _hit(s: Any, doc: int, texts: set[str]) -> Hit:
    fields = s.stored_fields(doc)
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


def _visible(s: Any, query: Query, visible_terms: list[str]) -> bool:
    return not s.search(
        query, limit=1, filter=acl_filter(visible_terms, {}), scored=False
    ).is_empty()


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


def _correct(s: Any, text: str, visible_terms: list[str]) -> str | None:
    import difflib

    for candidate in difflib.get_close_matches(text, _candidates(s, text), n=6, cutoff=0.6):
        # a word already inside the query is no correction of it
        if candidate not in text and _visible(s, Or(_field_terms(candidate, 1.0)), visible_terms):
            return candidate
    return None


def suggest_correction(parsed: ParsedQuery, visible_terms: list[str]) -> str | None:
    """A better query when few results came back: the query, or each unknown word in it,
    replaced by a close word that occurs in an article the reader may see (pinyin is mapped
    back to Chinese)."""
    s = searcher()
    compact = "".join(parsed.words)
    if len(parsed.words) > 1 and len(compact) <= 8 and not compact.isascii():
        whole = _correct(s, compact, visible_terms)
        if whole:
            return whole
    changed = False
    out: list[str] = []
    for word in parsed.words:
        if _visible(s, Or(_field_terms(word, 1.0)), visible_terms):
            out.append(word)
            continue
        replacement = None
        if word.isascii() and word.isalpha():
            replacement = _from_pinyin(s, word, visible_terms)
        if replacement is None and len(word) > 1:
            replacement = _correct(s, word, visible_terms)
        if replacement:
            out.append(replacement)
            changed = True
        else:
            out.append(word)
    return " ".join(out) if changed else None


def _from_pinyin(s: Any, word: str, visible_terms: list[str]) -> str | None:
    from pypinyin import Style, lazy_pinyin

    found = s.search(Term("pinyin", word), limit=5, filter=acl_filter(visible_terms, {}))
    for hit in found:
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
    started = time.perf_counter()
    found = s.search(And(concepts), limit=limit, filter=acl_filter(visible_terms, {}))
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
