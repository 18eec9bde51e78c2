"""Alembic environment: runs kb's migrations on the connection kb.schema_version hands over.

No alembic.ini: kb.schema_version builds the Alembic configuration in code and passes the
connection in ``config.attributes["connection"]``, so the migrations use exactly the database
(and SQLite pragmas) the application uses.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from kb.models import Base, UTCDateTime

config = context.config


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write kb's UTCDateTime as a plain DateTime: migrations must not import kb.models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def run_migrations(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - kb always passes one
    raise RuntimeError("kb 的迁移请通过 kb db upgrade 运行")
run_migrations(connection)
