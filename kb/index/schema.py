"""The Whoosh schema and ``document_for``: what an article contributes to the index.

Only what result lists show is stored (title, summary, plain-text body for snippets, facets);
ACL terms are indexed so the searcher can AND the reader's visibility into every query.
"""

from __future__ import annotations

import math
from typing import Any

from pypinyin import Style, lazy_pinyin
from whoosh.analysis import LowercaseFilter, SpaceSeparatedTokenizer
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from kb import render
from kb.index.analyzer import ChineseAnalyzer, precise_words
from kb.models import Article
from kb.permissions.policy import document_acl

SCHEMA_VERSION = 1
SEARCH_FIELDS = {  # field → boost (BM25F weights)
    "title": 5.0,
    "products": 3.0,
    "tags": 2.5,
    "headings": 2.0,
    "summary": 2.0,
    "pinyin": 2.0,
    "body": 1.0,
}


def make_schema() -> Schema:
    chinese = ChineseAnalyzer()
    spaced = SpaceSeparatedTokenizer() | LowercaseFilter()
    return Schema(
        aid=ID(stored=True, unique=True),
        slug=ID(stored=True),
        title=TEXT(analyzer=chinese, stored=True, chars=True),
        summary=TEXT(analyzer=chinese, stored=True, chars=True),
        headings=TEXT(analyzer=chinese),
        body=TEXT(analyzer=chinese, stored=True, chars=True),
        products=TEXT(analyzer=chinese),
        tags=TEXT(analyzer=chinese),
        pinyin=TEXT(analyzer=spaced, phrase=False),
        type=ID(stored=True, sortable=True),
        category=ID(stored=True, sortable=True),
        enterprise=ID(stored=True, sortable=True),
        brand=KEYWORD(stored=True, commas=True, vector=True),
        acl=KEYWORD(stored=True),
        updated=NUMERIC(int, bits=64, stored=True, sortable=True, signed=False),
        helpful=NUMERIC(int, bits=32, stored=True, sortable=True),  # Wilson score × 10,000
        product_list=STORED,
        helpful_votes=STORED,
        revision=STORED,
    )


def brand_of(product: str) -> str:
    """The brand of "惠普 LaserJet M1136" is 惠普; a product without a space is its own brand."""
    return product.strip().split(" ", 1)[0][:40]


def pinyin_terms(*texts: str) -> str:
    """Full pinyin and initials of every Chinese word (dayinji, dyj), space separated."""
    out: list[str] = []
    for text in texts:
        for word in precise_words(text):
            if any("\u3400" <= ch <= "\u9fff" for ch in word):
                out.append("".join(lazy_pinyin(word)))
                out.append("".join(lazy_pinyin(word, style=Style.FIRST_LETTER)))
    return " ".join(dict.fromkeys(t for t in out if t.isascii() and t.isalnum()))


def helpful_score(yes: int, no: int) -> float:
    """Lower bound of the Wilson interval: few votes count for less than many."""
    n = yes + no
    if n == 0:
        return 0.0
    z = 1.96
    p = yes / n
    return (p + z * z / (2 * n) - z * math.sqrt((p * (1 - p) + z * z / (4 * n)) / n)) / (
        1 + z * z / n
    )


def document_for(article: Article) -> dict[str, Any]:
    """The index document of a published article (pure: reads only the article and revision)."""
    revision = article.published_revision
    assert revision is not None
    meta = revision.meta
    rendered = render.render(revision.body)
    # stored text stays as written (full-width punctuation and all); the analyzer folds it
    title = meta.get("title") or article.title
    products = list(meta.get("products") or [])
    tags = list(meta.get("tags") or [])
    return {
        "aid": str(article.id),
        "slug": article.slug,
        "title": title,
        "summary": meta.get("summary") or "",
        "headings": " ".join(text for _level, _id, text in rendered.toc),
        "body": render.plain_text(revision.body),
        "products": " ".join(products + list(meta.get("os") or [])),
        "tags": " ".join(tags),
        "pinyin": pinyin_terms(title, *products, *tags),
        "type": article.type,
        "category": article.category,
        "enterprise": article.owner.code,
        "brand": ",".join(dict.fromkeys(brand_of(p) for p in products if p.strip())),
        "acl": " ".join(document_acl(article, article.owner.code)),
        "updated": int(article.updated_at.timestamp()),
        "helpful": round(helpful_score(article.helpful_yes, article.helpful_no) * 10_000),
        "product_list": products,
        "helpful_votes": [article.helpful_yes, article.helpful_no],
        "revision": revision.id,
    }


def indexable(article: Article) -> bool:
    return article.status == "published" and article.published_revision_id is not None
