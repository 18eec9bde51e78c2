"""The one place rules are registered: id, severity, a short Chinese title, the function.

A rule function takes (rule, document, context) and yields findings made with ``rule.at``;
``kb.checker.rules`` imports every rule module so that importing it fills ``RULES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kb.checker.report import SEVERITIES, Finding

if TYPE_CHECKING:
    from kb.checker.context import CheckContext
    from kb.checker.document import Document

FAMILIES = {
    "KB-STRUCT": "结构与完整性",
    "KB-OPS": "可操作性",
    "KB-READ": "可读性与术语",
    "KB-LAYOUT": "排版",
    "KB-PRIV": "隐私保护",
    "KB-SAFE": "不安全的标记",
    "KB-LINK": "链接与图片",
    "KB-TIME": "时效性",
    "KB-DUP": "重复内容",
}

RuleFunc = Callable[["Rule", "Document", "CheckContext"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    func: RuleFunc

    @property
    def family(self) -> str:
        return self.id.rsplit("-", 1)[0]

    def at(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        fix: str | None = None,
        **_: Any,
    ) -> Finding:
        return Finding(self.id, self.severity, message, line, column, fix)


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: str, title: str) -> Callable[[RuleFunc], RuleFunc]:
    """Register a rule function under a stable id."""
    family = rule_id.rsplit("-", 1)[0]
    if family not in FAMILIES or severity not in SEVERITIES:
        raise ValueError(f"bad rule declaration {rule_id} {severity}")
    if rule_id in RULES:
        raise ValueError(f"rule {rule_id} registered twice")

    def register(func: RuleFunc) -> RuleFunc:
        RULES[rule_id] = Rule(rule_id, severity, title, func)
        return func

    return register
