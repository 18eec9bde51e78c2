"""Configuration: defaults, then ``KB_*`` environment variables, then a test mapping.

Every value is checked here, at start-up, so a typo in an operator's environment stops the
service with a clear message instead of surfacing later as a wrong answer.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULTS: dict[str, Any] = {
    "DATA_DIR": None,  # resolved to the Flask instance folder when unset
    "DATABASE_URL": None,  # resolved to a SQLite file in DATA_DIR when unset
    "INDEX_DIR": None,  # resolved to DATA_DIR/index when unset
    "PORT": 5000,
    "HOST": "127.0.0.1",
    "SECURE_COOKIES": False,  # the intranet default is plain http; set true behind TLS
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "MAX_MARKDOWN_BYTES": 200 * 1024,
    "MAX_JSON_DEPTH": 20,
    "SEARCH_TIME_LIMIT": 2.0,
    "REQUEST_OVERDUE_DAYS": 5,
    "REQUEST_HOLIDAYS": "",  # extra non-working days, e.g. "2026-10-01 2026-10-02"
    "REQUEST_WORKDAYS": "",  # make-up working weekend days (调休)
    "FEEDBACK_RATE_PER_VOTER": 10,  # votes a minute per browser or user
    "FEEDBACK_RATE_PER_IP": 60,  # votes a minute per address (offices share one)
    "INDEX_LOCK_TIMEOUT": 30.0,  # seconds a writer waits for Whoosh's lock
    "INDEX_POLL_SECONDS": 1.0,  # how often a server reads the index log (other nodes' changes)
    "INDEX_COUNTS_SECONDS": 300,  # vote counts reach the index's helpful sort this late
    "INDEX_LOG_DAYS": 7,  # index log rows older than this are pruned (a node off longer rebuilds)
    "INDEX_DRAIN": "inline",  # inline | background (kb serve) | deferred (CLI), see kb.index
    "RATELIMIT_STORAGE_URI": "kb+database://",  # rate-limit counters live in kb's database
    "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead of a clock
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # sign-in (kb/sessions.py, kb/accounts.py): 等保2.0 三级 身份鉴别
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_MAX_HOURS": 12,
    "REMEMBER_DAYS": 14,  # 0 = no remember-me; never more than 14
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_FAILURE_WINDOW_MINUTES": 15,
    "LOGIN_LOCK_MINUTES": 15,
    # 等保 asks for periodic change (定期更换); 90 days is the period assessors expect
    "PASSWORD_MAX_AGE_DAYS": 90,
    "JSON_AS_ASCII": False,
}


class ConfigError(Exception):
    """A configuration value is unusable; the message is meant for the operator."""


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"配置项 {name} 的值 {value!r} 不是布尔值（应为 true 或 false）")


def _as_int(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"配置项 {name} 的值 {value!r} 不是整数") from None
    if not low <= number <= high:
        raise ConfigError(f"配置项 {name} 的值 {number} 超出范围 {low}～{high}")
    return number


def _as_dates(name: str, value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else str(value or "").replace(",", " ").split()
    out: list[str] = []
    for item in items:
        try:
            out.append(date.fromisoformat(str(item).strip()).isoformat())
        except ValueError:
            raise ConfigError(f"配置项 {name} 中的“{item}”不是 YYYY-MM-DD 格式的日期") from None
    return out


def load(config: dict[str, Any], instance_path: str, test_config: dict[str, Any] | None) -> None:
    """Fill ``config`` (a Flask config) from defaults, the environment and ``test_config``."""
    for key, value in DEFAULTS.items():
        # Flask pre-fills some keys (MAX_CONTENT_LENGTH…) with None: ours take their place.
        if config.get(key) is None:
            config[key] = value
    # from_prefixed_env parses JSON when it can; we re-validate every value below anyway.
    for key, raw in os.environ.items():
        if key.startswith("KB_"):
            config[key[3:]] = raw
    if test_config:
        config.update(test_config)

    data_dir = Path(config["DATA_DIR"] or instance_path).expanduser().resolve()
    config["DATA_DIR"] = str(data_dir)
    config["INDEX_DIR"] = str(Path(config["INDEX_DIR"] or data_dir / "index").expanduser())
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{data_dir / 'kb.sqlite3'}"
    try:
        make_url(str(config["DATABASE_URL"]))
    except (ArgumentError, ValueError):
        shown = re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", str(config["DATABASE_URL"]))
        raise ConfigError(
            f"KB_DATABASE_URL 无法解析：{shown!r}"
            "（应为 SQLAlchemy 连接串，如 sqlite:///路径 或 postgresql://…）"
        ) from None

    config["PORT"] = _as_int("KB_PORT", config["PORT"], 1, 65535)
    config["MAX_CONTENT_LENGTH"] = _as_int(
        "KB_MAX_CONTENT_LENGTH", config["MAX_CONTENT_LENGTH"], 1024, 64 * 1024 * 1024
    )
    config["MAX_MARKDOWN_BYTES"] = _as_int(
        "KB_MAX_MARKDOWN_BYTES", config["MAX_MARKDOWN_BYTES"], 1024, 1024 * 1024
    )
    config["REQUEST_OVERDUE_DAYS"] = _as_int(
        "KB_REQUEST_OVERDUE_DAYS", config["REQUEST_OVERDUE_DAYS"], 1, 365
    )
    for key in ("FEEDBACK_RATE_PER_VOTER", "FEEDBACK_RATE_PER_IP"):
        config[key] = _as_int(f"KB_{key}", config[key], 1, 100_000)
    config["INDEX_LOG_DAYS"] = _as_int("KB_INDEX_LOG_DAYS", config["INDEX_LOG_DAYS"], 1, 3650)
    if config["INDEX_DRAIN"] not in ("inline", "background", "deferred"):
        raise ConfigError("配置项 KB_INDEX_DRAIN 应为 inline、background 或 deferred")
    config["INDEX_COUNTS_SECONDS"] = float(
        _as_int("KB_INDEX_COUNTS_SECONDS", config["INDEX_COUNTS_SECONDS"], 1, 86400)
    )
    for key in ("SEARCH_TIME_LIMIT", "INDEX_LOCK_TIMEOUT", "INDEX_POLL_SECONDS"):
        try:
            config[key] = float(config[key])
        except (TypeError, ValueError):
            raise ConfigError(f"配置项 KB_{key} 应为秒数") from None
        if not 0.05 <= config[key] <= 600:
            raise ConfigError(f"配置项 KB_{key} 应在 0.05～600 秒之间")
    for key in ("REQUEST_HOLIDAYS", "REQUEST_WORKDAYS"):
        config[key] = _as_dates(f"KB_{key}", config[key])
    for key, low, high in (
        ("SESSION_IDLE_MINUTES", 1, 24 * 60),
        ("SESSION_MAX_HOURS", 1, 7 * 24),
        ("REMEMBER_DAYS", 0, 14),
        ("LOGIN_MAX_FAILURES", 1, 100),
        ("LOGIN_FAILURE_WINDOW_MINUTES", 1, 24 * 60),
        ("LOGIN_LOCK_MINUTES", 1, 24 * 60),
        ("PASSWORD_MAX_AGE_DAYS", 0, 3650),
    ):
        config[key] = _as_int(f"KB_{key}", config[key], low, high)
    # the remember cookie lives as long as the server-side session it names
    config["REMEMBER_COOKIE_DURATION"] = max(config["REMEMBER_DAYS"], 1) * 24 * 3600
    secure = _as_bool("KB_SECURE_COOKIES", config["SECURE_COOKIES"])
    config["SECURE_COOKIES"] = secure
    config["SESSION_COOKIE_SECURE"] = secure
    config["REMEMBER_COOKIE_SECURE"] = secure

    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _persistent_secret(data_dir)


def _persistent_secret(data_dir: Path) -> str:
    """Keep one secret per data folder so sessions survive a restart and all workers agree."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key = secrets.token_hex(32)
    # O_EXCL: when two workers start together, exactly one writes and the other reads it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key
