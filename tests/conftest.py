"""Shared fixtures: a real app on a temporary database and index folder, the Flask test
client, the CLI runner, and factories for organisations, users and articles.

The database is a SQLite file in the test's data folder, or, when ``KB_TEST_DATABASE_URL``
names a PostgreSQL server (``make test-postgres`` starts one through scripts/with-postgres),
a fresh PostgreSQL database per data folder, copied from a template at the current schema.
Use ``database_url(data_dir)`` for an app's DATABASE_URL and ``kb_env(data_dir)`` for the
environment of a ``kb`` subprocess, so a test runs unchanged on both.
"""

from __future__ import annotations

import itertools
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from kb import articles as ops
from kb import create_app, db
from kb.accounts import SYSTEM, change_password, create_org, create_user
from kb.frontmatter import ArticleDraft
from kb.models import Article

PASSWORD = "Correct-horse-battery-7"
# what the administrator gives each test-world user; each then chooses PASSWORD themselves
INITIAL_PASSWORD = "Initial-pass-2026-kb"

# One small world every permission test can reason about.
ORGS = [
    ("bureau", "自治区数据局", "bureau"),
    ("demo", "示例企业", "enterprise"),
    ("other", "另一企业", "enterprise"),
    ("demo-unit", "示例单位", "unit"),
    ("other-unit", "另一单位", "unit"),
]
USERS = [
    ("reader", "reader", "demo-unit"),
    ("reader2", "reader", "other-unit"),
    ("editor", "editor", "demo"),
    ("editor2", "editor", "other"),
    ("curator", "curator", "bureau"),
    ("admin", "admin", "bureau"),
]


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """scrypt costs ~0.1-0.2 s a hash by design and every ``app`` creates six users: in tests
    hash with a cheap pbkdf2 instead (same werkzeug format, checked by the same code).
    The real server test (test_server.py) runs in a subprocess and keeps scrypt."""
    from werkzeug.security import generate_password_hash

    import kb.accounts

    patch = pytest.MonkeyPatch()
    patch.setattr(
        kb.accounts,
        "generate_password_hash",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1000"),
    )
    yield
    patch.undo()


# ---- the database under test: SQLite by default, PostgreSQL with KB_TEST_DATABASE_URL --------

# pytest imports this file as ``conftest`` while test modules import ``tests.conftest``: one
# module under both names, so the registry of test databases below exists once.
sys.modules.setdefault("tests.conftest", sys.modules[__name__])
sys.modules.setdefault("conftest", sys.modules[__name__])

PG_URL = os.environ.get("KB_TEST_DATABASE_URL") or None
ON_POSTGRES = bool(PG_URL)
_pg_databases: dict[str, str] = {}  # data folder -> database name
_pg_numbers = itertools.count(1)
_pg_template: list[str] = []


def _pg_admin() -> Any:
    from sqlalchemy import create_engine

    return create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=_null_pool())


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


def _pg_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _pg_template_name() -> str:
    """A database at the current schema, made once per test run; each test copies it."""
    if not _pg_template:
        from sqlalchemy import create_engine, text

        name = f"kb_template_{os.getpid()}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        engine = create_engine(_pg_url(name), poolclass=_null_pool())
        build_schema(engine)
        engine.dispose()
        _pg_template.append(name)
    return _pg_template[0]


def build_schema(engine: Any) -> None:
    """Bring an empty database to the current schema through the migrations, as ``kb init``."""
    from kb import schema_version

    schema_version.upgrade(engine)


def database_url(data_dir: Path) -> str:
    """The database of the app whose data folder is ``data_dir`` (one database per folder)."""
    if not ON_POSTGRES:
        return f"sqlite:///{Path(data_dir) / 'kb.sqlite3'}"
    key = str(Path(data_dir).resolve())
    if key not in _pg_databases:
        if _pg_free:  # a used copy emptied again: a third of the time of a new copy
            name = _pg_free.pop()
        else:
            from sqlalchemy import text

            name = f"kb_t{os.getpid()}_{next(_pg_numbers)}"
            admin = _pg_admin()
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {_pg_template_name()}"))
            admin.dispose()
            _pg_reusable.add(name)
        _pg_databases[key] = name
    return _pg_url(_pg_databases[key])


def _empty_again(name: str) -> bool:
    """Empty a used copy of the template for the next test, if it still has the template's
    schema; False when it must be dropped instead."""
    from sqlalchemy import create_engine, inspect, text

    from kb import schema_version

    engine = create_engine(_pg_url(name), poolclass=_null_pool())
    try:
        with engine.begin() as conn:
            # a server subprocess a test killed may have left a session behind
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            if list(version) != [schema_version.head()]:
                return False
            tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            if set(tables) != _pg_template_tables():
                return False
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        return True
    except Exception:  # anything odd: drop it, a fresh copy is always right
        return False
    finally:
        engine.dispose()


_pg_free: list[str] = []
_pg_reusable: set[str] = set()
_pg_tables: list[set[str]] = []


def _pg_template_tables() -> set[str]:
    if not _pg_tables:
        from sqlalchemy import create_engine, inspect

        engine = create_engine(_pg_url(_pg_template_name()), poolclass=_null_pool())
        with engine.connect() as conn:
            _pg_tables.append(
                {t for t in inspect(conn).get_table_names() if t != "alembic_version"}
            )
        engine.dispose()
    return _pg_tables[0]


def empty_database_url(data_dir: Path) -> str:
    """Like ``database_url`` but with no tables at all (a fresh installation)."""
    if not ON_POSTGRES:
        return database_url(data_dir)
    key = str(Path(data_dir).resolve())
    assert key not in _pg_databases, "empty_database_url must come first for a folder"
    from sqlalchemy import text

    name = f"kb_t{os.getpid()}_{next(_pg_numbers)}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    _pg_databases[key] = name
    return _pg_url(name)


def drop_database(data_dir: Path) -> None:
    name = _pg_databases.pop(str(Path(data_dir).resolve()), None)
    if name is None:
        return
    if name in _pg_reusable and _empty_again(name):
        _pg_free.append(name)
        return
    _pg_reusable.discard(name)
    from sqlalchemy import text

    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a real server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kb_env(data_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a ``kb`` subprocess on ``data_dir`` and its database."""
    env = dict(os.environ if base is None else base)
    env["KB_DATA_DIR"] = str(data_dir)
    if ON_POSTGRES:
        env["KB_DATABASE_URL"] = database_url(data_dir)
    else:
        env.pop("KB_DATABASE_URL", None)
    return env


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """Drop the PostgreSQL databases a test made once it is over (they are 8 MB each)."""
    before = set(_pg_databases)
    yield
    for key in set(_pg_databases) - before:
        drop_database(Path(key))


requires_sqlite = pytest.mark.skipif(ON_POSTGRES, reason="about the SQLite default only")


def config_for(data_dir: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url(data_dir),
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test-secret",
    }


def populate(application: Flask) -> None:
    """The test world's organisations and users, and an empty index kept in step from then on."""
    from kb.index import writer

    with application.app_context():
        db.ensure_schema()
        s = db.session()
        for code, name, kind in ORGS:
            create_org(s, SYSTEM, code, name, kind)
        for username, role, org in USERS:
            user = create_user(s, SYSTEM, username, INITIAL_PASSWORD, role, org)
            # the owner replaces the administrator's password, as at a real first sign-in
            change_password(s, user, INITIAL_PASSWORD, PASSWORD, PASSWORD)
        s.commit()
        writer.rebuild()


def close(application: Flask) -> None:
    from kb.index import searcher

    searcher.close_all()
    application.extensions["kb_engine"].dispose()


@contextmanager
def world_app(data_dir: Path) -> Iterator[Flask]:
    """A populated app on ``data_dir`` for module-scoped fixtures (one app, many tests)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in ("KB_DATA_DIR", "KB_DATABASE_URL", "KB_PORT"):
            mp.delenv(key, raising=False)
        application = create_app(config_for(data_dir))
        populate(application)
        try:
            yield application
        finally:
            close(application)
            drop_database(data_dir)


@pytest.fixture
def app_config(tmp_path: Path) -> dict[str, Any]:
    return config_for(tmp_path / "data")


@pytest.fixture
def app(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    # The environment names this app's folder and database, so a ``kb`` command run by the
    # test (``runner``, requested before or after ``app``) works on the same data.
    _point_env_at(Path(app_config["DATA_DIR"]), monkeypatch)
    application = create_app(app_config)
    populate(application)
    yield application
    close(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Any]:
    """An app context with its database session, for calling operations directly."""
    with app.app_context():
        yield db.session()


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> FlaskClient:
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def login_as(app: Flask) -> Callable[[str], FlaskClient]:
    """A fresh client signed in as the given user."""

    def make(username: str) -> FlaskClient:
        return login(app.test_client(), username)

    return make


GOOD_BODY = """## 现象

打印机在系统中显示“脱机”，打印任务停在队列里。

## 原因

打印机的网络地址发生变化，CUPS（通用 Unix 打印系统）仍按旧地址连接。

## 解决步骤

1. 在终端执行 `lpstat -p` 查看打印机状态。
2. 打开“设置 → 打印机”，删除旧的打印机。
3. 重新添加打印机，选择正确的驱动。

## 参考资料

- 《CUPS 管理手册》
"""


def draft(**overrides: Any) -> ArticleDraft:
    fields: dict[str, Any] = {
        "title": "打印机显示脱机的处理方法",
        "type": "故障处理",
        "category": "打印与扫描",
        "visibility": "public",
        "body": GOOD_BODY,
        "products": ["惠普 LaserJet M1136"],
        "os": ["银河麒麟桌面操作系统 V10 SP1"],
        "tags": ["打印机", "脱机"],
        "summary": "打印机脱机时按本文重新添加打印机。",
    }
    fields.update(overrides)
    return ArticleDraft(**fields)


def bring_to(s: Any, article: Article, status: str) -> None:
    """Take a new draft through the real operations to draft, submitted, returned,
    published or archived."""
    if status == "draft":
        return
    article.working_revision.state = "submitted"
    article.status = "submitted"
    if status == "returned":
        ops.return_(s, SYSTEM, article, "请补充截图")
    if status in ("published", "archived"):
        ops.publish(s, SYSTEM, article)
    if status == "archived":
        ops.archive(s, SYSTEM, article)


def create_article(
    app: Flask, status: str = "published", owner: str = "demo", **overrides: Any
) -> str:
    """Create an article (see ``draft`` for the fields) and bring it to ``status``; its slug."""
    from sqlalchemy import select

    from kb.models import Organisation

    with app.app_context():
        s = db.session()
        org = s.scalar(select(Organisation).where(Organisation.code == owner))
        article = ops.create(s, SYSTEM, draft(**overrides), owner=org)
        s.flush()
        bring_to(s, article, status)
        ops.commit(s)
        return article.slug


@pytest.fixture
def make_article(app: Flask) -> Callable[..., str]:
    """``create_article`` on this test's app."""

    def make(status: str = "published", owner: str = "demo", **overrides: Any) -> str:
        return create_article(app, status, owner, **overrides)

    return make


@pytest.fixture
def runner(app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner whose ``kb`` commands use the same data folder as ``app``."""
    _point_env_at(Path(app_config["DATA_DIR"]), monkeypatch)
    return CliRunner()


def _point_env_at(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_PORT", raising=False)
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    for key, value in kb_env(data_dir, {}).items():
        monkeypatch.setenv(key, value)


def get_article(app: Flask, slug: str) -> Article:
    from sqlalchemy import select

    with app.app_context():
        return db.session().scalar(select(Article).where(Article.slug == slug))
