"""What the checker may know beyond the text; built from the database by ``context_from_db``.

Every field is optional so ``check(text)`` alone works (CLI without a database, tests): the
shipped glossary and product catalogue and the default thresholds apply, links to other
articles and duplicates are simply not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kb.checker.config import DEFAULT, Thresholds
from kb.checker.glossary import Glossary
from kb.checker.products import Catalogue


@dataclass(frozen=True)
class Published:
    """A published article as the duplicate rule sees it."""

    slug: str
    title: str
    signature: tuple[int, ...]


@dataclass
class CheckContext:
    """What the checker may know beyond the text: the rest of the knowledge base."""

    today: date = field(default_factory=date.today)
    known_slugs: set[str] | None = None  # None: links are not checked against the database
    self_slug: str | None = None
    glossary: Glossary | None = None  # None: the shipped glossary
    products: Catalogue | None = None  # None: the shipped product catalogue
    thresholds: Thresholds = DEFAULT
    base_dir: Path | None = None  # where relative images live; None: not checked
    published: list[Published] | None = None  # None: duplicates are not checked
