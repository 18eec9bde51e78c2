"""The Whoosh schema and ``document_for``: what an article contributes to the index.

Only what result lists show is stored (title, summary, plain-text body for snippets, facets);
ACL terms are indexed so the searcher can AND the reader's visibility into every query.
"""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache
from typing import Any

from pypinyin import Style, lazy_pinyin
from whoosh.analysis import LowercaseFilter, SpaceSeparatedTokenizer
from whoosh.fields import ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from kb.index.analyzer import ChineseAnalyzer, precise_words
from kb.models import Article
from kb.permissions.policy import document_acl

# Bumped whenever what the index holds changes, so an index built by older code can be told
# apart and rebuilt. 4: term frequencies are scored (no change on disk) and ``review_by``.
INDEX_SCHEMA_VERSION = 4
SCHEMA_VERSION = INDEX_SCHEMA_VERSION  # what kb-index.json records
# Three scored fields, not one per front-matter key: every field multiplies the term matchers
# of every query word, and Whoosh scores them in pure Python (six fields cost 2 s at 10k).
SEARCH_FIELDS = {  # field → boost (BM25F weights)
    "title": 5.0,
    "keywords": 2.5,  # products, OS, tags, headings, summary
    "body": 1.0,
}
PINYIN_BOOST = 2.0


def make_schema() -> Schema:
    chinese = ChineseAnalyzer()
    spaced = SpaceSeparatedTokenizer() | LowercaseFilter()
    return Schema(
        aid=ID(stored=True, unique=True),
        slug=ID(stored=True),
        # no stored character offsets: highlights are found by string search (ranker.spans)
        title=TEXT(analyzer=chinese, stored=True),
        keywords=TEXT(analyzer=chinese),
        body=TEXT(analyzer=chinese, stored=True),
        summary=STORED,
        pinyin=TEXT(analyzer=spaced, phrase=False),
        type=ID(stored=True, sortable=True),
        category=ID(stored=True, sortable=True),
        enterprise=ID(stored=True, sortable=True),
        brand=KEYWORD(stored=True, commas=True, vector=True),
        acl=KEYWORD(stored=True),
        updated=NUMERIC(int, bits=64, stored=True, sortable=True, signed=False),
        helpful=NUMERIC(int, bits=32, stored=True, sortable=True),  # Wilson score × 10,000
        # the article's 复审日期 as days since 1970-01-01 (0: none); past it, it ranks lower
        review_by=NUMERIC(int, bits=32, sortable=True, signed=False),
        product_list=STORED,
        helpful_votes=STORED,
        revision=STORED,
    )


_EPOCH = date(1970, 1, 1)


def review_day(value: date | None) -> int:
    """A review date as days since 1970-01-01, 0 for none (the index's ``review_by``)."""
    return (value - _EPOCH).days if value else 0


def brand_of(product: str) -> str:
    """The brand of "惠普 LaserJet M1136" is 惠普; a product without a space is its own brand."""
    return product.strip().split(" ", 1)[0][:40]


@lru_cache(maxsize=50_000)
def _pinyin(word: str) -> tuple[str, str]:
    return "".join(lazy_pinyin(word)), "".join(lazy_pinyin(word, style=Style.FIRST_LETTER))


def pinyin_terms(*texts: str) -> str:
    """Full pinyin and initials of every Chinese word (dayinji, dyj), space separated."""
    out: list[str] = []
    for text in texts:
        for word in precise_words(text):
            if any("\u3400" <= ch <= "\u9fff" for ch in word):
                out.extend(_pinyin(word))
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


_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,})")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LINE_MARK = re.compile(r"^\s*(?:>\s*)*(?:[-*+]|\d{1,9}[.)])?\s+")
_INLINE = [
    (re.compile(r"!\[([^\]\n]{0,300})\]\([^)\n]{0,500}\)"), r"\1"),  # image → alt text
    (re.compile(r"\[([^\]\n]{0,300})\]\([^)\n]{0,500}\)"), r"\1"),  # link → its text
    (re.compile(r"(\*\*|__|`)"), ""),
    (re.compile(r"\s*\|\s*"), " "),
]


def plain_text(body: str) -> tuple[str, str]:
    """(readable text, headings) of a Markdown body, for indexing and snippets.

    Line-by-line and regex-only, so indexing never pays for a full render (measured 9-18 ms
    per article, more than jieba); code stays in, since readers search for commands.
    """
    lines: list[str] = []
    headings: list[str] = []
    for line in body.split("\n"):
        if _FENCE.match(line) or _TABLE_RULE.match(line):
            continue
        heading = _HEADING.match(line)
        if heading:
            headings.append(heading.group(1))
            lines.append(heading.group(1))
            continue
        lines.append(_LINE_MARK.sub("", line, count=1))
    text = " ".join(part for part in (ln.strip() for ln in lines) if part)
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text, " ".join(headings)


def document_for(article: Article) -> dict[str, Any]:
    """The index document of a published article (pure: reads only the article and revision)."""
    revision = article.published_revision
    assert revision is not None
    meta = revision.meta
    body, headings = plain_text(revision.body)
    # stored text stays as written (full-width punctuation and all); the analyzer folds it
    title = meta.get("title") or article.title
    products = list(meta.get("products") or [])
    tags = list(meta.get("tags") or [])
    return {
        "aid": str(article.id),
        "slug": article.slug,
        "title": title,
        "summary": meta.get("summary") or "",
        "keywords": " ".join(
            [*products, *(meta.get("os") or []), *tags, headings, meta.get("summary") or ""]
        ),
        "body": body,
        "pinyin": pinyin_terms(title, *products, *tags),
        "type": article.type,
        "category": article.category,
        "enterprise": article.owner.code,
        "brand": ",".join(dict.fromkeys(brand_of(p) for p in products if p.strip())),
        "acl": " ".join(document_acl(article, article.owner.code)),
        "updated": int(article.updated_at.timestamp()),
        "helpful": round(helpful_score(article.helpful_yes, article.helpful_no) * 10_000),
        "review_by": review_day(article.review_by),
        "product_list": products,
        "helpful_votes": [article.helpful_yes, article.helpful_no],
        "revision": revision.id,
    }


def indexable(article: Article) -> bool:
    return article.status == "published" and article.published_revision_id is not None
