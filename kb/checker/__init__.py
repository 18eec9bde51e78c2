"""The content checker: holds every article to the knowledge-base standard (seed 002, 六).

``check(text, context)`` returns a Report of findings; the same call serves the editor's live
panel, submission, the curator's review page, ``kb check`` and ``POST /api/v1/check``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from kb.checker.report import Finding, Report

__all__ = ["CheckContext", "Finding", "Report", "check"]


@dataclass
class CheckContext:
    """What the checker may know beyond the text: the rest of the knowledge base."""

    today: date = field(default_factory=date.today)
    known_slugs: set[str] | None = None  # None: links are not checked against the database
    self_slug: str | None = None


def check(text: str, context: CheckContext | None = None) -> Report:
    """Check one article source (front matter + Markdown)."""
    return Report()


def context_from_db(s, self_slug: str | None = None) -> CheckContext:  # type: ignore[no-untyped-def]
    """A context that knows the slugs in the database (for link checks)."""
    from sqlalchemy import select

    from kb.models import Article

    return CheckContext(known_slugs=set(s.scalars(select(Article.slug))), self_slug=self_slug)
