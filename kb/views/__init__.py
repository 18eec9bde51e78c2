"""HTML and JSON blueprints. Views are thin: read the request, call one operation, render."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from kb import api
    from kb.views import admin, articles, auth, editor, review, search

    for module in (articles, auth, editor, review, admin, search):
        app.register_blueprint(module.bp)
    app.register_blueprint(api.bp)  # the whole JSON API, kb/api/
    from kb.views import glossary  # the content checker's glossary page (issue 4)

    app.register_blueprint(glossary.bp)
    from kb.views import feedback  # feedback loop and ticket closure (issue 5)

    app.register_blueprint(feedback.bp)
    from kb.views import freshness, reports  # the bureau's desk (issue 11)

    app.register_blueprint(freshness.bp)
    app.register_blueprint(reports.bp)
