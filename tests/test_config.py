"""Operators' environment variables are checked at start-up: a bad value stops the command
with a Chinese message and exit code 2, never a traceback or a half-working service."""

from __future__ import annotations

import pytest

from kb.cli import cli


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("KB_REQUEST_HOLIDAYS", "2026-10-01 国庆", "不是 YYYY-MM-DD"),
        ("KB_REQUEST_OVERDUE_DAYS", "0", "超出范围"),
        ("KB_FEEDBACK_RATE_PER_IP", "many", "不是整数"),
        ("KB_INDEX_LOCK_TIMEOUT", "abc", "应为秒数"),
        ("KB_SEARCH_TIME_LIMIT", "9999", "0.05～600"),
        ("KB_SECURE_COOKIES", "maybe", "不是布尔值"),
    ],
)
def test_bad_environment_value_stops_with_a_message(runner, monkeypatch, name, value, words):
    monkeypatch.setenv(name, value)
    result = runner.invoke(cli, ["index", "verify"])
    assert result.exit_code == 2
    assert words in result.output and name in result.output
    assert "Traceback" not in result.output


def test_good_holiday_list_is_accepted(app_config, monkeypatch):
    from kb import create_app

    monkeypatch.setenv("KB_REQUEST_HOLIDAYS", "2026-10-01,2026-10-02")
    app = create_app(app_config)
    assert app.config["REQUEST_HOLIDAYS"] == ["2026-10-01", "2026-10-02"]
    app.extensions["kb_engine"].dispose()
