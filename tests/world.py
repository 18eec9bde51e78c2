"""A lived-in knowledge base made through the real HTTP operations, and a table-by-table
snapshot of a database, for the tests that must bring everything back (migrations, backup).

``fill`` needs an app populated by tests.conftest.populate (its organisations and users).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Engine

from tests.conftest import GOOD_BODY, login

ARTICLE = {
    "type": "故障处理",
    "category": "打印与扫描",
    "visibility": "public",
    "products": ["惠普 LaserJet M1136"],
    "os": ["银河麒麟桌面操作系统 V10 SP1"],
    "tags": ["打印机"],
    "summary": "打印机脱机时按本文重新添加打印机。",
}


def _ok(response: Any, *codes: int) -> Any:
    assert response.status_code in (codes or (200,)), response.get_data(as_text=True)[:500]
    return response.get_json()


def publish_new(app: Flask, slug: str, title: str, body: str = GOOD_BODY) -> None:
    """An editor writes and submits an article, a curator publishes it."""
    editor = login(app.test_client(), "editor")
    curator = login(app.test_client(), "curator")
    _ok(
        editor.post(
            "/api/v1/articles",
            json={**ARTICLE, "slug": slug, "title": title, "markdown": body},
        ),
        201,
    )
    _ok(editor.post(f"/api/v1/articles/{slug}/submit"))
    _ok(curator.post(f"/api/v1/articles/{slug}/publish"))


def fill(app: Flask) -> dict[str, Any]:
    """Articles with approved edits, an archived one, votes, a revision request, tickets."""
    publish_new(app, "printer-offline", "打印机显示脱机的处理方法")
    publish_new(app, "scanner-missing", "扫描仪无法识别的处理方法")
    publish_new(app, "old-driver", "旧版驱动的安装方法")
    editor = login(app.test_client(), "editor")
    curator = login(app.test_client(), "curator")
    # an approved edit: revision 2 is the published one
    edited = GOOD_BODY.replace("重新添加打印机", "重新添加打印机（选择 IPP 协议）")
    _ok(
        editor.put(
            "/api/v1/articles/printer-offline",
            json={**ARTICLE, "title": "打印机显示脱机的处理方法", "markdown": edited},
        )
    )
    _ok(editor.post("/api/v1/articles/printer-offline/submit"))
    _ok(curator.post("/api/v1/articles/printer-offline/publish"))
    _ok(curator.post("/api/v1/articles/old-driver/archive", json={"reason": "驱动已更新"}))
    # votes: a signed-in reader, and an anonymous visitor who asks for a revision
    reader = login(app.test_client(), "reader")
    _ok(reader.post("/articles/printer-offline/feedback", data={"helpful": "yes"}), 200, 302, 303)
    visitor = app.test_client()
    _ok(
        visitor.post(
            "/articles/scanner-missing/feedback",
            data={"helpful": "no", "reason": "步骤无法操作", "comment": "第二步找不到菜单"},
        ),
        200,
        302,
        303,
    )
    # tickets from the service platform: one cites an article
    from kb import accounts, db, tickets

    with app.app_context():
        s = db.session()
        platform = tickets.platform_user(s, accounts.SYSTEM, "demo")
        raw = accounts.create_token(s, accounts.SYSTEM, platform, "platform")
        s.commit()
    from tests.test_tickets import ticket

    headers = {"Authorization": f"Bearer {raw}"}
    _ok(
        app.test_client().post(
            "/api/v1/tickets", json=ticket(articles=["printer-offline"]), headers=headers
        ),
        201,
    )
    return {"token": raw}


def rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every kb table, in primary-key order (the index outbox aside)."""
    metadata = MetaData()
    metadata.reflect(engine)
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for name, table in sorted(metadata.tables.items()):
            if name in ("index_task", "alembic_version"):
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            found = conn.execute(select(table).order_by(*order))
            out[name] = [dict(row._mapping) for row in found]
    return out
