"""KB-TIME: a review date that is set, ahead and within two years; products still supported."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from kb.checker import products as products_mod
from kb.checker.context import CheckContext
from kb.checker.document import Document
from kb.checker.registry import Rule, rule
from kb.checker.report import Finding


def _suggested(ctx: CheckContext) -> str:
    return (ctx.today + timedelta(days=365)).isoformat()


@rule("KB-TIME-001", "warning", "缺少复审日期")
def review_by_missing(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    if doc.meta is None or doc.meta.get("review_by") not in (None, ""):
        return
    yield r.at(
        "缺少复审日期（review_by）。请填写一个今天之后、两年之内的日期，到期时系统会提醒复核文章是否仍然准确。",
        doc.meta_line("review_by"),
        1,
        fix=f"review_by: {_suggested(ctx)}",
    )


@rule("KB-TIME-002", "warning", "复审日期已过")
def review_by_past(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    when = doc.review_by()
    if when is not None and when < ctx.today:
        yield r.at(
            f"复审日期 {when.isoformat()} 已过。"
            "请核对文章内容是否仍然准确（产品版本、界面、命令），"
            "更新后把复审日期改到今天之后。",
            doc.meta_line("review_by"),
            1,
            fix=f"review_by: {_suggested(ctx)}",
        )


@rule("KB-TIME-003", "warning", "复审日期超过两年")
def review_by_far(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    when = doc.review_by()
    limit = ctx.today + timedelta(days=ctx.thresholds.review_max_days)
    if when is not None and when > limit:
        yield r.at(
            f"复审日期 {when.isoformat()} 距今超过两年。"
            f"信创产品更新较快，请设在 {limit.isoformat()} 之前。",
            doc.meta_line("review_by"),
            1,
            fix=f"review_by: {_suggested(ctx)}",
        )


@rule("KB-TIME-004", "warning", "适用产品已停止维护")
def end_of_life(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    catalogue = ctx.products or products_mod.shipped()
    for key in ("products", "os"):
        for name in doc.meta_list(key):
            product = catalogue.find(name)
            if product is None or product.end_of_life is None or product.end_of_life > ctx.today:
                continue
            yield r.at(
                f"适用产品“{name}”已于 {product.end_of_life.isoformat()} 停止维护（见产品目录）。"
                "请确认本文是否仍有必要：迁移类内容请注明，过时内容请更新到在维护的版本或申请归档。",
                doc.meta_line(key),
                1,
            )
