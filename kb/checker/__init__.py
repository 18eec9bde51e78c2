"""The content checker: holds every article to the knowledge-base standard (seed 002, 六).

``check(text, context)`` returns a Report of findings; the same call serves the editor's live
panel, submission, the curator's review page, ``kb check`` and ``POST /api/v1/check``.
``check`` is pure: whatever it needs from the database comes in the CheckContext, which
``context_from_db`` builds (fast enough for the live preview: published articles' duplicate
signatures are cached per process by article and revision).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from kb.checker import rules as _rules  # noqa: F401  (importing registers every rule)
from kb.checker.config import Thresholds
from kb.checker.context import CheckContext, Published
from kb.checker.document import Document
from kb.checker.registry import RULES
from kb.checker.report import Finding, Report

__all__ = [
    "CheckContext",
    "Finding",
    "Published",
    "Report",
    "check",
    "check_file",
    "context_from_db",
    "import_context",
    "located",
]

log = logging.getLogger(__name__)
_SEVERITY_ORDER = {"error": 0, "warning": 1, "hint": 2}


def _too_large(text: str, limit: int) -> Report:
    size = len(text)
    return Report(
        [
            Finding(
                "KB-STRUCT-010",
                "error",
                f"文件过大（{size:,} 个字符，上限 {limit:,}），未做内容检查。"
                "一篇文章只讲一个问题，请拆分为多篇后再提交。",
                1,
                1,
            )
        ]
    )


def check(text: str, context: CheckContext | None = None) -> Report:
    """Check one article source (front matter + Markdown)."""
    ctx = context or CheckContext()
    if not isinstance(text, str):
        raise TypeError("check() takes the article source as str")
    limit = ctx.thresholds.max_chars
    if len(text) > limit:
        return _too_large(text, limit)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    doc = Document(text)
    findings: list[Finding] = []
    cap = ctx.thresholds.max_findings_per_rule
    for rule in RULES.values():
        try:
            # stop reading a rule's findings past the cap: a flood costs time and helps nobody
            found = list(itertools.islice(rule.func(rule, doc, ctx), cap + 1))
            findings.extend(found[:cap])
            if len(found) > cap:
                rest = found[cap]
                findings.append(
                    Finding(
                        rule.id,
                        rule.severity,
                        f"同类问题（{rule.title}）超过 {cap} 处，"
                        "其余未逐条列出，请修改后重新检查。",
                        rest.line,
                        rest.column,
                    )
                )
        except Exception:  # one faulty rule must not hide the others' findings
            log.exception("checker rule %s failed", rule.id)
            findings.append(
                Finding(
                    "KB-STRUCT-099", "hint", f"检查规则 {rule.id} 未能完成，已记录，请联系管理员。"
                )
            )
    findings.sort(key=lambda f: (f.line or 0, f.column or 0, _SEVERITY_ORDER[f.severity], f.rule))
    return Report(findings)


def check_file(path: Path, context: CheckContext | None = None) -> Report:
    """Check a file as the CLI and the importer read it: bytes that must be UTF-8 text."""
    data = path.read_bytes()
    ctx = context or CheckContext()
    if len(data) > ctx.thresholds.max_chars * 4:
        return _too_large(data.decode("utf-8", "replace"), ctx.thresholds.max_chars)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return Report(
            [
                Finding(
                    "KB-STRUCT-011",
                    "error",
                    f"文件不是有效的 UTF-8 编码（第 {line} 行附近），"
                    "请用编辑器另存为 UTF-8 后再提交。",
                    line,
                )
            ]
        )
    if ctx.base_dir is None:
        ctx = replace(ctx, base_dir=path.parent)
    return check(text, ctx)


def thresholds() -> Thresholds:
    """The thresholds in force (the app's CHECKER_THRESHOLDS over the defaults)."""
    from kb.checker import config

    return config.from_app()


def published_signatures(s: Any, th: Thresholds, actor: Any = None) -> list[Published]:
    """Duplicate signatures of published articles (cached per process by article and revision).

    Without an actor only public and registered articles are compared, so the duplicate warning
    never names a restricted article to someone who may not read it.
    """
    from sqlalchemy import select

    from kb.models import Article, Revision

    query = select(Article.id, Article.published_revision_id, Article.slug, Article.title).where(
        Article.status == "published", Article.published_revision_id.is_not(None)
    )
    if actor is None:
        query = query.where(Article.visibility.in_(("public", "registered")))
    else:
        from kb.articles import readable_filter

        query = query.where(readable_filter(actor))
    from kb.checker import similarity

    rows = list(s.execute(query))
    scope = str(s.get_bind().url)
    missing = [
        r.published_revision_id
        for r in rows
        if similarity.cached_signature(
            r.id,
            r.published_revision_id,
            None,
            scope=scope,
            shingle=th.duplicate_shingle,
            size=th.minhash_size,
        )
        is None
    ]
    bodies: dict[int, str] = {}
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        for revision_id, body in s.execute(
            select(Revision.id, Revision.body).where(Revision.id.in_(chunk))
        ):
            bodies[revision_id] = body
    out = []
    for r in rows:
        sig = similarity.cached_signature(
            r.id,
            r.published_revision_id,
            bodies.get(r.published_revision_id),
            shingle=th.duplicate_shingle,
            size=th.minhash_size,
            scope=scope,
        )
        if sig is not None:
            out.append(Published(r.slug, r.title, sig))
    return out


def context_from_db(
    s: Any, self_slug: str | None = None, *, actor: Any = None, duplicates: bool = True
) -> CheckContext:
    """A context from the database: known slugs, the curators' glossary, the app's thresholds
    and (unless ``duplicates`` is False) the published articles' duplicate signatures."""
    from sqlalchemy import select

    from kb.checker import glossary
    from kb.models import Article

    th = thresholds()
    return CheckContext(
        known_slugs=set(s.scalars(select(Article.slug))),
        self_slug=self_slug,
        glossary=glossary.load(s),
        thresholds=th,
        published=published_signatures(s, th, actor) if duplicates else None,
    )


def import_context(
    s: Any, known_slugs: set[str], self_slug: str | None, base_dir: Path | None
) -> CheckContext:
    """The context for one file of a bulk import: the batch's slugs, the curators' glossary,
    images relative to the file. Duplicates are not compared during import (comparing each of
    thousands of files with every other is quadratic); the review page shows them later."""
    from kb.checker import glossary

    return CheckContext(
        known_slugs=known_slugs,
        self_slug=self_slug,
        glossary=glossary.load(s),
        thresholds=thresholds(),
        base_dir=base_dir,
    )


def _leading_newlines(text: str) -> int:
    return len(text) - len(text.lstrip("\n"))


def located(findings: list[dict[str, Any]], source: str, body: str) -> list[dict[str, Any]]:
    """Findings with the place an editor looks for them, the same on every page.

    Findings count lines of the whole source (front matter included), but the editor shows
    the body in its own text box, whose first line is the body's first line. Each finding gets
    ``body_line`` (its line in ``body`` as the editor shows it, None in the front matter) and
    ``where`` (正文第 N 行 / 元数据第 N 行), so the live preview, the submit page and the review
    desk say the same thing however the stored source lays out its front matter.
    """
    to_body = body_lines(source, body)
    out: list[dict[str, Any]] = []
    for finding in findings:
        item = dict(finding)
        line = item.get("line")
        body_line = to_body(line) if line is not None else None
        item["body_line"] = body_line
        if line is None:
            item["where"] = ""
        elif body_line is None:
            item["where"] = f"元数据第 {line} 行"
        else:
            column = item.get("column")
            item["where"] = f"正文第 {body_line} 行" + (f"第 {column} 列" if column else "")
        out.append(item)
    return out


def body_lines(source: str, body: str) -> Any:
    """A function from a line of ``source`` to the same line in ``body`` as the editor shows
    it (None for a front matter line)."""
    from kb import frontmatter

    parts = frontmatter.split(source.replace("\r\n", "\n"))
    # source line of the body's first non-blank line, and the same line in the editor's body
    first_in_source = parts.body_line + _leading_newlines(parts.body)
    first_in_body = 1 + _leading_newlines(body.replace("\r\n", "\n"))
    has_meta = parts.meta is not None or parts.body_line > 1

    def convert(line: int) -> int | None:
        if has_meta and line < parts.body_line:
            return None
        return max(line - first_in_source + first_in_body, 1)

    return convert
