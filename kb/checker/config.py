"""Checker thresholds: one dataclass, defaults tuned on the sample articles, overridable per app.

The application config key ``CHECKER_THRESHOLDS`` (a mapping of field name to value) overrides
any of these; rules read them from the context and never hold numbers of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

# the smallest body (in Chinese characters plus Latin words) that carries real substance
DEFAULT_MIN_SUBSTANCE = {
    "常见问题": 80,
    "故障处理": 150,
    "操作指南": 150,
    "产品配置": 150,
    "技术原理": 300,
    "疑难问题": 200,
}


@dataclass(frozen=True)
class Thresholds:
    """Every number a rule compares against."""

    # inputs larger than this get one clear finding instead of a full check (the editor and
    # the API refuse bodies over 200 KB anyway; this keeps any input under two seconds)
    max_chars: int = 200_000
    # readability, measured in Chinese characters (Latin words count as one each)
    sentence_max_chars: int = 80
    paragraph_max_chars: int = 200
    # operability: a procedure with more numbered steps than this wants a figure
    long_procedure_steps: int = 8
    # minimum substance per article type
    min_substance: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MIN_SUBSTANCE))
    # timeliness: review_by at most this many days ahead
    review_max_days: int = 731
    # duplicates: estimated Jaccard similarity over jieba-token shingles
    duplicate_similarity: float = 0.6
    duplicate_shingle: int = 3
    minhash_size: int = 128
    duplicate_max_reported: int = 3
    # typography: lines longer than this are not handed to autocorrect (its parser has a call
    # limit); they are reported as overlong paragraphs instead
    typography_max_line: int = 4000
    # jargon: at most this many unexplained-term findings per article, the rest summarised
    jargon_max_findings: int = 10
    # any rule: at most this many findings, then one that counts the rest
    max_findings_per_rule: int = 30

    @classmethod
    def from_mapping(cls, overrides: dict[str, Any] | None) -> Thresholds:
        """Defaults with the given overrides; unknown keys or wrong types raise ValueError."""
        base = cls()
        if not overrides:
            return base
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key not in known:
                raise ValueError(f"CHECKER_THRESHOLDS: unknown threshold {key!r}")
            default = getattr(base, key)
            if isinstance(default, dict):
                if not isinstance(value, dict):
                    raise ValueError(f"CHECKER_THRESHOLDS: {key} must be a mapping")
                value = {**default, **value}
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"CHECKER_THRESHOLDS: {key} must be a number")
                value = float(value)
            elif isinstance(default, int) and not _is_int(value):
                raise ValueError(f"CHECKER_THRESHOLDS: {key} must be an integer")
            changes[key] = value
        return replace(base, **changes)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


DEFAULT = Thresholds()


def from_app() -> Thresholds:
    """The thresholds of the current Flask app, or the defaults outside an app."""
    try:
        from flask import current_app, has_app_context
    except ImportError:  # pragma: no cover - flask is a dependency
        return DEFAULT
    if not has_app_context():
        return DEFAULT
    return Thresholds.from_mapping(current_app.config.get("CHECKER_THRESHOLDS"))
