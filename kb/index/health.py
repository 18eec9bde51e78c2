"""Is the search index usable? The index's own record of itself, and the 503 while it is not.

Each index folder carries ``kb-index.json`` (written by kb.index.writer after every commit,
while Whoosh's lock is held): the index schema version it was built with, the position in the
index log it has applied (see writer), and the name and size of every file Whoosh wrote.
Checking health is then a handful of ``stat`` calls — a missing ``.pst``, a truncated segment
or a folder that is gone shows at once, without reading a posting list.

A repair (rebuild aside and swap, kb.index.writer.repair) holds ``REBUILD.lock`` — an
``fcntl`` lock, so a killed rebuilder never leaves a stale one — and marks ``REPAIRING`` in
the index root; every process of the node answers searches with 503 while the mark stands.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.errors import KbError
from kb.index.schema import INDEX_SCHEMA_VERSION
from kb.locks import file_lock

META = "kb-index.json"
POINTER = "CURRENT"
REPAIR_MARK = "REPAIRING"
REBUILD_LOCK = "REBUILD.lock"
WRITE_LOCK = "WRITE.lock"
WHOOSH_LOCK = "MAIN_WRITELOCK"


class IndexUnavailable(KbError):
    status = 503
    code = "index_unavailable"

    def __init__(self, message: str = "", **kw: Any) -> None:
        super().__init__(
            message or "搜索索引正在自动重建，暂时无法搜索，请稍后（通常一两分钟）再试。", **kw
        )


@dataclass
class Problem:
    """Why an index cannot be used; ``message`` is for the operator, in Chinese."""

    code: str  # missing | outdated | damaged | behind
    message: str


def current_name(base: Path) -> str | None:
    try:
        name = (base / POINTER).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return name or None


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """Atomically replace the folder's record (readers see the old or the new one)."""
    tmp = folder / f"{META}.{secrets.token_hex(4)}.tmp"
    tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / META)


def file_sizes(folder: Path) -> dict[str, int]:
    """Every file Whoosh wrote in ``folder`` (not the lock, not our own record)."""
    out: dict[str, int] = {}
    for entry in os.scandir(folder):
        name = entry.name
        if name == WHOOSH_LOCK or name.startswith("kb-") or name.endswith(".tmp"):
            continue
        if entry.is_file():
            out[name] = entry.stat().st_size
    return out


def check(base: Path) -> Problem | None:
    """The problem with the live index under ``base``, or None when it can serve."""
    name = current_name(base)
    if name is None:
        return Problem("missing", f"搜索索引不存在（{base} 中没有 CURRENT 指针）")
    folder = base / name
    if not folder.is_dir():
        return Problem("missing", f"搜索索引目录 {folder} 不存在")
    meta = read_meta(folder)
    if meta is None:
        return Problem("outdated", f"搜索索引 {name} 缺少版本记录 {META}（旧版本建立或已损坏）")
    if meta.get("schema") != INDEX_SCHEMA_VERSION:
        return Problem(
            "outdated",
            f"搜索索引的结构版本为 {meta.get('schema')}，当前程序需要 {INDEX_SCHEMA_VERSION}",
        )
    for filename, size in (meta.get("files") or {}).items():
        try:
            actual = (folder / filename).stat().st_size
        except FileNotFoundError:
            return Problem("damaged", f"搜索索引文件 {filename} 丢失")
        if actual != size:
            return Problem(
                "damaged", f"搜索索引文件 {filename} 大小为 {actual} 字节，应为 {size} 字节"
            )
    return None


def repairing(base: Path) -> bool:
    """A repair is under way on this node (its searches answer 503 meanwhile)."""
    return (base / REPAIR_MARK).exists()


def rebuild_lock(base: Path, *, wait: bool) -> contextlib.AbstractContextManager[bool]:
    """The node's one-rebuilder lock (across processes)."""
    return file_lock(base / REBUILD_LOCK, timeout=None if wait else 0)


def write_lock(base: Path, timeout: float) -> contextlib.AbstractContextManager[bool]:
    """Held around every write to the live index *and* the record written after it: Whoosh
    releases its own lock inside ``commit()``, before kb-index.json is updated."""
    return file_lock(base / WRITE_LOCK, timeout=timeout)


def stale_repair_mark(base: Path) -> bool:
    """A REPAIRING mark whose rebuilder is gone (killed): nobody holds the lock."""
    if not repairing(base):
        return False
    with rebuild_lock(base, wait=False) as held:
        return held
