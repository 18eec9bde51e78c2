"""Database engine and sessions: one engine per app, one session per request or CLI command.

The database is the source of truth; the search index is derived from it (see kb/index/).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from kb.config import ConfigError


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so a CLI import and the server coexist.

    An unknown database kind, a missing driver or an unusable SQLite folder is the operator's
    configuration problem: it is raised as ``ConfigError`` (exit 2 from the CLI).
    """
    try:
        return _make_engine(url)
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise ConfigError(
            f"KB_DATABASE_URL 无法使用：{make_url(url).render_as_string(hide_password=True)!r}"
            f"（不支持的数据库类型或缺少驱动：{exc.__class__.__name__}）"
        ) from None
    except OSError as exc:
        raise ConfigError(f"无法创建数据库所在的目录：{exc.strerror or exc}") from None


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["kb_engine"] = engine
    app.extensions["kb_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["kb_engine"]


def session() -> Session:
    """The session of the current request or CLI command, opened on first use."""
    if "kb_session" not in g:
        g.kb_session = current_app.extensions["kb_sessionmaker"]()
    return g.kb_session


def _close_session(_exc: BaseException | None) -> None:
    sess = g.pop("kb_session", None)
    if sess is not None:
        sess.close()


def new_session() -> Session:
    """A separate session the caller must close (see ``fresh_session`` for a with-block)."""
    return current_app.extensions["kb_sessionmaker"]()


@contextmanager
def fresh_session() -> Iterator[Session]:
    """A separate session, for work that must commit independently of the request's."""
    sess = current_app.extensions["kb_sessionmaker"]()
    try:
        yield sess
    finally:
        sess.close()


def ensure_schema() -> None:
    """Create the schema in an empty database through the migrations; refuse one that is
    behind the code (``SchemaBehind``: run ``kb db upgrade``)."""
    from kb import schema_version

    schema_version.ensure(engine())


def check_schema(app: Flask) -> None:
    """At start: stop with ``SchemaBehind`` when the database is behind the code.

    A SQLite file that does not exist yet is left alone (``kb check`` must not create one);
    an empty database is fine here, the command that needs it creates it.
    """
    from kb import schema_version

    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite" and not (
        url.database and url.database != ":memory:" and Path(url.database).exists()
    ):
        return
    try:
        schema_version.check(app.extensions["kb_engine"])
    except OperationalError as exc:
        shown = url.render_as_string(hide_password=True)
        raise ConfigError(f"无法连接数据库 {shown}：{str(exc.orig).strip()}") from None
