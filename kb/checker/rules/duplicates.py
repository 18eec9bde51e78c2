"""KB-DUP: a near-duplicate of a published article, named so the author can merge or link."""

from __future__ import annotations

from collections.abc import Iterator

from kb.checker import similarity
from kb.checker.context import CheckContext
from kb.checker.document import Document
from kb.checker.registry import Rule, rule
from kb.checker.report import Finding


@rule("KB-DUP-001", "warning", "与已发布文章高度相似")
def near_duplicates(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    candidates = [p for p in ctx.published or [] if p.slug != ctx.self_slug]
    if not candidates or not doc.body.strip():
        return
    th = ctx.thresholds
    sig = similarity.text_signature(doc.body, shingle=th.duplicate_shingle, size=th.minhash_size)
    scored = sorted(
        ((similarity.similarity(sig, p.signature, th.minhash_size), p) for p in candidates),
        key=lambda pair: -pair[0],
    )
    line = doc.meta_line("title")
    for score, p in scored[: th.duplicate_max_reported]:
        if score < th.duplicate_similarity:
            break
        yield r.at(
            f"本文与已发布的文章《{p.title}》（/articles/{p.slug}）高度相似（约 {score:.0%}）。"
            "请确认是否重复：内容相同请改为修订那篇文章；确有不同，请在文中说明区别并互相链接。",
            line,
            1,
        )
