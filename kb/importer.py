"""Import article files and folders: front matter → checker → articles, one report line per file.

Never all-or-nothing: each file commits on its own, a bad file is reported with its reason and
the rest still import. Re-importing a file adds nothing when it is unchanged since its last
import, never overwrites a newer revision, and stages a changed published article for review.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kb import articles as ops
from kb import audit, frontmatter
from kb.checker import check, import_context
from kb.errors import KbError
from kb.models import Article, Organisation, Revision

MAX_FILE_BYTES = 200 * 1024


@dataclass
class FileResult:
    path: str
    outcome: str  # created | revised | unchanged | kept | draft | failed
    slug: str | None = None
    message: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)


def iter_files(paths: Iterable[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.md") if p.is_file())
        else:
            yield path


def _read(path: Path) -> str:
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise KbError(f"文件超过 {MAX_FILE_BYTES // 1024} KB")
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise KbError("文件不是 UTF-8 编码") from None


def content_hash(draft: frontmatter.ArticleDraft) -> str:
    """The hash of a file's normalised source (slug and enterprise filled in), as stored."""
    return hashlib.sha256(draft.source().encode("utf-8")).hexdigest()


def _last_import(s: Session, article: Article, source: str) -> int | None:
    """The revision number of the article's last import.

    Recorded on the article since migration 0002; for articles imported before, the newest
    revision with exactly this file's text, else the newest one the system wrote.
    """
    if article.imported_revision is not None:
        return article.imported_revision
    revisions = list(
        s.scalars(
            select(Revision)
            .where(Revision.article_id == article.id)
            .order_by(Revision.number.desc())
        )
    )
    for revision in revisions:
        if revision.source == source:
            return revision.number
    for revision in revisions:
        if revision.author_id is None:
            return revision.number
    return None


def _newest_number(s: Session, article: Article) -> int:
    return s.scalar(select(func.max(Revision.number)).where(Revision.article_id == article.id)) or 0


def import_file(
    s: Session,
    actor: Any,
    path: Path,
    *,
    enterprise: Organisation | None,
    publish: bool,
    force: bool,
    known_slugs: set[str],
) -> FileResult:
    """Import one file. Restarts and re-imports never change content behind anyone's back:

    - a file unchanged since its last import adds nothing;
    - a changed file over an article that has a newer revision than that import (an editor's
      edit, approved or not) is skipped and reported, never overwritten;
    - a changed file over a published article is staged as a revision submitted for review,
      unless ``publish`` (then it is published, after the checker, as on creation).
    """
    text = _read(path)
    draft = frontmatter.parse(text)
    draft.slug = draft.slug or path.stem.lower()
    if not frontmatter.SLUG_RE.match(draft.slug):
        raise KbError(f"由文件名得到的标识“{draft.slug}”不合法，请在 front matter 中写 slug")
    owner = enterprise or ops.resolve_owner(s, actor, draft, None)
    article = s.scalar(select(Article).where(Article.slug == draft.slug))
    if article is not None and article.owner_id != owner.id:
        raise KbError(f"标识“{draft.slug}”已属于其他企业（{article.owner.code}），不能覆盖")
    draft.enterprise = owner.code
    digest = content_hash(draft)
    staged = False
    report = None
    if article is None:
        if publish:
            # before the first write: on SQLite the write lock would be held through the
            # checker's CPU work, and every request that writes meanwhile would wait for it
            report = check(text, import_context(s, known_slugs, draft.slug, path.parent))
        article = ops.create(s, actor, draft, owner=owner, message=f"导入 {path.name}")
        outcome = "created"
    else:
        last = _last_import(s, article, draft.source())
        newest = _newest_number(s, article)
        working = article.working_revision
        if article.imported_hash == digest or (
            article.imported_hash is None and article.review_revision.source == draft.source()
        ):
            article.imported_hash, article.imported_revision = digest, last
            # publishing what an earlier import left unpublished is still allowed
            if not (publish and working is not None and working.number == last):
                return FileResult(str(path), "unchanged", draft.slug, "内容未变化")
            outcome = "unchanged"
        elif last is not None and newest > last:
            return FileResult(
                str(path),
                "kept",
                draft.slug,
                f"文章在上次导入（修订 {last}）之后已有更新的修订 {newest}，未覆盖；"
                "如需采用文件内容，请在网页上编辑",
            )
        else:
            # the import's own earlier revision still waiting for review is replaced
            if article.status == "published" and article.pending == "submitted":
                working.state = "superseded"
                article.pending = "draft"
            elif article.status == "submitted":
                article.status = "draft"
            ops.save(s, actor, article, draft, message=f"导入 {path.name}")
            outcome = "revised"
            staged = article.status == "published" and not publish
    article.imported_hash = digest
    article.imported_revision = article.review_revision.number
    result = FileResult(str(path), outcome, article.slug)
    if staged:
        try:
            report = ops.submit(s, actor, article)
            result.findings = report.as_dicts()
            result.message = "已提交审核，审核通过后替换线上版本"
        except ops.SubmissionBlocked as err:
            result.findings = err.extra.get("findings", [])
            result.message = "内容检查有错误，保留为草稿，未提交审核"
        return result
    if publish:
        if report is None:
            report = check(text, import_context(s, known_slugs, article.slug, path.parent))
        result.findings = report.as_dicts()
        if report.has_errors and not force:
            result.outcome = "draft"
            result.message = f"内容检查发现 {len(report.errors)} 个错误，保留为草稿"
            return result
        if report.has_errors:
            audit.record(
                s,
                actor,
                "article.force_publish",
                "article",
                article.slug,
                findings=[f.as_dict() for f in report.errors],
            )
        ops.publish_directly(s, actor, article, note="导入发布")
    return result


def import_paths(
    s: Session,
    actor: Any,
    paths: Iterable[str],
    *,
    enterprise_code: str | None = None,
    publish: bool = False,
    force: bool = False,
) -> list[FileResult]:
    enterprise = None
    if enterprise_code:
        enterprise = s.scalar(select(Organisation).where(Organisation.code == enterprise_code))
        if enterprise is None or enterprise.kind != "enterprise":
            raise KbError(
                f"企业代码“{enterprise_code}”不存在或不是入围企业",
                fields={"enterprise": "企业不存在"},
            )
    files = list(iter_files(paths))
    # slugs of this batch count as known, so articles may link to each other
    known = set(s.scalars(select(Article.slug))) | {p.stem.lower() for p in files}
    results: list[FileResult] = []
    for path in files:
        try:
            result = import_file(
                s,
                actor,
                path,
                enterprise=enterprise,
                publish=publish,
                force=force,
                known_slugs=known,
            )
            s.commit()
            if result.slug:
                known.add(result.slug)
        except KbError as err:
            s.rollback()
            detail = "；".join(
                f"{frontmatter.FIELD_LABELS.get(k, k)}：{v}" for k, v in err.fields.items()
            )
            result = FileResult(str(path), "failed", None, detail or err.message)
        except OSError as err:
            s.rollback()
            result = FileResult(str(path), "failed", None, f"无法读取文件：{err.strerror or err}")
        results.append(result)
    return results
