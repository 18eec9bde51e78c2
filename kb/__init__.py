"""kb: the knowledge-base search service of the Guangxi 信创 service-guarantee system.

``create_app`` is the only place an application is built: configuration, extensions,
blueprints, error handlers and CLI commands, nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
        instance_path=str(ROOT / "instance"),
    )
    from kb import config

    config.load(app.config, app.instance_path, test_config)

    from kb import db, errors, ratelimit, web
    from kb.extensions import csrf, login_manager

    db.init_app(app)
    if app.config.get("SCHEMA_CHECK", True):
        db.check_schema(app)
    ratelimit.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    web.init_app(app)

    from kb.views import register_blueprints

    register_blueprints(app)
    return app
