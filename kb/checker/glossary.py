"""The jargon glossary: shipped as YAML, edited by curators, stored in the Setting table.

The checker asks authors to explain a glossary term the first time they use it; the public
glossary page (/glossary) is also the explanation page an article may link to. A curator's
edit replaces the whole list (as YAML text, comments kept) and is audited; removing the
setting returns to the shipped list.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SHIPPED = Path(__file__).parent / "data" / "glossary.yaml"
SETTING_KEY = "checker.glossary"
MAX_BYTES = 256 * 1024
MAX_TERMS = 3000
MAX_TERM_CHARS = 40
MAX_EXPLANATION_CHARS = 200
_LATIN_EDGE = re.compile(r"[A-Za-z0-9_]")


class GlossaryInvalid(ValueError):
    """The YAML text is not a valid glossary; ``problems`` are Chinese, one per mistake."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("；".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Term:
    term: str
    aliases: tuple[str, ...]
    explanation: str
    common: bool = False  # known to every reader (or a brand name): shown, never demanded

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)

    @property
    def anchor(self) -> str:
        return self.term


class Glossary:
    """Terms and a matcher that finds any of their forms in text."""

    def __init__(self, terms: list[Term]) -> None:
        self.terms = terms
        self._by_form: dict[str, Term] = {}
        for t in terms:
            for form in t.forms:
                self._by_form.setdefault(form, t)
        self._pattern: re.Pattern[str] | None = None

    def __len__(self) -> int:
        return len(self.terms)

    def term_of(self, form: str) -> Term | None:
        return self._by_form.get(form)

    @property
    def pattern(self) -> re.Pattern[str]:
        """Every form as one trie-shaped regex (longest form wins at a position).

        A trie keeps the work per text position to a character or two however many terms there
        are, and lets the engine skip positions whose character starts no form. Whole-word
        matching for Latin forms is left to ``matches``.
        """
        if self._pattern is None:
            self._pattern = re.compile(_trie_regex(list(self._by_form)) or r"(?!x)x")
        return self._pattern

    def matches(self, text: str) -> Iterator[re.Match[str]]:
        """Occurrences of any form; a Latin form only as a whole word (not "SSL" in OpenSSL)."""
        for m in self.pattern.finditer(text):
            form = m.group()
            a, b = m.start(), m.end()
            if _LATIN_EDGE.match(form[0]) and a > 0 and _LATIN_EDGE.match(text[a - 1]):
                continue
            if _LATIN_EDGE.match(form[-1]) and b < len(text) and _LATIN_EDGE.match(text[b]):
                continue
            yield m


def _trie_regex(words: list[str]) -> str:
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        optional = "" in node
        body = (
            branches[0] if len(branches) == 1 and not optional else "(?:" + "|".join(branches) + ")"
        )
        if optional:
            body = "(?:" + body + ")?" if len(branches) == 1 else body + "?"
        return body

    return build(trie)


def parse(text: str) -> Glossary:
    """A glossary from YAML text, or GlossaryInvalid naming each problem in Chinese."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise GlossaryInvalid([f"术语表不能超过 {MAX_BYTES // 1024} KB"])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"（第 {mark.line + 1} 行附近）" if mark is not None else ""
        raise GlossaryInvalid([f"不是合法的 YAML{where}，请检查缩进和冒号"]) from None
    except RecursionError:
        raise GlossaryInvalid(["YAML 嵌套过深"]) from None
    if data is None:
        data = []
    if not isinstance(data, list):
        raise GlossaryInvalid(["术语表应是一个列表，每一项以“- term: 术语”开头"])
    if len(data) > MAX_TERMS:
        raise GlossaryInvalid([f"术语不能超过 {MAX_TERMS} 条"])
    problems: list[str] = []
    terms: list[Term] = []
    seen: dict[str, int] = {}
    for n, item in enumerate(data, start=1):
        label = f"第 {n} 条"
        if not isinstance(item, dict):
            problems.append(f"{label}应包含 term、aliases、explanation 三个字段")
            continue
        unknown = sorted(set(map(str, item)) - {"term", "aliases", "explanation", "common"})
        if unknown:
            problems.append(f"{label}有无法识别的字段：" + "、".join(unknown))
        term = item.get("term")
        if (
            not isinstance(term, str | int | float)
            or isinstance(term, bool)
            or not str(term).strip()
        ):
            problems.append(f"{label}缺少术语（term）")
            continue
        term = str(term).strip()
        label = f"第 {n} 条“{term}”"
        aliases_raw = item.get("aliases") or []
        if isinstance(aliases_raw, str):
            aliases_raw = [aliases_raw]
        if not isinstance(aliases_raw, list) or not all(
            isinstance(a, str | int | float) and not isinstance(a, bool) for a in aliases_raw
        ):
            problems.append(f"{label}的同义写法（aliases）应为文字列表，如 [写法一, 写法二]")
            aliases_raw = []
        aliases = tuple(dict.fromkeys(str(a).strip() for a in aliases_raw if str(a).strip()))
        explanation = item.get("explanation")
        if not isinstance(explanation, str) or not explanation.strip():
            problems.append(f"{label}缺少通俗解释（explanation）")
            explanation = ""
        elif len(explanation.strip()) > MAX_EXPLANATION_CHARS:
            problems.append(f"{label}的解释不能超过 {MAX_EXPLANATION_CHARS} 个字")
        for form in (term, *aliases):
            if len(form) > MAX_TERM_CHARS:
                problems.append(
                    f"{label}的写法“{form[:20]}…”过长（不超过 {MAX_TERM_CHARS} 个字符）"
                )
            key = form.casefold()
            if key in seen and seen[key] != n:
                problems.append(f"{label}的写法“{form}”与第 {seen[key]} 条重复")
            seen.setdefault(key, n)
        common = item.get("common", False)
        if not isinstance(common, bool):
            problems.append(f"{label}的 common 只能是 true 或 false")
            common = False
        terms.append(
            Term(term, tuple(a for a in aliases if a != term), explanation.strip(), common)
        )
    if problems:
        raise GlossaryInvalid(
            problems[:20] + ([f"另有 {len(problems) - 20} 处问题"] if len(problems) > 20 else [])
        )
    return Glossary(terms)


@lru_cache(maxsize=8)
def _parse_cached(digest: str, text: str) -> Glossary:
    return parse(text)


def from_text(text: str) -> Glossary:
    """Parse with a per-process cache keyed by content, so repeated checks reuse the matcher."""
    return _parse_cached(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), text)


def shipped_text() -> str:
    return SHIPPED.read_text(encoding="utf-8")


def shipped() -> Glossary:
    return from_text(shipped_text())


# ---- storage (curator edits) ---------------------------------------------------------------


def stored_text(s: Any) -> str | None:
    """The curator's YAML from the Setting table, or None when the shipped list applies."""
    from kb.models import Setting

    row = s.get(Setting, SETTING_KEY)
    return row.value if row is not None else None


def current_text(s: Any) -> str:
    return stored_text(s) or shipped_text()


def load(s: Any) -> Glossary:
    """The glossary in force: the curator's version if valid, else the shipped one."""
    text = stored_text(s)
    if text is None:
        return shipped()
    try:
        return from_text(text)
    except GlossaryInvalid:
        # saved text was validated; this only happens if someone edited the table by hand
        return shipped()


def _diff(old: Glossary, new: Glossary) -> tuple[list[str], list[str], list[str]]:
    before = {t.term: t for t in old.terms}
    after = {t.term: t for t in new.terms}
    added = [t for t in after if t not in before]
    removed = [t for t in before if t not in after]
    changed = [t for t in after if t in before and after[t] != before[t]]
    return added, removed, changed


def save(s: Any, actor: Any, text: str) -> Glossary:
    """Validate and store a curator's glossary; audited with what was added, removed, changed."""
    from kb import audit
    from kb.errors import Invalid
    from kb.models import Setting, utcnow
    from kb.permissions import policy

    policy.require_gate(actor, policy.Gate.STAFF, "只有数据局审核员或管理员可以修改术语表。")
    text = text.replace("\r\n", "\n")
    try:
        new = parse(text)
    except GlossaryInvalid as err:
        raise Invalid(
            "术语表有误：" + "；".join(err.problems), fields={"glossary": "；".join(err.problems)}
        ) from None
    old = load(s)
    row = s.get(Setting, SETTING_KEY)
    if row is None:
        row = Setting(key=SETTING_KEY, value=text, updated_at=utcnow())
        s.add(row)
    else:
        row.value = text
        row.updated_at = utcnow()
    added, removed, changed = _diff(old, new)
    audit.record(
        s,
        actor,
        "glossary.update",
        "setting",
        SETTING_KEY,
        terms=len(new),
        added=added[:100],
        removed=removed[:100],
        changed=changed[:100],
    )
    return new


def reset(s: Any, actor: Any) -> None:
    """Drop the curator's version: the shipped glossary applies again (audited)."""
    from kb import audit
    from kb.models import Setting
    from kb.permissions import policy

    policy.require_gate(actor, policy.Gate.STAFF, "只有数据局审核员或管理员可以修改术语表。")
    row = s.get(Setting, SETTING_KEY)
    if row is not None:
        s.delete(row)
        audit.record(s, actor, "glossary.reset", "setting", SETTING_KEY)
