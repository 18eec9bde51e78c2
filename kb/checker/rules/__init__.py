"""Every rule module, imported in family order so the registry lists rules predictably."""

from kb.checker.rules import (  # noqa: F401
    duplicates,
    layout,
    links,
    operability,
    privacy,
    readability,
    safety,
    structure,
    timeliness,
)
