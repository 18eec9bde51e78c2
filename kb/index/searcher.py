"""Search: the reader's question → a permission-scoped page of results with facets,
highlights and a "您是不是要找" suggestion.

Every query is ANDed with the reader's ACL terms *inside* Whoosh (``filter=``), so totals,
facets, snippets and suggestions never count what the reader may not see. The query is built
here from analysed words — no query parser, so no wildcard, prefix or fuzzy syntax can expand
without bound — and runs under a time limit.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations, islice
from typing import Any

from markupsafe import Markup, escape
from whoosh import highlight
from whoosh.collectors import FilterCollector, TimeLimit
from whoosh.query import And, Every, NullQuery, Or, Phrase, Query, Term
from whoosh.sorting import Count, FieldFacet

from kb.errors import KbError
from kb.index import synonyms, writer
from kb.index.analyzer import normalise, precise_words, tokens
from kb.index.schema import SEARCH_FIELDS, brand_of

MAX_QUERY_CHARS = 200
MAX_WORDS = 12
SORTS = ("relevance", "newest", "helpful")
FILTER_FIELDS = {
    "type": "type",
    "category": "category",
    "product": "brand",
    "enterprise": "enterprise",
}
FACETS = {
    "type": FieldFacet("type", maptype=Count),
    "category": FieldFacet("category", maptype=Count),
    "product": FieldFacet("brand", allow_overlap=True, maptype=Count),
    "enterprise": FieldFacet("enterprise", maptype=Count),
}
PHRASE_FIELDS = {"title": 4.0, "body": 1.5}


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


class _MarkFormatter(highlight.Formatter):
    """``<mark>`` around matches; every other character escaped by markupsafe.

    With ``window``, a fragment is cut to that many characters starting a little before its
    first match: Whoosh's pinpoint fragments merge neighbouring matches into long runs.
    """

    between = "…"

    def __init__(self, window: int | None = None, lead: int = 30) -> None:
        self.window = window
        self.lead = lead

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return f"<mark>{escape(highlight.get_text(text, token, replace))}</mark>"

    def format_fragment(self, fragment: Any, replace: bool = False) -> str:
        text = fragment.text
        start, end = fragment.startchar, fragment.endchar
        matches = [t for t in fragment.matches if t.startchar is not None]
        if self.window and matches:
            start = max(start, matches[0].startchar - self.lead)
            end = min(end, start + self.window)
        output: list[str] = ["…" if start > 0 else ""]
        index = start
        for t in matches:
            if t.startchar < index or t.endchar > end:
                continue
            output.append(str(escape(text[index : t.startchar])))
            output.append(self.format_token(text, t, replace))
            index = t.endchar
        output.append(str(escape(text[index:end])))
        if end < len(text):
            output.append("…")
        return "".join(output)

    def format(self, fragments: list[Any], replace: bool = False) -> str:
        parts = [self.format_fragment(f, replace) for f in fragments]
        # one ellipsis between two fragments, not one from each side
        return "".join(p if i == 0 else p.removeprefix("…") for i, p in enumerate(parts))


_SNIPPETS = highlight.Highlighter(
    fragmenter=highlight.PinpointFragmenter(maxchars=140, surround=50, autotrim=True),
    formatter=_MarkFormatter(window=90),
)
_TITLES = highlight.Highlighter(fragmenter=highlight.WholeFragmenter(), formatter=_MarkFormatter())


class BoundedFilterCollector(FilterCollector):
    """Permission filter and time limit in one loop.

    Whoosh's TimeLimitCollector iterates its child's matches and collects them directly, so a
    FilterCollector wrapped inside it is skipped and the ACL filter silently stops applying;
    wrapped outside it, the time limit is skipped instead. Both checks live here.
    """

    def __init__(self, child: Any, allow: Any, timelimit: float) -> None:
        super().__init__(child, allow=allow)
        self.timelimit = timelimit
        self._deadline = 0.0

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        self.child.prepare(top_searcher, q, context)
        self._allow = allowed_docs(top_searcher, self.allow)
        self._restrict = None
        self.filtered_count = 0
        self._deadline = time.monotonic() + self.timelimit

    def collect_matches(self) -> None:
        child = self.child
        allow = self._allow
        offset = self.offset
        deadline = self._deadline
        for n, sub_docnum in enumerate(child.matches()):
            if not n & 63 and time.monotonic() > deadline:
                raise TimeLimit
            if allow is None or offset + sub_docnum in allow:
                child.collect(sub_docnum)


def allowed_docs(top_searcher: Any, allow: Query) -> Any:
    """The document set a filter allows, cached on the searcher: the ACL filter of a reader
    is the same on every query, and walking its postings costs more than most searches.
    A new searcher (after any index change) starts with an empty cache."""
    cache = top_searcher.__dict__.setdefault("_kb_allowed", {})
    key = repr(allow)
    docs = cache.get(key)
    if docs is None:
        if len(cache) > 256:
            cache.clear()
        docs = cache[key] = top_searcher._filter_to_comb(allow)
    return docs


# ---- searchers: one per thread, refreshed cheaply, reopened when a rebuild swaps folders ----

_local = threading.local()
_open: list[Any] = []  # every searcher opened, so close_all() can release their files
_open_lock = threading.Lock()


def searcher() -> Any | None:
    """This thread's searcher on the live index (None before the first build)."""
    base = writer.root()
    name = writer.current_name(base)
    if name is None:
        return None
    key = (str(base), name)
    entry = getattr(_local, "entry", None)
    if entry is not None and entry[0] == key and entry[1].up_to_date():
        return entry[1]
    # Not Searcher.refresh(): in whoosh-reloaded 2.7.5 it fails after an empty index and
    # re-adds the old reader's segments to the new one. A new searcher on non-compound
    # segments opens in well under a millisecond.
    fresh = writer.open_current(base).searcher()
    _track(entry[1] if entry is not None else None, fresh)
    _local.entry = (key, fresh)
    return fresh


def _track(old: Any | None, new: Any | None) -> None:
    with _open_lock:
        if old is not None:
            if old in _open:
                _open.remove(old)
            old.close()
        if new is not None:
            _open.append(new)


def close_all() -> None:
    """Close every searcher of this process (at shutdown, and between tests)."""
    with _open_lock:
        while _open:
            _open.pop().close()
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
    return [Term(f, word, boost=b * weight) for f, b in SEARCH_FIELDS.items() if f != "pinyin"]


def _alternative(words: tuple[str, ...], weight: float) -> Query:
    if len(words) == 1:
        return Or(_field_terms(words[0], weight))
    return Or(
        [
            Phrase(f, list(words), slop=1, boost=b * weight)
            for f, b in SEARCH_FIELDS.items()
            if f != "pinyin"
        ]
    )


def _concept(word: str, synonym_map: dict[str, list[tuple[str, ...]]]) -> Query:
    """Everything that counts as this word: itself, its sub-words, synonyms, pinyin."""
    parts: list[Query] = list(_field_terms(word, 1.0))
    subs = [t for t, _p, _s, _e in tokens(word) if t != word][:3]
    parts.extend(
        Term(f, sub, boost=b * 0.3)
        for sub in subs
        for f, b in SEARCH_FIELDS.items()
        if f in ("title", "body")
    )
    for alt in synonym_map.get(word, [])[:4]:
        parts.append(_alternative(alt, 0.8))
    if word.isascii() and word.isalpha() and len(word) >= 2:
        parts.append(Term("pinyin", word, boost=SEARCH_FIELDS["pinyin"]))
    return Or(parts)


def _required_phrase(words: list[str]) -> Query:
    if len(words) == 1:
        return Or(_field_terms(words[0], 1.0))
    return Or([Phrase(f, words, slop=1) for f in PHRASE_FIELDS])


def build_query(parsed: ParsedQuery, synonym_map: dict[str, list[tuple[str, ...]]]) -> Query:
    """Any word may match; all words, most words, phrases and titles score higher."""
    concepts = [_concept(w, synonym_map) for w in parsed.words]
    # two-word synonyms ("统信 uos") are matched as a pair of adjacent words too
    for a, b in zip(parsed.words, parsed.words[1:], strict=False):
        for alt in synonym_map.get(f"{a} {b}", [])[:3]:
            concepts.append(_alternative(alt, 0.8))
    required = [_required_phrase(p) for p in parsed.phrases]
    if not concepts and not required:
        return NullQuery
    clauses: list[Query] = []
    if concepts:
        n = len(parsed.words)
        clauses.append(Or(concepts))
        if n > 1:
            clauses.append(And(concepts[:n], boost=2.0))
        if 3 <= n <= 5:
            clauses.extend(And(list(c), boost=1.0) for c in combinations(concepts[:n], n - 1))
        if n > 1:
            clauses.extend(
                Phrase(f, parsed.words, slop=2, boost=b) for f, b in PHRASE_FIELDS.items()
            )
    query: Query = Or(clauses) if len(clauses) > 1 else clauses[0] if clauses else Every()
    if required:
        query = And([query, *required]) if concepts else And(required)
    return query


def acl_filter(visible_terms: list[str], filters: dict[str, str]) -> Query:
    parts: list[Query] = [Or([Term("acl", t) for t in visible_terms])]
    for name, value in filters.items():
        if value:
            fieldname = FILTER_FIELDS[name]
            parts.append(Term(fieldname, brand_of(value) if fieldname == "brand" else value))
    return And(parts)


# ---- search --------------------------------------------------------------------------------


def search(
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
    s = searcher()
    if s is None:
        return result
    if parsed.words or parsed.phrases:
        query = build_query(parsed, synonyms.mapping(s_db))
    else:
        query = Every()
        if sort == "relevance":
            sort = "newest"
    sortedby: Any = None
    if sort == "newest":
        sortedby = "updated"
    elif sort == "helpful":
        sortedby = ["helpful", "updated"]
    collector = s.collector(
        limit=page * per_page,
        sortedby=sortedby,
        reverse=sort != "relevance",
        groupedby=FACETS,
        terms=True,
    )
    limited = BoundedFilterCollector(collector, acl_filter(visible_terms, filters), time_limit)
    try:
        s.search_with_collector(query, limited)
    except TimeLimit:
        result.timed_out = True
        result.notice = "搜索用时过长，只显示部分结果；请换用更具体的词。"
    results = limited.results()
    result.total = len(results)
    for name in FACETS:
        try:
            groups = results.groups(name)
        except KeyError:
            groups = {}
        result.facets[name] = dict(sorted(groups.items(), key=lambda kv: (-kv[1], str(kv[0]))))
    start = (page - 1) * per_page
    for hit in islice(results, start, start + per_page):
        result.hits.append(_hit(hit))
    if result.total < 3 and parsed.words:
        result.suggestion = suggest_correction(parsed, visible_terms)
    return result


def _hit(hit: Any) -> Hit:
    fields = hit.fields()
    title = fields["title"]
    title_html = _TITLES.highlight_hit(hit, "title", minscore=1) or str(escape(title))
    snippet = _SNIPPETS.highlight_hit(hit, "body", top=2, minscore=1) or _SNIPPETS.highlight_hit(
        hit, "summary", top=1, minscore=1
    )
    if not snippet:
        snippet = str(escape((fields.get("summary") or fields.get("body", ""))[:140]))
    yes, no = fields.get("helpful_votes") or [0, 0]
    return Hit(
        slug=fields["slug"],
        title=title,
        title_html=Markup(title_html),
        snippet_html=Markup(snippet),
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
    if s is None:
        return None
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
    s = searcher()
    if s is None or not words:
        return []
    fields = {"title": 3.0, "products": 2.0, "tags": 1.0}
    concepts: list[Query] = [
        Or([Term(f, w, boost=b) for f, b in fields.items()] + [Term("pinyin", w)])
        for w in words[:-1]
    ]
    last = words[-1]
    alternatives: list[Query] = [Term(f, last, boost=b) for f, b in fields.items()]
    if last.isascii() and last.isalnum():
        # bounded: at most 20 completions of a partly typed pinyin or model number
        for fieldname in ("pinyin", "products"):
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
