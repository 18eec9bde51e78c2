"""Synonym groups (统信/UOS, 脱机/离线, …) applied at query time.

The shipped groups are package data; curators may replace them (stored in the ``setting``
table under ``synonyms``). The parsed map is cached per process and rebuilt when the stored
text changes.
"""

from __future__ import annotations

import time
from importlib import resources

from sqlalchemy.orm import Session

from kb import audit
from kb.errors import Invalid
from kb.index.analyzer import normalise, precise_words
from kb.models import Setting, utcnow

KEY = "synonyms"
MAX_GROUPS = 3000
MAX_TERMS_PER_GROUP = 20
MAX_TERM_LENGTH = 40

_cache: tuple[str, dict[str, list[tuple[str, ...]]]] | None = None


def shipped_text() -> str:
    return (resources.files("kb.index") / "data" / "synonyms.txt").read_text(encoding="utf-8")


def current_text(s: Session) -> str:
    stored = s.get(Setting, KEY)
    return stored.value if stored is not None else shipped_text()


def parse(text: str) -> list[list[str]]:
    """Groups from the text form: one group per line, terms separated by spaces, # comments.

    Raises ``Invalid`` naming the line of any malformed group.
    """
    groups: list[list[str]] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        terms = list(dict.fromkeys(normalise(t) for t in line.split()))
        if len(terms) < 2:
            problems.append(f"第 {number} 行只有一个词，同义词组至少要两个词")
        elif len(terms) > MAX_TERMS_PER_GROUP:
            problems.append(f"第 {number} 行超过 {MAX_TERMS_PER_GROUP} 个词")
        elif any(len(t) > MAX_TERM_LENGTH for t in terms):
            problems.append(f"第 {number} 行有超过 {MAX_TERM_LENGTH} 个字符的词")
        else:
            groups.append(terms)
    if len(groups) > MAX_GROUPS:
        problems.append(f"同义词组不能超过 {MAX_GROUPS} 组")
    if problems:
        raise Invalid(
            "同义词有误：" + "；".join(problems[:10]), fields={"synonyms": "；".join(problems[:10])}
        )
    return groups


def _build(text: str) -> dict[str, list[tuple[str, ...]]]:
    """Map each term (as the analyzer cuts it, joined by spaces) to its alternatives' words."""
    mapping: dict[str, list[tuple[str, ...]]] = {}
    for group in parse(text):
        analysed = [tuple(precise_words(term)) for term in group]
        analysed = [a for a in analysed if a]
        for key in analysed:
            alternatives = [alt for alt in analysed if alt != key]
            mapping.setdefault(" ".join(key), []).extend(alternatives)
    return mapping


RECHECK_SECONDS = 2.0  # how stale another process's edit may be here (this one's: never)
_checked = 0.0


def mapping(s: Session) -> dict[str, list[tuple[str, ...]]]:
    """The parsed groups; the stored text is re-read at most every ``RECHECK_SECONDS`` (a
    database read per search cost 3 ms of a 20 ms search)."""
    global _cache, _checked
    now = time.monotonic()
    if _cache is not None and now - _checked < RECHECK_SECONDS:
        return _cache[1]
    text = current_text(s)
    if _cache is None or _cache[0] != text:
        _cache = (text, _build(text))
    _checked = now
    return _cache[1]


def _forget() -> None:
    global _checked
    _checked = 0.0


def save(s: Session, actor: object, text: str) -> int:
    """Replace the synonym groups (curators); returns the number of groups."""
    groups = parse(text)
    stored = s.get(Setting, KEY)
    if stored is None:
        s.add(Setting(key=KEY, value=text, updated_at=utcnow()))
    else:
        stored.value = text
        stored.updated_at = utcnow()
    audit.record(s, actor, "synonyms.update", "setting", KEY, groups=len(groups))
    _forget()
    return len(groups)


def reset(s: Session, actor: object) -> None:
    stored = s.get(Setting, KEY)
    if stored is not None:
        s.delete(stored)
        audit.record(s, actor, "synonyms.reset", "setting", KEY)
    _forget()
