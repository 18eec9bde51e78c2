"""Every rule module, imported in family order so the registry lists rules predictably."""

from kb.checker.rules import (  # noqa: F401
    structure,
    operability,
    readability,
    layout,
    privacy,
    safety,
    links,
    timeliness,
    duplicates,
)
