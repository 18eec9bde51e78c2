"""The search index, derived from the database: analysis, schema, writing and searching.

Every Whoosh call lives in this package so the engine can be replaced.
"""

from __future__ import annotations


def after_commit() -> None:
    """Let the index catch up with what was just committed, without making the caller wait.

    ``KB_INDEX_DRAIN`` decides how: ``background`` (kb serve: wake kb.index.drainer's thread),
    ``deferred`` (CLI commands: the command drains once at its end), ``inline`` (the default
    for an app used directly, e.g. by tests: drain now).
    """
    from flask import current_app, has_app_context

    if not has_app_context() or not current_app.config.get("INDEX_ENABLED", True):
        return
    mode = current_app.config.get("INDEX_DRAIN", "inline")
    if mode == "deferred":
        return
    from kb.index import drainer, writer

    if mode == "background" and drainer.wake():
        return
    writer.drain_quietly()
    # build the new generation's live set, lengths and facet sets now, not in the first search
    from kb.index import searcher

    searcher.warm()
