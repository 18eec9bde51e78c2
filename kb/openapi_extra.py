"""API paths added by later features (search, checker, feedback, tickets), kept apart so each
feature registers its own description."""

from __future__ import annotations

from typing import Any


def extra_paths() -> dict[str, Any]:
    return {}
