"""Where a database stands against the code's schema, and bringing it to the current one.

The schema is owned by the Alembic migrations in kb/migrations/ (never by ``create_all``):

- an empty database is created by running every migration (``ensure``, ``upgrade``);
- a database made by a release before migrations existed (tables, no ``alembic_version``) is
  recognised, its few missing nullable columns added, stamped at the baseline, then upgraded;
- a database behind the code stops the server and the commands with a Chinese message naming
  ``kb db upgrade`` (``SchemaBehind``, exit 2), instead of answering 500 on every page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine

from kb.config import ConfigError
from kb.locks import file_lock

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001_baseline"
VERSION_TABLE = "alembic_version"
UPGRADE_LOCK_KEY = 0x6B62_0001  # PostgreSQL advisory lock: one schema upgrade at a time


class SchemaBehind(ConfigError):
    """The database's schema is not the code's: the operator must run ``kb db upgrade``."""


@dataclass
class SchemaState:
    kind: str  # empty | legacy | current | behind | unknown
    current: str | None
    head: str

    @property
    def message(self) -> str:
        if self.kind == "legacy":
            return (
                "数据库由早期版本的 kb 创建，尚未记录结构版本；"
                "请先运行 kb db upgrade 升级数据库（建议先用 kb backup 备份）。"
            )
        if self.kind == "behind":
            return (
                f"数据库结构版本（{self.current}）落后于程序（{self.head}），"
                "请先运行 kb db upgrade 升级数据库（建议先用 kb backup 备份）。"
            )
        if self.kind == "unknown":
            return (
                f"数据库结构版本（{self.current}）比本程序新或不认识（程序为 {self.head}），"
                "请使用与数据库相符的 kb 版本。"
            )
        if self.kind == "empty":
            return "数据库是空的，请先运行 kb init。"
        return f"数据库结构为最新版本（{self.head}）。"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration in code (no alembic.ini), bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


@cache
def _known() -> frozenset[str]:
    return frozenset(
        r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def state(engine: Engine) -> SchemaState:
    """Classify the database without changing it."""
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        current = MigrationContext.configure(conn).get_current_revision()
    if current is None:
        kind = "legacy" if "article" in tables else "empty"
    elif current == head():
        kind = "current"
    elif current in _known():
        kind = "behind"
    else:
        kind = "unknown"
    return SchemaState(kind, current, head())


def check(engine: Engine) -> SchemaState:
    """Raise ``SchemaBehind`` unless the database is current or empty (a command creates it)."""
    found = state(engine)
    if found.kind in ("legacy", "behind", "unknown"):
        raise SchemaBehind(found.message)
    return found


def ensure(engine: Engine) -> SchemaState:
    """Create the schema in an empty database; refuse one that is behind (see ``check``)."""
    found = check(engine)
    if found.kind == "empty":
        upgrade(engine)
        return state(engine)
    return found


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Bring the database to ``revision``; what was done, as lines for the operator."""
    done: list[str] = []
    with upgrade_lock(engine):
        # read where the database stands only once the lock is held: another process (a
        # second node's `make run`, an operator's `kb db upgrade`) may just have upgraded it
        found = state(engine)
        if found.kind == "unknown":
            raise SchemaBehind(found.message)
        with _MigrationConnection(engine) as conn:
            if found.kind == "legacy":
                done += _adopt_legacy(conn)
            command.upgrade(alembic_config(conn), revision)
            conn.commit()
    after = state(engine)
    if found.current != after.current or found.kind == "empty":
        done.append(f"数据库结构已从 {found.current or '空'} 升级到 {after.current}。")
    else:
        done.append(f"数据库结构已是最新版本（{after.current}），无需升级。")
    return done


@contextlib.contextmanager
def upgrade_lock(engine: Engine) -> Iterator[None]:
    """Hold the database's upgrade lock: two upgrades at once would both create the same
    tables, and the second would fail half-way. PostgreSQL: a session advisory lock; a SQLite
    file: an ``fcntl`` lock on a file beside it (dropped by the kernel if the holder dies)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": UPGRADE_LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield  # in memory (tests) or another store: nothing else can reach it
        return
    with file_lock(Path(f"{database}.upgrade-lock"), timeout=None):
        yield


class _MigrationConnection:
    """A connection with SQLite's foreign-key checks off while batch mode copies tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"

    def __enter__(self) -> Connection:
        self.conn = self.engine.connect()
        if self.sqlite:
            # must run outside a transaction, and before SQLAlchemy begins one
            self.conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        return self.conn

    def __exit__(self, *exc: Any) -> None:
        try:
            if self.sqlite:
                self.conn.rollback()
                self.conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
        finally:
            self.conn.close()


@cache
def _baseline_metadata() -> MetaData:
    """The baseline schema, as the baseline migration builds it (on an in-memory SQLite)."""
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), BASELINE)
        metadata = MetaData()
        metadata.reflect(conn)
    engine.dispose()
    metadata.remove(metadata.tables[VERSION_TABLE])
    return metadata


def _adopt_legacy(conn: Connection) -> list[str]:
    """Stamp a pre-migration database at the baseline once its tables match it.

    Releases before migrations built their tables with ``create_all``, which never adds a
    column: a table may lack a column added later. Missing nullable columns are added; a
    missing table or a missing NOT NULL column means this is not a kb database we know.
    """
    from alembic.operations import Operations

    baseline = _baseline_metadata()
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    missing_tables = sorted(set(baseline.tables) - present)
    added: list[str] = []
    problems: list[str] = [f"缺少表 {name}" for name in missing_tables]
    ops = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
    for name, table in baseline.tables.items():
        if name not in present:
            continue
        have = {c["name"] for c in inspector.get_columns(name)}
        for column in table.columns:
            if column.name in have:
                continue
            if not column.nullable:
                problems.append(f"表 {name} 缺少必填列 {column.name}")
                continue
            with ops.batch_alter_table(name) as batch:
                batch.add_column(Column(column.name, column.type, nullable=True))
            added.append(f"{name}.{column.name}")
    if problems:
        raise SchemaBehind("数据库中的表与 kb 的基线结构不符，无法自动升级：" + "；".join(problems))
    command.stamp(alembic_config(conn), BASELINE)
    lines = ["已识别早期版本创建的数据库，记为基线结构版本 " + BASELINE + "。"]
    if added:
        lines.append("已补上缺少的列：" + "、".join(added) + "。")
    return lines
