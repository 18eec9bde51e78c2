"""The search index, derived from the database: analysis, schema, writing and searching.

Every Whoosh call lives in this package so the engine can be replaced.
"""

from __future__ import annotations


def after_commit() -> None:
    """Bring the index up to date with what was just committed (drains the outbox)."""
    from flask import current_app, has_app_context

    if not has_app_context() or not current_app.config.get("INDEX_ENABLED", True):
        return
    from kb.index import writer

    writer.drain_quietly()
    # build the new generation's live set, lengths and facet sets now, not in the first search
    from kb.index import searcher

    searcher.warm()
