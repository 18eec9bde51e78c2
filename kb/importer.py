"""Import article files and folders: front matter → checker → articles, one report line per file.

Never all-or-nothing: each file commits on its own, a bad file is reported with its reason and
the rest still import. Re-importing a slug adds a revision (or nothing, if unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb import articles as ops
from kb import audit, frontmatter
from kb.checker import check, import_context
from kb.errors import KbError
from kb.models import Article, Organisation

MAX_FILE_BYTES = 200 * 1024


@dataclass
class FileResult:
    path: str
    outcome: str  # created | revised | unchanged | draft | failed
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
    unchanged = article is not None and article.review_revision.source == draft.source()
    if unchanged and (not publish or article.working_revision is None):
        return FileResult(str(path), "unchanged", draft.slug, "内容未变化")
    if article is None:
        article = ops.create(s, actor, draft, owner=owner, message=f"导入 {path.name}")
        outcome = "created"
    elif unchanged:
        outcome = "unchanged"
    else:
        if article.status == "published" and article.pending == "submitted":
            article.working_revision.state = "superseded"
            article.pending = "draft"
        elif article.status == "submitted":
            article.status = "draft"
        ops.save(s, actor, article, draft, message=f"导入 {path.name}")
        outcome = "revised"
    result = FileResult(str(path), outcome, article.slug)
    if publish:
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
