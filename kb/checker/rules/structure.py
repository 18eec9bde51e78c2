"""KB-STRUCT: front matter complete and valid, one title, heading levels, type completeness."""

from __future__ import annotations

import re
from collections.abc import Iterator

from kb import frontmatter
from kb.checker.context import CheckContext
from kb.checker.document import Document, Line, substance
from kb.checker.registry import Rule, rule
from kb.checker.report import Finding
from kb.errors import Invalid

REQUIRED = ("title", "type", "category", "products", "summary", "visibility")
# without these the article cannot be filed or shown: an error; the others make it complete
ESSENTIAL = ("title", "type", "category", "visibility")

# The sections each type needs, each with the words an author may use for it (heading or a
# bold label at the start of a line). The first word is the one the format guide prescribes.
SECTIONS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "故障处理": [
        ("现象", ("现象", "症状", "问题描述", "故障描述", "故障表现", "问题表现")),
        ("原因", ("原因", "分析")),
        ("解决步骤", ("解决", "处理步骤", "处理方法", "处理办法", "修复", "排除方法")),
    ],
    "疑难问题": [
        ("现象", ("现象", "症状", "问题描述", "故障描述", "问题表现")),
        ("分析", ("分析", "原因")),
        ("解决步骤", ("解决", "处理步骤", "处理方法", "处理办法", "修复")),
    ],
    "操作指南": [
        ("操作步骤", ("步骤", "操作方法", "操作流程", "配置方法", "设置方法", "操作说明"))
    ],
    "常见问题": [("问题", ("问题", "提问", "疑问")), ("解答", ("解答", "回答", "答复"))],
}
NUMBERED_TYPES = ("操作指南", "故障处理")
_BOLD_LABEL = re.compile(r"\s*\*\*([^*\n]{1,20})\*\*")
_QUESTION = re.compile(r"(?:^(?:问|Q)\s*[:：\d]|[？?]\s*$)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


@rule("KB-STRUCT-010", "error", "文件过大")
def _too_large(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    yield from ()  # reported by check() before any rule runs; registered so the id is listed


@rule("KB-STRUCT-011", "error", "文件不是 UTF-8 编码")
def _not_utf8(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    yield from ()  # reported by check_file() when the bytes cannot be decoded


@rule("KB-STRUCT-012", "error", "含有二进制或控制字符")
def control_characters(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    m = _CONTROL.search(doc.source)
    if m is None:
        return
    line = doc.source.count("\n", 0, m.start()) + 1
    column = m.start() - (doc.source.rfind("\n", 0, m.start()) + 1) + 1
    total = len(_CONTROL.findall(doc.source))
    yield r.at(
        f"文件含有 {total} 个二进制或不可见的控制字符（第一个在此处，U+{ord(m.group()):04X}），"
        "可能是误把二进制文件当作文章，或从其他软件复制时带入。请删除这些字符，只保留文字。",
        line,
        column,
    )


@rule("KB-STRUCT-001", "error", "缺少 front matter 或无法读取")
def front_matter_readable(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    if doc.meta_error:
        yield r.at(f"{doc.meta_error}。请按文章格式说明修正文件开头的 --- 信息块。", 1, 1)
    elif doc.meta is None:
        yield r.at(
            "缺少 front matter：文件应以 --- 开头，"
            "写明标题、类型、分类、适用产品、摘要、可见范围和复审日期，"
            "再以 --- 结束。",
            1,
            1,
            fix="---\ntitle: \ntype: \ncategory: \nproducts: []\nsummary: \n"
            "visibility: public\nreview_by: \n---\n",
        )


def _missing(doc: Document) -> list[str]:
    if doc.meta is None:
        return []
    missing = []
    for key in REQUIRED:
        value = doc.meta.get(key)
        if (
            value is None
            or (isinstance(value, str | list) and not value)
            or (isinstance(value, str) and not value.strip())
        ) or (key == "products" and not doc.meta_list("products")):
            missing.append(key)
    return missing


_HINTS = {
    "products": "至少写一个适用产品（品牌 型号），如 products: [惠普 LaserJet Pro M1136 MFP]，"
    "读者才能按产品找到本文",
    "summary": "用一句话说明本文解决什么问题（不超过 200 字），它显示在搜索结果和列表中",
    "type": "应为：" + "、".join(frontmatter.TYPES),
    "category": "应为：" + "、".join(frontmatter.CATEGORIES),
    "visibility": "public（公开）、registered（登录可见）或 restricted（受限）",
}


def _missing_message(key: str) -> str:
    label = frontmatter.FIELD_LABELS[key]
    extra = f"：{_HINTS[key]}" if key in _HINTS else ""
    return f"缺少{label}（{key}）{extra}。"


@rule("KB-STRUCT-002", "error", "front matter 缺少必填字段")
def required_fields(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for key in _missing(doc):
        if key in ESSENTIAL:
            yield r.at(_missing_message(key), doc.meta_line(key), 1)


@rule("KB-STRUCT-013", "warning", "front matter 不完整")
def complete_fields(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    for key in _missing(doc):
        if key not in ESSENTIAL:
            yield r.at(_missing_message(key), doc.meta_line(key), 1)


@rule("KB-STRUCT-003", "error", "front matter 字段值不合法")
def valid_fields(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    if doc.meta is None:
        return
    missing = set(_missing(doc))
    try:
        frontmatter.validate_meta(doc.meta, "")
    except Invalid as err:
        for key, message in err.fields.items():
            if key in missing:
                continue
            line = doc.meta_line(key) if key in frontmatter.FIELD_LABELS else 1
            yield r.at(f"{message}。", line, 1)
    category = doc.meta.get("category")
    if (
        isinstance(category, str)
        and category.strip()
        and category.strip() not in frontmatter.CATEGORIES
    ):
        yield r.at(
            f"未知的分类“{category.strip()}”，应为：" + "、".join(frontmatter.CATEGORIES) + "。",
            doc.meta_line("category"),
            1,
        )


@rule("KB-STRUCT-004", "warning", "正文中另有一级标题")
def single_title(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    title = doc.meta.get("title") if doc.meta else None
    repeated = frontmatter.title_heading(doc.body, title if isinstance(title, str) else None)
    for ln in doc.headings():
        if ln.level != 1:
            continue
        if repeated is not None and ln.no == doc.body_line + repeated:
            continue  # "# <title>" opening the body: accepted, and dropped when rendering
        text = ln.raw.strip().lstrip("#").strip()
        yield r.at(
            "文章标题写在 front matter 的 title 中，正文的一级标题（# 开头）与标题不同，"
            "显示时会当作普通段落；正文的小节请从二级标题（##）开始。",
            ln.no,
            1,
            fix=f"## {text}",
        )


@rule("KB-STRUCT-005", "warning", "标题层级跳级")
def heading_levels(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    previous = 1  # the title (front matter) is the level-1 heading
    for ln in doc.headings():
        if ln.level == 1:
            previous = 1
            continue
        if ln.level > previous + 1:
            expected = previous + 1
            text = ln.content.strip()
            yield r.at(
                f"标题层级跳级：上一级是 {previous} 级标题，这里直接用了 {ln.level} 级。"
                f"请改为 {expected} 级标题（{'#' * expected}），让目录结构连贯。",
                ln.no,
                1,
                fix=f"{'#' * expected} {text}",
            )
        previous = ln.level


def _labels(doc: Document) -> list[tuple[Line, str]]:
    """Headings and bold labels at line starts: the places a section name can be written."""
    found = []
    for ln in doc.body_lines:
        if ln.kind == "heading":
            found.append((ln, ln.content.strip()))
        elif ln.kind in ("text", "item"):
            m = _BOLD_LABEL.match(ln.content)
            if m:
                found.append((ln, m.group(1)))
    return found


def _faq_by_questions(doc: Document) -> bool:
    """A FAQ written as question headings, each followed by its answer."""
    lines = doc.body_lines
    for i, ln in enumerate(lines):
        if ln.kind == "heading" and _QUESTION.search(ln.content.strip()):
            for nxt in lines[i + 1 :]:
                if nxt.kind == "heading":
                    break
                if nxt.kind not in ("blank",):
                    return True
    return False


@rule("KB-STRUCT-006", "error", "缺少该类型文章必需的小节")
def type_sections(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    wanted = SECTIONS.get(doc.type)
    if not wanted:
        return
    labels = [text for _, text in _labels(doc)]
    if doc.type == "常见问题" and _faq_by_questions(doc):
        return
    for name, words in wanted:
        if not any(w in text for text in labels for w in words):
            yield r.at(
                f"{doc.type}类文章缺少“{name}”一节。请加上 `## {name}` 小节"
                + ("（可用同义写法：" + "、".join(words[1:4]) + "）" if len(words) > 1 else "")
                + "。",
                doc.meta_line("type"),
                1,
                fix=f"## {name}",
            )


@rule("KB-STRUCT-007", "error", "缺少编号步骤")
def numbered_steps(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    if doc.type not in NUMBERED_TYPES:
        return
    ordered = [ln for ln in doc.body_lines if ln.kind == "item" and ln.ordered]
    if len(ordered) >= 2:
        return
    yield r.at(
        f"{doc.type}类文章要有编号步骤：请把操作写成编号列表（1. 2. 3.），"
        "每步一个动作，读者可以逐步照做。",
        doc.meta_line("type"),
        1,
    )


@rule("KB-STRUCT-008", "warning", "内容过少")
def substance_minimum(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    minimum = ctx.thresholds.min_substance.get(doc.type)
    if not minimum or doc.meta is None:
        return
    size = substance("\n".join(ln.content for ln in doc.prose_lines()))
    if size < minimum:
        yield r.at(
            f"正文内容过少（约 {size} 字，{doc.type}类文章至少约 {minimum} 字）。"
            "请补充现象、原因、操作细节或参考资料，让读者不必再找别人问。",
            doc.body_line if doc.body_line <= len(doc.lines) else 1,
            1,
        )


@rule("KB-STRUCT-009", "warning", "空的小节")
def empty_sections(r: Rule, doc: Document, ctx: CheckContext) -> Iterator[Finding]:
    lines = [ln for ln in doc.body_lines if ln.kind != "blank"]
    for i, ln in enumerate(lines):
        if ln.kind != "heading":
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        # a section holding only deeper headings is not empty; one followed by a sibling is
        if nxt is None or (nxt.kind == "heading" and nxt.level <= ln.level):
            yield r.at(
                f"小节“{ln.content.strip()[:30]}”下没有内容。请补充内容，或删除这个标题。", ln.no, 1
            )
