"""Near-duplicate detection: jieba tokens → shingles → a bottom-k MinHash signature.

Implemented here in a few lines instead of depending on datasketch: a bottom-k sketch (the k
smallest 64-bit hashes of an article's token shingles) needs one hash per shingle rather than
k, and the Jaccard similarity of two articles is estimated from the k smallest hashes of the
union. jieba is kb.checker's own: the global tokenizer with the domain dictionary, loaded once;
kb/index has its own analyzer and the two stay independent.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

USERDICT = Path(__file__).resolve().parent.parent / "index" / "data" / "userdict.txt"
_WORD = re.compile(r"[\w\u3400-\u9fff]")
_lock = threading.Lock()
_loaded = False


def _jieba():  # type: ignore[no-untyped-def]
    """jieba with its cache in the temp dir, quiet, with the domain dictionary (once)."""
    global _loaded
    import jieba

    if not _loaded:
        with _lock:
            if not _loaded:
                jieba.setLogLevel(logging.WARNING)
                jieba.dt.tmp_dir = tempfile.gettempdir()
                jieba.dt.cache_file = "kb-checker-jieba.cache"
                if USERDICT.exists():
                    # jieba leaves a file it opens itself unclosed; hand it one we close
                    with USERDICT.open("rb") as words:
                        jieba.load_userdict(words)
                _loaded = True
    return jieba


def tokens(text: str) -> list[str]:
    """Word tokens (punctuation and spaces dropped, Latin lower-cased)."""
    return [t.lower() for t in _jieba().lcut(text, HMM=False) if _WORD.search(t)]


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
    article_id: int, revision_id: int, body: str | None, *, shingle: int, size: int
) -> tuple[int, ...] | None:
    key = (article_id, revision_id, shingle, size)
    found = _cache.get(key)
    if found is not None or body is None:
        return found
    sig = text_signature(body, shingle=shingle, size=size)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = sig
    return sig
