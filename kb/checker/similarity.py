"""Near-duplicate detection: jieba tokens → shingles → a bottom-k MinHash signature.

Implemented here in a few lines instead of depending on datasketch: a bottom-k sketch (the k
smallest 64-bit hashes of an article's token shingles) needs one hash per shingle rather than
k, and the Jaccard similarity of two articles is estimated from the k smallest hashes of the
union. Tokens come from the index's segmenter (jieba with the domain dictionary), so a process
loads jieba's ~90 MB dictionary once, not once for search and once for the checker.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from kb.index.analyzer import segmenter

_WORD = re.compile(r"[\w\u3400-\u9fff]")


def tokens(text: str) -> list[str]:
    """Word tokens (punctuation and spaces dropped, Latin lower-cased)."""
    return [t.lower() for t in segmenter().lcut(text, HMM=False) if _WORD.search(t)]


def _hash(shingle: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(shingle.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big"
    )


def signature(words: Iterable[str], *, shingle: int = 3, size: int = 128) -> tuple[int, ...]:
    """The ``size`` smallest hashes of the article's ``shingle``-token shingles, sorted."""
    seq = list(words)
    if len(seq) < shingle:
        grams = {" ".join(seq)} if seq else set()
    else:
        grams = {" ".join(seq[i : i + shingle]) for i in range(len(seq) - shingle + 1)}
    hashes = sorted({_hash(g) for g in grams})
    return tuple(hashes[:size])


def similarity(a: tuple[int, ...], b: tuple[int, ...], size: int = 128) -> float:
    """Estimated Jaccard similarity of two bottom-k signatures."""
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    union = sorted(sa | sb)[:size]
    both = sum(1 for h in union if h in sa and h in sb)
    return both / len(union)


def text_signature(text: str, *, shingle: int = 3, size: int = 128) -> tuple[int, ...]:
    return signature(tokens(text), shingle=shingle, size=size)


# Signatures of published articles, per process, keyed by (article id, revision id, shingle,
# size): the revision id changes on every publication, so a stale entry is never used.
_cache: dict[tuple[int, int, int, int], tuple[int, ...]] = {}
_CACHE_MAX = 50_000


def cached_signature(
    article_id: int,
    revision_id: int,
    body: str | None,
    *,
    shingle: int,
    size: int,
    scope: str = "",
) -> tuple[int, ...] | None:
    """``scope`` names the database: ids repeat across databases (tests, a second instance)."""
    key = (scope, article_id, revision_id, shingle, size)
    found = _cache.get(key)
    if found is not None or body is None:
        return found
    sig = text_signature(body, shingle=shingle, size=size)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = sig
    return sig
