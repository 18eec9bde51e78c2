"""Keeps the Whoosh index in step with the database, which is the source of truth.

- Every change commits an IndexTask row with it (the outbox); ``drain`` applies pending tasks
  after the commit, under Whoosh's single-writer lock (waiting for it, never failing the
  user's request), and deletes only the tasks it applied. A crash between commit and drain
  leaves tasks behind that the next drain — at the latest at the next start — applies.
- ``rebuild`` builds a complete index into a new folder and swaps it in by rewriting the
  ``CURRENT`` pointer atomically, while searches keep answering from the old one.
- ``verify`` compares database and index; ``repair`` re-queues every difference.

Segments are written non-compound: opening a searcher or updating a document then costs
milliseconds instead of copying the whole index (measured in PERF-NOTES).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload
from whoosh import index as whoosh_index
from whoosh.index import LockError

from kb import db
from kb.index.schema import document_for, indexable, make_schema
from kb.models import Article, IndexTask

log = logging.getLogger(__name__)

POINTER = "CURRENT"
REBUILD_MARK = "REBUILDING"
STALE_REBUILD_SECONDS = 3 * 3600
BATCH = 2000


def root() -> Path:
    return Path(current_app.config["INDEX_DIR"])


def current_name(base: Path | None = None) -> str | None:
    pointer = (base or root()) / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if name and (pointer.parent / name).is_dir() else None


def open_current(base: Path | None = None) -> Any | None:
    """The live Whoosh index, or None when none has been built yet."""
    base = base or root()
    name = current_name(base)
    if name is None:
        return None
    return whoosh_index.open_dir(str(base / name))


def _swap(base: Path, name: str) -> None:
    tmp = base / f"{POINTER}.{secrets.token_hex(4)}"
    tmp.write_text(name, encoding="utf-8")
    os.replace(tmp, base / POINTER)  # atomic: readers see the old or the new name, never half


def _rebuilding(base: Path) -> bool:
    mark = base / REBUILD_MARK
    try:
        age = time.time() - mark.stat().st_mtime
    except FileNotFoundError:
        return False
    return age < STALE_REBUILD_SECONDS


def _lock_timeout() -> float:
    return float(current_app.config.get("INDEX_LOCK_TIMEOUT", 30.0))


def _apply(writer: Any, s: Session, article_ids: set[int]) -> None:
    articles = {
        a.id: a
        for a in s.scalars(
            select(Article)
            .where(Article.id.in_(article_ids))
            .options(joinedload(Article.published_revision))
        )
    }
    for aid in article_ids:
        article = articles.get(aid)
        if article is not None and indexable(article):
            writer.update_document(**document_for(article))
        else:
            writer.delete_by_term("aid", str(aid))


def _pending(s: Session) -> list[tuple[int, int]]:
    query = select(IndexTask.id, IndexTask.article_id).order_by(IndexTask.id).limit(BATCH)
    return [(tid, aid) for tid, aid in s.execute(query)]


def drain(s: Session | None = None) -> int:
    """Apply pending index tasks; returns how many articles were written or removed.

    Works in a session of its own (``s`` is accepted for callers' convenience and not used):
    what it reads must be a snapshot taken *after* it holds Whoosh's lock. A snapshot from
    before the wait — SQLite in WAL mode keeps a read transaction's view — can predate a
    change another process has since indexed and dequeued, and writing that stale view would
    undo it (seen as a published article missing from the index under four writers).
    """
    ix = open_current()
    if ix is None:
        return 0
    applied = 0
    with db.fresh_session() as ds:
        while True:
            tasks = _pending(ds)
            ds.rollback()  # end this snapshot before waiting for the lock
            if not tasks:
                return applied
            try:
                writer = ix.writer(timeout=_lock_timeout(), compound=False)
            except LockError:
                log.warning("index writer lock busy; %d task(s) stay queued", len(tasks))
                return applied
            try:
                tasks = _pending(ds)  # a fresh snapshot, taken while holding the lock
                ids = {aid for _tid, aid in tasks}
                _apply(writer, ds, ids)
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
            # A rebuild running meanwhile may have read the database before these changes:
            # keep the tasks so the drain after its swap applies them to the new index.
            if _rebuilding(root()):
                ds.rollback()
                return applied + len(ids)
            ds.execute(delete(IndexTask).where(IndexTask.id.in_([tid for tid, _aid in tasks])))
            ds.commit()
            applied += len(ids)


def drain_quietly() -> None:
    """Drain after a commit; a failure is logged and left to the next drain, never raised."""
    try:
        drain()
    except Exception:  # the change is committed and its task queued: the user's action stands
        log.exception("index drain failed; tasks stay queued")


def _published(s: Session) -> Iterator[Article]:
    query = (
        select(Article)
        .where(Article.status == "published", Article.published_revision_id.is_not(None))
        .options(joinedload(Article.published_revision))
        .order_by(Article.id)
        .execution_options(yield_per=500)
    )
    yield from s.scalars(query)


def rebuild(s: Session | None = None, *, procs: int = 1) -> dict[str, Any]:
    """Build a complete index in a new folder, swap it in, then apply what changed meanwhile.

    Reads through a session of its own whose snapshot starts after the REBUILDING mark
    exists, so every task it dequeues is one whose change that snapshot contains (``s`` is
    accepted for callers' convenience and not used).
    """
    base = root()
    base.mkdir(parents=True, exist_ok=True)
    mark = base / REBUILD_MARK
    mark.write_text(str(os.getpid()), encoding="utf-8")
    started = time.perf_counter()
    rs = db.new_session()
    try:
        last_task = rs.scalar(select(func.max(IndexTask.id))) or 0
        name = "ix-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        folder = base / name
        folder.mkdir()
        ix = whoosh_index.create_in(str(folder), make_schema())
        # compound=False for the parallel writer too: a compound segment makes every later
        # searcher open and update copy the index (52 ms vs 0.7 ms at 10k, PERF-NOTES)
        options: dict[str, Any] = {"limitmb": 256, "compound": False}
        if procs > 1:
            options.update(procs=procs, multisegment=False)
        writer = ix.writer(**options)
        count = 0
        try:
            for article in _published(rs):
                writer.add_document(**document_for(article))
                count += 1
            writer.commit()
        except BaseException:
            writer.cancel()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _swap(base, name)
        rs.execute(delete(IndexTask).where(IndexTask.id <= last_task))
        rs.commit()
    finally:
        rs.close()
        mark.unlink(missing_ok=True)
    _remove_old(base, keep={name})
    drain()
    seconds = time.perf_counter() - started
    return {"folder": str(folder), "documents": count, "seconds": seconds}


def _remove_old(base: Path, keep: set[str]) -> None:
    """Delete index folders older than the previous one (a searcher may still read that)."""
    folders = sorted((p for p in base.glob("ix-*") if p.is_dir()), key=lambda p: p.name)
    for old in folders[:-2]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def ensure_index() -> None:
    """Build the index when none exists; otherwise apply what the outbox still holds."""
    if open_current() is None:
        rebuild()
    else:
        drain()


@dataclass
class Divergence:
    missing: list[str] = field(
        default_factory=list
    )  # published in the database, absent in the index
    extra: list[str] = field(default_factory=list)  # in the index but not published (must go)
    stale: list[str] = field(default_factory=list)  # present but from another revision or ACL
    queued: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.stale)


def verify(s: Session | None = None, *, repair: bool = False) -> Divergence:
    """Compare the database with the index; with ``repair``, fix every difference."""
    s = s or db.session()
    report = Divergence(queued=s.scalar(select(func.count()).select_from(IndexTask)) or 0)
    ix = open_current()
    if ix is None:
        report.missing = [a.slug for a in _published(s)]
        if repair:
            rebuild(s)
        return report
    expected: dict[str, tuple[Any, ...]] = {}
    for article in _published(s):
        doc = document_for(article)
        expected[doc["aid"]] = (article.slug, doc["revision"], doc["acl"], doc["helpful_votes"])
    found: dict[str, tuple[Any, ...]] = {}
    with ix.searcher() as searcher:
        for fields in searcher.all_stored_fields():
            found[fields["aid"]] = (
                fields["slug"],
                fields["revision"],
                fields["acl"],
                fields["helpful_votes"],
            )
    for aid, values in expected.items():
        if aid not in found:
            report.missing.append(values[0])
        elif found[aid] != values:
            report.stale.append(values[0])
    extra_ids = [aid for aid in found if aid not in expected]
    report.extra = [found[aid][0] for aid in extra_ids]
    if repair and not report.ok:
        slugs = set(report.missing) | set(report.stale)
        for article in s.scalars(select(Article).where(Article.slug.in_(slugs))):
            s.add(IndexTask(article_id=article.id))
        s.commit()
        if extra_ids:
            writer = ix.writer(timeout=_lock_timeout(), compound=False)
            for aid in extra_ids:
                writer.delete_by_term("aid", aid)
            writer.commit()
        drain(s)
    return report
