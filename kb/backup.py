"""``kb backup`` and ``kb restore``: a consistent copy of a running knowledge base, and a
fresh data folder brought back from one.

A backup is a folder holding the database (SQLite: the online backup API, a consistent
snapshot taken while the server keeps writing; PostgreSQL: ``pg_dump`` in custom format,
from an exported snapshot so the manifest's counts describe exactly what was dumped), the
data folder's secrets (``secret_key``, ``demo-accounts.txt``), and ``manifest.json`` (kb
version, schema revision, time, row counts). The search index is derived from the database
and is rebuilt on restore, so it is not copied.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, func, select, text
from sqlalchemy.engine import Connection, Engine, make_url

from kb.errors import KbError

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
SECRET_FILES = ("secret_key", "demo-accounts.txt")
SKIP_COUNTS = ("alembic_version", "index_task")  # the index outbox is derived, like the index


class BackupError(KbError):
    """The backup or restore cannot be done; the message says why and what to do."""


@dataclass
class Result:
    path: Path
    manifest: dict[str, Any]


def kb_version() -> str:
    try:
        return pkg_metadata.version("kb")
    except pkg_metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "unknown"


def _counts(conn: Connection) -> dict[str, int]:
    metadata = MetaData()
    metadata.reflect(conn)
    return {
        name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
        for name, table in sorted(metadata.tables.items())
        if name not in SKIP_COUNTS
    }


def _revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _prepare_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"备份目录 {target} 已存在且不是空目录，请指定一个新目录。")
    target.mkdir(parents=True, exist_ok=True)


def backup(engine: Engine, data_dir: Path, target: Path) -> Result:
    """Write a backup of the database behind ``engine`` and the secrets of ``data_dir``."""
    target = target.expanduser().resolve()
    _prepare_target(target)
    kind = engine.dialect.name
    try:
        if kind == "sqlite":
            _backup_sqlite(engine, target / SQLITE_FILE)
            copy = make_engine_for_file(target / SQLITE_FILE)
            with copy.connect() as conn:
                counts, revision = _counts(conn), _revision(conn)
            copy.dispose()
            files = [SQLITE_FILE]
        elif kind == "postgresql":
            counts, revision, tool = _backup_postgres(engine, target / PG_FILE)
            files = [PG_FILE]
        else:
            raise BackupError(f"不支持备份这种数据库：{kind}")
        for name in SECRET_FILES:
            if (data_dir / name).exists():
                shutil.copy2(data_dir / name, target / name)
                os.chmod(target / name, 0o600)
                files.append(name)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # never leave half a backup that looks whole
        raise
    manifest: dict[str, Any] = {
        "format": 1,
        "kb_version": kb_version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": kind,
        "schema_revision": revision,
        "counts": counts,
        "files": files,
    }
    if kind == "postgresql":
        manifest["pg_dump"] = tool
    (target / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return Result(target, manifest)


def make_engine_for_file(path: Path) -> Engine:
    from kb.db import make_engine

    return make_engine(f"sqlite:///{path}")


def _backup_sqlite(engine: Engine, dest: Path) -> None:
    """SQLite's online backup: one read transaction over the whole copy (WAL lets writers go
    on meanwhile), so the copy is the database as of one moment."""
    source_path = engine.url.database
    if not source_path or source_path == ":memory:" or not Path(source_path).exists():
        raise BackupError("没有找到 SQLite 数据库文件，请先运行 kb init。")
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(dest)
    try:
        source.backup(target, pages=-1)
    finally:
        target.close()
        source.close()


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The libpq connection string (no password: that goes in PGPASSWORD) and environment."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def pg_tool(name: str, server_major: int) -> tuple[str, int]:
    """A pg_dump/pg_restore at least as new as the server (older ones refuse newer servers)."""
    candidates: list[Path] = []
    for folder in sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _major(p.parent.name)
    ):
        candidates.append(folder / name)
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    best: tuple[str, int] | None = None
    for candidate in candidates:
        if not candidate.exists():
            continue
        try:
            out = subprocess.run(
                [str(candidate), "--version"], capture_output=True, text=True, timeout=30
            ).stdout
        except OSError:
            continue
        match = re.search(r"(\d+)(?:\.\d+)?", out)
        if not match:
            continue
        major = int(match.group(1))
        if major >= server_major and (best is None or major == server_major):
            best = (str(candidate), major)
    if best is None:
        raise BackupError(
            f"没有找到版本不低于 PostgreSQL 服务器（{server_major}）的 {name}；"
            f"请安装对应版本的客户端（Debian：apt-get install postgresql-client-{server_major}）。"
        )
    return best


def _major(name: str) -> int:
    return int(name) if name.isdigit() else 0


def _backup_postgres(engine: Engine, dest: Path) -> tuple[dict[str, int], str | None, str]:
    dsn, env = _libpq(engine)
    with engine.connect() as conn:
        server_major = int(conn.scalar(text("SHOW server_version_num")) or 0) // 10000
        tool, major = pg_tool("pg_dump", server_major)
        # Count and dump the same snapshot: the manifest then describes the dump exactly.
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
        counts, revision = _counts(conn), _revision(conn)
        done = subprocess.run(
            [
                tool,
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-owner",
                "--no-privileges",
                *("--file", str(dest), "--dbname", dsn),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        conn.rollback()
    if done.returncode != 0:
        raise BackupError(f"pg_dump 失败：{done.stderr.strip()[-500:]}")
    return counts, revision, f"{tool} ({major})"


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.exists():
        raise BackupError(f"{source} 不是 kb 备份（缺少 {MANIFEST}）。")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"备份清单 {path} 无法读取：{exc}") from None
    for name in manifest.get("files", []):
        if not (source / name).exists():
            raise BackupError(f"备份不完整：缺少文件 {name}。")
    return manifest


def data_dir_in_use(data_dir: Path) -> list[str]:
    """What is in the data folder already (a restore only goes into an empty one)."""
    if not data_dir.exists():
        return []
    return sorted(p.name for p in data_dir.iterdir())


def restore_files(source: Path, data_dir: Path) -> None:
    """Put the backup's secrets into the (empty) data folder before the app reads them."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in SECRET_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, data_dir / name)
            os.chmod(data_dir / name, 0o600)


def restore_database(engine: Engine, source: Path, manifest: dict[str, Any]) -> None:
    """Load the backup's database into the empty database behind ``engine``."""
    kind = engine.dialect.name
    if manifest.get("database") != kind:
        raise BackupError(f"备份来自 {manifest.get('database')} 数据库，不能恢复到 {kind} 数据库。")
    if kind == "sqlite":
        dest = Path(engine.url.database or "")
        engine.dispose()
        if dest.exists() and dest.stat().st_size > 0:
            raise BackupError(f"目标数据库文件 {dest} 已存在，请换一个空的数据目录。")
        dest.parent.mkdir(parents=True, exist_ok=True)
        source_db = sqlite3.connect(source / SQLITE_FILE)
        target = sqlite3.connect(dest)
        try:
            source_db.backup(target, pages=-1)
        finally:
            target.close()
            source_db.close()
        return
    with engine.connect() as conn:
        server_major = int(conn.scalar(text("SHOW server_version_num")) or 0) // 10000
    tool, _ = pg_tool("pg_restore", server_major)
    dsn, env = _libpq(engine)
    done = subprocess.run(
        [
            tool,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--dbname",
            dsn,
            str(source / PG_FILE),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_restore 失败：{done.stderr.strip()[-500:]}")


def database_is_empty(engine: Engine) -> bool:
    from sqlalchemy import inspect

    with engine.connect() as conn:
        return not inspect(conn).get_table_names()


def counts_of(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return _counts(conn)


def database_url_for_display(engine: Engine) -> str:
    return make_url(str(engine.url)).render_as_string(hide_password=True)
