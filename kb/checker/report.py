"""Findings and reports of the content checker."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "hint")


@dataclass(frozen=True)
class Finding:
    rule: str  # stable id, e.g. KB-PRIV-001
    severity: str  # error blocks submission; warning and hint inform
    message: str  # Chinese: what is wrong and how to fix it
    line: int | None = None  # 1-based line in the source, front matter included
    column: int | None = None  # 1-based column
    fix: str | None = None  # suggested replacement text, where one can be given

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self.findings]
