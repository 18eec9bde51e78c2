"""Checking files in bulk: what ``kb check`` and the bench run, and their two output formats.

Files of one run may link to each other, so their slugs (front matter ``slug`` or the file
name) count as known, as they do for ``kb import``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from kb import frontmatter
from kb.checker import CheckContext, Report, check_file

SEVERITY_LABELS = {"error": "错误", "warning": "警告", "hint": "提示"}


def markdown_files(paths: Iterable[str]) -> list[Path]:
    """The given files, and every ``*.md`` under the given folders, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.md") if p.is_file()))
        else:
            found.append(path)
    return found


def slug_of(path: Path) -> str:
    """The slug a file would be imported under (front matter slug, else the file name)."""
    try:
        head = path.read_bytes()[: frontmatter.MAX_FRONT_MATTER + 1024].decode("utf-8", "replace")
    except OSError:
        return path.stem.lower()
    meta = frontmatter.split(head).meta or {}
    slug = meta.get("slug")
    return (
        str(slug).strip().lower() if isinstance(slug, str) and slug.strip() else path.stem.lower()
    )


def check_files(files: list[Path], base: CheckContext) -> list[tuple[Path, Report]]:
    slugs = {path: slug_of(path) for path in files}
    known = None if base.known_slugs is None else base.known_slugs | set(slugs.values())
    results = []
    for path in files:
        ctx = replace(base, known_slugs=known, self_slug=slugs[path], base_dir=path.parent)
        try:
            report = check_file(path, ctx)
        except OSError as err:
            from kb.checker.report import Finding

            report = Report(
                [Finding("KB-STRUCT-011", "error", f"无法读取文件：{err.strerror or err}")]
            )
        results.append((path, report))
    return results


def as_json(results: list[tuple[Path, Report]]) -> dict[str, Any]:
    return {
        "files": [{"path": str(path), "findings": report.as_dicts()} for path, report in results]
    }


def as_text(results: list[tuple[Path, Report]]) -> list[str]:
    lines: list[str] = []
    totals = {"error": 0, "warning": 0, "hint": 0}
    for path, report in results:
        for f in report.findings:
            totals[f.severity] += 1
            where = f"{path}:{f.line or 1}:{f.column or 1}"
            lines.append(f"{where}: {SEVERITY_LABELS[f.severity]} {f.rule} {f.message}")
            if f.fix and "\n" not in f.fix:
                lines.append(f"    建议：{f.fix}")
    bad = sum(1 for _, report in results if report.has_errors)
    lines.append(
        f"检查了 {len(results)} 个文件：错误 {totals['error']} 个，警告 {totals['warning']} 个，"
        f"提示 {totals['hint']} 个；{bad} 个文件有错误。"
    )
    return lines


def database_context() -> CheckContext:
    """A context from the app's database when it exists (never creating one), else a bare one.

    Without a database, links to other articles are not checked (an article may well link to
    one that exists on the server); with one, the files' own slugs count as known too.
    """
    from flask import current_app
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from kb import db
    from kb.checker import config, context_from_db

    url = make_url(current_app.config["DATABASE_URL"])
    sqlite_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if sqlite_file and not Path(url.database).is_file():
        return CheckContext(thresholds=config.from_app())
    try:
        if not inspect(db.engine()).has_table("article"):
            return CheckContext(thresholds=config.from_app())
        return context_from_db(db.session())
    except SQLAlchemyError:  # an unreachable database must not stop a local check
        return CheckContext(thresholds=config.from_app())
