"""Keeps the Whoosh index in step with the database, which is the source of truth.

- Every change commits an IndexTask row with it. The rows form a *log*, not a queue: each
  index (each node's ``KB_INDEX_DIR``) records in its ``kb-index.json`` how far it has read
  (``cursor``, the highest id applied), so several nodes on one database each apply every
  change. ``drain`` applies the rows after the cursor; it runs in kb.index.drainer's
  background thread in a server, and at the end of CLI commands — never inside a request.
- Ids are handed out before commit, so on PostgreSQL a row with a smaller id can become
  visible after a larger one: ids skipped over are kept as ``gaps`` for a few minutes and
  looked for again, and applying a row twice is harmless (it rewrites the article from the
  database).
- ``prune`` deletes log rows older than ``KB_INDEX_LOG_DAYS`` and records how far it went; an
  index whose cursor is behind that (a node that was off for longer) is rebuilt.
- ``rebuild`` builds a complete index in a new folder and swaps it in by rewriting the
  ``CURRENT`` pointer atomically, while searches keep answering from the old one; ``repair``
  does the same for a damaged, outdated or missing index, on its own (kb.index.health).
- ``verify`` compares (article, revision, ACL) sets of database and index; ``repair=True``
  fixes every difference.

Segments are written non-compound: opening a searcher or updating a document then costs
milliseconds instead of copying the whole index (measured in PERF-NOTES).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec, W3Segment
from whoosh.index import LockError

from kb import db
from kb.index import health
from kb.index.health import POINTER, Problem
from kb.index.schema import INDEX_SCHEMA_VERSION, document_for, indexable, make_schema
from kb.models import Article, Feedback, IndexTask, Setting

log = logging.getLogger(__name__)

BATCH = 2000
GAP_SECONDS = 600  # a transaction open longer than this is not waited for
MAX_GAPS = 5000
START_WINDOW = 100  # ids below the newest a still-committing transaction may hold
PRUNED_KEY = "index_log_pruned_through"


def root() -> Path:
    return Path(current_app.config["INDEX_DIR"])


def current_name(base: Path | None = None) -> str | None:
    base = base or root()
    name = health.current_name(base)
    return name if name and (base / name).is_dir() else None


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


SEGMENT_ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


class _UniqueSegmentCodec(W3Codec):
    """Whoosh's own codec, except for how a new segment is named.

    Whoosh names segments from the ``random`` module's global state. Anything that seeds it
    (a test framework does so for every example; a library might) makes the next writer pick a
    name an existing segment already has, and creating its files truncates that segment: the
    index then fails with "Unknown file header". Names drawn from ``secrets`` and checked
    against the folder cannot collide. The segment itself carries a plain ``W3Codec``, so the
    table of contents pickles only Whoosh's classes.
    """

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        taken = {name.split(".", 1)[0] for name in storage.list()}
        while True:
            segid = "".join(secrets.choice(SEGMENT_ID_CHARS) for _ in range(16))
            if f"{indexname}_{segid}" not in taken:
                break
        plain = W3Codec(self._blocklimit, self._compression, self._inlinelimit)
        return W3Segment(plain, indexname, segid=segid)


def index_writer(ix: Any, **options: Any) -> Any:
    """A Whoosh writer for ``ix`` whose new segments never reuse an existing segment's name."""
    return ix.writer(codec=_UniqueSegmentCodec(), **options)


def _lock_timeout() -> float:
    return float(current_app.config.get("INDEX_LOCK_TIMEOUT", 30.0))


def _record(
    folder: Path, cursor: int, gaps: dict[str, float], counts_synced: str | None = None
) -> None:
    """Write kb-index.json after a commit, under the write lock (see health.write_lock)."""
    if counts_synced is None:
        counts_synced = (health.read_meta(folder) or {}).get("counts_synced")
    health.write_meta(
        folder,
        {
            "schema": INDEX_SCHEMA_VERSION,
            "cursor": cursor,
            "gaps": gaps,
            "counts_synced": counts_synced or datetime.now(UTC).isoformat(),
            "files": health.file_sizes(folder),
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def _apply(writer: Any, s: Session, article_ids: set[int]) -> None:
    articles = {
        a.id: a
        for a in s.scalars(
            select(Article)
            .where(Article.id.in_(article_ids))
            .options(joinedload(Article.published_revision), joinedload(Article.owner))
        )
    }
    for aid in article_ids:
        article = articles.get(aid)
        if article is not None and indexable(article):
            writer.update_document(**document_for(article))
        else:
            writer.delete_by_term("aid", str(aid))


def _pending(s: Session, cursor: int, gaps: dict[str, float]) -> list[tuple[int, int]]:
    query = select(IndexTask.id, IndexTask.article_id).where(IndexTask.id > cursor)
    rows = list(s.execute(query.order_by(IndexTask.id).limit(BATCH)))
    if gaps:
        wanted = [int(g) for g in gaps]
        rows += list(
            s.execute(select(IndexTask.id, IndexTask.article_id).where(IndexTask.id.in_(wanted)))
        )
    return [(tid, aid) for tid, aid in rows]


def _advance(
    cursor: int, gaps: dict[str, float], seen: list[int], now: float
) -> tuple[int, dict[str, float]]:
    """The new cursor and gaps after applying the rows ``seen``."""
    seen_set = set(seen)
    kept = {g: t for g, t in gaps.items() if int(g) not in seen_set and now - t < GAP_SECONDS}
    top = max([cursor, *seen])
    for missing in set(range(cursor + 1, top + 1)) - seen_set:
        kept[str(missing)] = now
    if len(kept) > MAX_GAPS:  # a burst of rolled-back ids: keep the newest
        kept = dict(sorted(kept.items(), key=lambda kv: int(kv[0]))[-MAX_GAPS:])
    return top, kept


def cursor_of(base: Path | None = None) -> int | None:
    base = base or root()
    name = current_name(base)
    meta = health.read_meta(base / name) if name else None
    return int(meta.get("cursor", 0)) if meta else None


def drain(s: Session | None = None) -> int:
    """Apply the log rows this index has not applied yet; returns how many articles it wrote.

    Reads through a session of its own, with each batch read *after* the write lock is held:
    a read from before the wait could predate a change another process has since applied, and
    writing that older view would undo it. ``s`` is accepted for callers and not used.
    """
    base = root()
    name = current_name(base)
    if name is None or health.repairing(base):
        return 0
    folder = base / name
    applied = 0
    with db.fresh_session() as ds:
        while True:
            meta = health.read_meta(folder)
            if meta is None:
                return applied  # no record: the health check rebuilds it
            if not _pending(ds, int(meta.get("cursor", 0)), meta.get("gaps") or {}):
                ds.rollback()
                return applied
            ds.rollback()  # end this read before waiting for the lock
            with health.write_lock(base, _lock_timeout()) as held:
                if not held:
                    log.warning("index write lock busy; the log stays unapplied for now")
                    return applied
                if current_name(base) != name:
                    return applied  # swapped meanwhile: the new index has its own cursor
                meta = health.read_meta(folder) or {}
                cursor, gaps = int(meta.get("cursor", 0)), meta.get("gaps") or {}
                tasks = _pending(ds, cursor, gaps)
                ds.rollback()
                if not tasks:
                    return applied
                ids = {aid for _tid, aid in tasks}
                try:
                    writer = index_writer(
                        whoosh_index.open_dir(str(folder)),
                        timeout=_lock_timeout(),
                        compound=False,
                    )
                except LockError:
                    log.warning("Whoosh lock busy; the log stays unapplied for now")
                    return applied
                try:
                    _apply(writer, ds, ids)
                    writer.commit()
                except BaseException:
                    writer.cancel()
                    raise
                finally:
                    ds.rollback()
                cursor, gaps = _advance(cursor, gaps, [tid for tid, _a in tasks], time.time())
                _record(folder, cursor, gaps)
            applied += len(ids)


def sync_counts() -> int:
    """Rewrite the documents of articles voted on since the last sync (the ``helpful`` sort
    column); returns how many. Run by the drainer every KB_INDEX_COUNTS_SECONDS: votes never make an
    index commit of their own, so they do not invalidate every worker's search caches."""
    base = root()
    name = current_name(base)
    if name is None or health.repairing(base):
        return 0
    folder = base / name
    with health.write_lock(base, _lock_timeout()) as held:
        if not held or current_name(base) != name:
            return 0
        meta = health.read_meta(folder)
        if meta is None:
            return 0
        since = datetime.fromisoformat(meta.get("counts_synced") or datetime.now(UTC).isoformat())
        now = datetime.now(UTC)
        with db.fresh_session() as s:
            ids = set(
                s.scalars(select(Feedback.article_id).where(Feedback.updated_at > since).distinct())
            )
            if ids:
                writer = index_writer(
                    whoosh_index.open_dir(str(folder)), timeout=_lock_timeout(), compound=False
                )
                try:
                    _apply(writer, s, ids)
                    writer.commit()
                except BaseException:
                    writer.cancel()
                    raise
        _record(folder, int(meta.get("cursor", 0)), meta.get("gaps") or {}, now.isoformat())
        return len(ids)


def backlog() -> int:
    """How many log rows this index has not applied (0 without an index)."""
    cursor = cursor_of()
    if cursor is None:
        return 0
    with db.fresh_session() as s:
        return s.scalar(select(func.count()).where(IndexTask.id > cursor)) or 0


def drain_quietly() -> None:
    """Drain; a failure is logged and left to the next drain, never raised."""
    try:
        drain()
    except Exception:  # the change is committed and logged: the user's action stands
        log.exception("index drain failed; the log stays unapplied for now")


def _published_query() -> Any:
    return (
        select(Article)
        .where(Article.status == "published", Article.published_revision_id.is_not(None))
        .options(joinedload(Article.published_revision), joinedload(Article.owner))
        .order_by(Article.id)
        .execution_options(yield_per=500)
    )


def _start_position(s: Session) -> tuple[int, dict[str, float]]:
    """Where a new index starts reading the log: its highest id, and recent ids not (yet)
    visible — on PostgreSQL those may belong to transactions still committing."""
    top = s.scalar(select(func.max(IndexTask.id))) or 0
    low = max(1, top - START_WINDOW + 1)
    window = set(s.scalars(select(IndexTask.id).where(IndexTask.id >= low, IndexTask.id <= top)))
    now = time.time()
    gaps = {str(i): now for i in range(low, top + 1) if i not in window}
    return top, gaps


def rebuild(s: Session | None = None, *, procs: int = 1) -> dict[str, Any]:
    """Build a complete index in a new folder and swap it in (waits for a rebuild already
    running on this node); then apply what changed meanwhile."""
    base = root()
    with health.rebuild_lock(base, wait=True):
        info = _rebuild_locked(base, procs)
    drain()
    return info


def _rebuild_locked(base: Path, procs: int = 1) -> dict[str, Any]:
    started = time.perf_counter()
    name = "ix-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    folder = base / name
    folder.mkdir(parents=True)
    count = 0
    rs = db.new_session()
    try:
        # The log position first, the articles after: anything committed later has a larger
        # id and is applied by the drain that follows (no snapshot needed across statements).
        cursor, gaps = _start_position(rs)
        counts_from = datetime.now(UTC).isoformat()  # votes after this: the next sync_counts
        rs.rollback()
        ix = whoosh_index.create_in(str(folder), make_schema())
        # compound=False for the parallel writer too: a compound segment makes every later
        # searcher open and update copy the index (52 ms vs 0.7 ms at 10k, PERF-NOTES)
        options: dict[str, Any] = {"limitmb": 256, "compound": False}
        if procs > 1:
            options.update(procs=procs, multisegment=False)
        writer = index_writer(ix, **options)
        try:
            for article in rs.scalars(_published_query()):
                writer.add_document(**document_for(article))
                count += 1
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        _record(folder, cursor, gaps, counts_from)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        rs.close()
    _swap(base, name)
    _remove_old(base, keep={name})
    return {"folder": str(folder), "documents": count, "seconds": time.perf_counter() - started}


def _remove_old(base: Path, keep: set[str]) -> None:
    """Delete index folders older than the previous one (a searcher may still read that)."""
    folders = sorted((p for p in base.glob("ix-*") if p.is_dir()), key=lambda p: p.name)
    for old in folders[:-2]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


# ---- health and self-repair -----------------------------------------------------------------


def pruned_through(s: Session) -> int:
    value = s.scalar(select(Setting.value).where(Setting.key == PRUNED_KEY))
    return int(value) if value and value.isdigit() else 0


def problem(*, confirm: bool = True) -> Problem | None:
    """What keeps the live index from serving, or None.

    A file looking missing may only be a merge another process is committing (it deletes
    old segments before it rewrites kb-index.json): ``confirm`` checks again holding the
    write lock before calling it damage.
    """
    base = root()
    found = health.check(base)
    if found is not None and found.code == "damaged" and confirm:
        with health.write_lock(base, _lock_timeout()) as held:
            if held:
                found = health.check(base)
    if found is not None:
        return found
    cursor = cursor_of(base) or 0
    with db.fresh_session() as s:
        through = pruned_through(s)
    if cursor < through:
        return Problem(
            "behind",
            f"索引只读到变更日志第 {cursor} 条，日志已清理到第 {through} 条（节点停机过久）",
        )
    return None


def repair(found: Problem, *, wait: bool = False) -> bool:
    """Rebuild aside and swap because of ``found``; searches answer 503 meanwhile.

    Returns False when another process of this node is already repairing (and ``wait`` is off).
    """
    base = root()
    with health.rebuild_lock(base, wait=wait) as held:
        if not held:
            return False
        again = problem()
        if again is None:  # someone repaired it while we waited for the lock
            (base / health.REPAIR_MARK).unlink(missing_ok=True)
            return True
        level = logging.INFO if again.code == "missing" else logging.WARNING  # first build: no news
        log.log(level, "search index unusable (%s): rebuilding it", again.message)
        (base / health.REPAIR_MARK).write_text(again.message, encoding="utf-8")
        try:
            info = _rebuild_locked(base)
        finally:
            (base / health.REPAIR_MARK).unlink(missing_ok=True)
        log.log(level, "search index rebuilt: %d documents", info["documents"])
    drain_quietly()
    return True


repair_index = repair  # for callers whose own parameter is called ``repair``


def ensure_index() -> None:
    """Build or repair the index when it cannot serve; otherwise apply the log."""
    found = problem()
    if found is not None:
        repair(found, wait=True)
    else:
        drain()


def catch_up_quietly() -> None:
    """At the start and end of a CLI command: apply what a killed command left in the log
    (never failing the command; a damaged index is the server's to repair)."""
    try:
        if problem(confirm=False) is None:
            drain()
    except Exception:
        log.exception("index catch-up failed; the next server start or command retries")


def prune(days: int) -> int:
    """Delete log rows older than ``days`` days; returns how many went."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with db.fresh_session() as s:
        top = s.scalar(select(func.max(IndexTask.id)).where(IndexTask.created_at < cutoff))
        newest = s.scalar(select(func.max(IndexTask.id))) or 0
        # Keep the newest row whatever its age: SQLite gives a new row max(id) + 1, so an
        # emptied table would hand out ids that every index has already read past.
        top = min(top or 0, newest - 1)
        if top <= 0:
            return 0
        gone = s.execute(delete(IndexTask).where(IndexTask.id <= top)).rowcount or 0
        row = s.get(Setting, PRUNED_KEY)
        if row is None:
            s.add(Setting(key=PRUNED_KEY, value=str(top)))
        elif int(row.value or 0) < top:
            row.value = str(top)
        s.commit()
        return gone


# ---- verify ---------------------------------------------------------------------------------


@dataclass
class Divergence:
    missing: list[str] = field(default_factory=list)  # published, absent in the index
    extra: list[str] = field(default_factory=list)  # in the index but not published (must go)
    stale: list[str] = field(default_factory=list)  # present but from another revision or ACL
    queued: int = 0  # log rows this index has not applied yet
    problem: Problem | None = None  # the index itself is unusable (see kb.index.health)

    @property
    def ok(self) -> bool:
        return self.problem is None and not (self.missing or self.extra or self.stale)


def _expected(s: Session) -> dict[str, tuple[str, int, str]]:
    """aid → (slug, revision id, ACL) of every published article, in one query, no analysis."""
    rows = s.execute(
        select(Article.id, Article.slug, Article.published_revision_id, Article.acl).where(
            Article.status == "published", Article.published_revision_id.is_not(None)
        )
    )
    return {str(aid): (slug, rev, " ".join((acl or "").split())) for aid, slug, rev, acl in rows}


def _found(ix: Any) -> dict[str, tuple[str, int, str]]:
    out: dict[str, tuple[str, int, str]] = {}
    with ix.searcher() as searcher:
        for fields in searcher.all_stored_fields():
            out[fields["aid"]] = (fields["slug"], fields["revision"], fields["acl"])
    return out


def verify(s: Session | None = None, *, repair: bool = False) -> Divergence:
    """Compare the database with the index; with ``repair``, fix every difference."""
    s = s or db.session()
    report = Divergence()
    report.problem = problem()
    if report.problem is not None:
        if repair:
            repair_index(report.problem, wait=True)
        return report
    base = root()
    report.queued = s.scalar(select(func.count()).where(IndexTask.id > (cursor_of(base) or 0))) or 0
    expected = _expected(s)
    try:
        found = _found(open_current(base))
    except Exception as exc:  # unreadable although its files look whole
        report.problem = Problem("damaged", f"搜索索引无法读取：{exc.__class__.__name__}")
        if repair:
            repair_index(report.problem, wait=True)
        return report
    for aid, values in expected.items():
        if aid not in found:
            report.missing.append(values[0])
        elif found[aid] != values:
            report.stale.append(values[0])
    extra_ids = [aid for aid in found if aid not in expected]
    report.extra = [found[aid][0] for aid in extra_ids]
    if repair and not report.ok:
        slugs = set(report.missing) | set(report.stale)
        for article_id in s.scalars(select(Article.id).where(Article.slug.in_(slugs))):
            s.add(IndexTask(article_id=article_id))
        for aid in extra_ids:
            if aid.isdigit():
                s.add(IndexTask(article_id=int(aid)))  # not published: the drain deletes it
        s.commit()
        drain()
    return report


def helpful_counts(s: Session, slugs: list[str]) -> dict[str, tuple[int, int]]:
    """Current vote counts from the database (the index's copy may lag behind votes)."""
    if not slugs:
        return {}
    rows = s.execute(
        select(Article.slug, Article.helpful_yes, Article.helpful_no).where(Article.slug.in_(slugs))
    )
    return {slug: (yes or 0, no or 0) for slug, yes, no in rows}
