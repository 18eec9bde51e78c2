"""HTML and JSON blueprints. Views are thin: read the request, call one operation, render."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from kb.views import admin, api, articles, auth, editor, review, search

    for module in (articles, auth, editor, review, admin, search, api):
        app.register_blueprint(module.bp)
    app.register_blueprint(search.api_bp)
    from kb.views import glossary  # the content checker's glossary page (issue 4)

    app.register_blueprint(glossary.bp)
    from kb.views import feedback, loop_api  # feedback loop and ticket closure (issue 5)

    app.register_blueprint(feedback.bp)
    app.register_blueprint(loop_api.bp)
    from kb.views import freshness, reports  # the bureau's desk (issue 11)

    app.register_blueprint(freshness.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(reports.api_bp)
