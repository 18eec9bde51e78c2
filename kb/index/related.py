"""Related articles for the article page: a more-like-this over the indexed terms.

The key terms of the article's title and text (Whoosh's Bo1 expansion model over the index's
own statistics) are searched for among the articles that share its category or one of its
product brands, AND the reader's ACL terms, so a reader is never shown a related article the
search page would not show them. The article itself is masked out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from whoosh.query import Or, Term

from kb.index import bitsets, writer
from kb.index.health import IndexUnavailable
from kb.index.schema import brand_of, plain_text
from kb.index.searcher import reader_scope, searcher

log = logging.getLogger(__name__)

KEY_TERMS = 12  # more terms find more, and cost more: each is a posting list to walk
# analysing the text for key terms is the cost (jieba + one lookup per distinct word: 90 ms
# for a 5,000-character article); the opening of an article names its topic
TEXT_CHARS = 1500
CACHE_SIZE = 512
TITLE_WEIGHT = 2.0  # a key term found in a title says more about the topic than in a body


@dataclass(frozen=True)
class Related:
    slug: str
    title: str
    type: str
    category: str


def related(
    *,
    article_id: int,
    title: str,
    body: str,
    category: str,
    products: list[str],
    visible_terms: list[str],
    limit: int = 5,
) -> list[Related]:
    """Up to ``limit`` articles like this one, of its category or a product brand it names,
    that a reader with ``visible_terms`` may see (most similar first)."""
    try:
        s = searcher()
    except IndexUnavailable:  # being rebuilt: the article page shows no related articles
        return []
    # Cached on the searcher: a new one is opened whenever the index changes, so a list never
    # outlives the index it came from; the reader's ACL terms are part of the key.
    cache = s.__dict__.setdefault("_kb_related", {})
    key = (article_id, title, hash(body), category, tuple(products), tuple(visible_terms), limit)
    if key not in cache:
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        try:
            cache[key] = _related(
                s, article_id, title, body, category, products, visible_terms, limit
            )
        except Exception:  # an extra on the page: a damaged index must not stop the reading
            log.exception("related articles failed for article %s", article_id)
            return []
    return cache[key]


def _related(
    s: Any,
    article_id: int,
    title: str,
    body: str,
    category: str,
    products: list[str],
    visible_terms: list[str],
    limit: int,
) -> list[Related]:
    text, headings = plain_text(body)
    # the title and headings carry the topic; repeat them so they outweigh passing mentions
    weighted = " ".join([title, title, headings, text[:TEXT_CHARS]])
    key_terms = s.key_terms_from_text("body", weighted, numterms=KEY_TERMS, normalize=True)
    if not key_terms:
        return []
    query = Or(
        [Term("body", word, boost=weight) for word, weight in key_terms]
        + [Term("title", word, boost=weight * TITLE_WEIGHT) for word, weight in key_terms]
    )
    # the filter as a set of document numbers from kb.index.bitsets: an ACL *query* as the
    # filter is walked one document at a time (0.8 s at 100k articles, on every article page)
    sets = bitsets.for_searcher(s, str(writer.root()))
    same_topic = sets.term("category", category) | sets.any_of(
        ("brand", brand_of(p)) for p in products if p.strip()
    )
    allowed = set(sets.ids(reader_scope(sets, visible_terms) & same_topic).tolist())
    if not allowed:  # Whoosh takes an empty filter set for no filter at all
        return []
    hits = s.search(query, limit=limit, filter=allowed, mask=Term("aid", str(article_id)))
    return [
        Related(hit["slug"], hit["title"], hit.get("type") or "", hit.get("category") or "")
        for hit in hits
    ]
