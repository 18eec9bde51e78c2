"""Front matter: split an article file into YAML metadata and Markdown, and validate it.

``split`` only separates the two parts (the checker reports on whatever it finds);
``parse`` turns a source into a typed ``ArticleDraft`` or raises ``Invalid`` naming each bad
field in Chinese.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml

from kb.errors import Invalid
from kb.permissions.roles import Visibility

TYPES = ("常见问题", "故障处理", "操作指南", "产品配置", "技术原理", "疑难问题")
CATEGORIES = (
    "桌面操作系统",
    "办公软件",
    "打印与扫描",
    "处理器与固件",
    "浏览器与插件",
    "数据库",
    "安全与政务客户端",
    "外部设备",
    "中间件",
)
FIELD_LABELS = {
    "title": "标题",
    "slug": "标识（slug）",
    "type": "文章类型",
    "category": "分类",
    "products": "适用产品",
    "os": "操作系统及版本",
    "tags": "标签",
    "summary": "摘要",
    "visibility": "可见范围",
    "allowed_orgs": "授权单位",
    "review_by": "复审日期",
    "enterprise": "所属企业",
    "markdown": "正文",
}
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
_FENCE_RE = re.compile(r"^(?:---|\.\.\.)\s*$")
MAX_FRONT_MATTER = 16 * 1024
MAX_LIST_ITEMS = 50


@dataclass
class Split:
    meta: dict[str, Any] | None  # None when the source has no front matter block
    body: str
    body_line: int  # 1-based line of the first body line in the source
    error: str | None = None  # why the front matter could not be read, if it could not


@dataclass
class ArticleDraft:
    title: str
    type: str
    category: str
    visibility: str
    body: str
    slug: str | None = None
    products: list[str] = field(default_factory=list)
    os: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    summary: str = ""
    allowed_orgs: list[str] = field(default_factory=list)
    review_by: date | None = None
    enterprise: str | None = None

    def meta(self) -> dict[str, Any]:
        """JSON-safe metadata, in the order an author writes it."""
        return {
            "title": self.title,
            "slug": self.slug,
            "type": self.type,
            "category": self.category,
            "products": self.products,
            "os": self.os,
            "tags": self.tags,
            "summary": self.summary,
            "visibility": self.visibility,
            "allowed_orgs": self.allowed_orgs,
            "review_by": self.review_by.isoformat() if self.review_by else None,
            "enterprise": self.enterprise,
        }

    def source(self) -> str:
        """The canonical file form: front matter then body."""
        meta = {k: v for k, v in self.meta().items() if v not in (None, [], "")}
        if self.review_by:
            meta["review_by"] = self.review_by
        head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
        return f"---\n{head}---\n\n{self.body.lstrip(chr(10))}"


_H1 = re.compile(r"^ {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")


def _same_title(a: str, b: str) -> bool:
    """Equal as a reader reads them: full/half width, case and spaces do not count."""
    import unicodedata

    def fold(text: str) -> str:
        return "".join(unicodedata.normalize("NFKC", text).casefold().split())

    return bool(fold(a)) and fold(a) == fold(b)


def title_heading(body: str, title: str | None) -> int | None:
    """0-based line of a leading ``# <title>`` in the body, or None.

    Many authors open the body with the title as an H1 (as every Markdown editor does); it
    repeats the front matter's title, so the checker accepts it and rendering drops it.
    """
    if not title:
        return None
    for n, line in enumerate(body.split("\n")):
        if not line.strip():
            continue
        m = _H1.match(line)
        return n if m and _same_title(m.group(1), title) else None
    return None


def without_title_heading(body: str, title: str | None) -> str:
    """The body without its leading ``# <title>`` line (see ``title_heading``)."""
    n = title_heading(body, title)
    if n is None:
        return body
    lines = body.split("\n")
    return "\n".join(lines[:n] + lines[n + 1 :])


def split(text: str) -> Split:
    """Separate front matter from body without judging the metadata's content."""
    text = text.lstrip("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return Split(None, text, 1)
    for i in range(1, len(lines)):
        if _FENCE_RE.match(lines[i]):
            head = "\n".join(lines[1:i])
            body = "\n".join(lines[i + 1 :])
            if len(head.encode("utf-8", "surrogatepass")) > MAX_FRONT_MATTER:
                return Split(None, body, i + 2, "front matter 超过 16 KB")
            try:
                meta = yaml.safe_load(head) if head.strip() else {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"第 {mark.line + 2} 行" if mark is not None else ""
                return Split(None, body, i + 2, f"front matter 不是合法的 YAML{where}")
            except RecursionError:
                return Split(None, body, i + 2, "front matter 嵌套过深")
            except ValueError:
                # YAML resolves "2024-13-45" to a date and 5,000 digits to an int, and raises
                why = "front matter 中有无效的值（如不存在的日期或过长的数字）"
                return Split(None, body, i + 2, why)
            if not isinstance(meta, dict):
                return Split(None, body, i + 2, "front matter 应为“键: 值”的形式")
            return Split(meta, body, i + 2)
    return Split(None, text, 1, "front matter 缺少结束行 ---")


def _unstorable(text: str) -> bool:
    """A lone surrogate (YAML "\\ud800" escapes make them) or NUL cannot be stored or shown."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad_chars(key: str) -> str:
    return f"{FIELD_LABELS[key]}包含无效字符（孤立的代理项或空字符），请检查文本编码"


def _text(meta: dict[str, Any], key: str, errors: dict[str, str], *, limit: int) -> str:
    value = meta.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors[key] = f"{FIELD_LABELS[key]}应为文字"
        return ""
    text = str(value).strip()
    if _unstorable(text):
        errors[key] = _bad_chars(key)
        return ""
    if len(text) > limit:
        errors[key] = f"{FIELD_LABELS[key]}不能超过 {limit} 个字符"
    return text


def _list(meta: dict[str, Any], key: str, errors: dict[str, str]) -> list[str]:
    value = meta.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[,，、]\s*", value) if v.strip()]
    if not isinstance(value, list) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    ):
        errors[key] = f"{FIELD_LABELS[key]}应为文字列表，如 [项目一, 项目二]"
        return []
    if len(value) > MAX_LIST_ITEMS:
        errors[key] = f"{FIELD_LABELS[key]}最多 {MAX_LIST_ITEMS} 项"
        return []
    items = [str(v).strip() for v in value if str(v).strip()]
    if any(_unstorable(v) for v in items):
        errors[key] = _bad_chars(key)
        return []
    if any(len(v) > 100 for v in items):
        errors[key] = f"{FIELD_LABELS[key]}的每一项不能超过 100 个字符"
    return list(dict.fromkeys(items))


def _date(meta: dict[str, Any], key: str, errors: dict[str, str]) -> date | None:
    value = meta.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[key] = f"{FIELD_LABELS[key]}应为 YYYY-MM-DD 格式的日期"
        return None


def validate_meta(meta: dict[str, Any], body: str) -> ArticleDraft:
    """Typed draft from a metadata mapping, or ``Invalid`` naming every bad field."""
    errors: dict[str, str] = {}
    # YAML keys may be numbers, dates or null; they are reported, never compared with text
    unknown = sorted(str(k) for k in meta if k not in FIELD_LABELS and k != "markdown")
    if unknown:
        shown = "、".join(k if not _unstorable(k) else "（含无效字符的字段名）" for k in unknown)
        errors["front_matter"] = "无法识别的字段：" + shown
    if _unstorable(body):
        errors["markdown"] = _bad_chars("markdown")
    title = _text(meta, "title", errors, limit=200)
    if not title and "title" not in errors:
        errors["title"] = "缺少标题"
    slug = _text(meta, "slug", errors, limit=80).lower() or None
    if slug and not SLUG_RE.match(slug):
        errors["slug"] = (
            "标识只能由英文字母、数字和连字符 - 组成，不能以 - 开头或结尾，最长 80 个字符"
        )
    type_ = _text(meta, "type", errors, limit=20)
    if type_ not in TYPES and "type" not in errors:
        errors["type"] = (
            f"未知的文章类型“{type_}”，应为：" + "、".join(TYPES) if type_ else "缺少文章类型"
        )
    category = _text(meta, "category", errors, limit=50)
    if not category and "category" not in errors:
        errors["category"] = "缺少分类"
    visibility = _text(meta, "visibility", errors, limit=20)
    if visibility not in set(Visibility) and "visibility" not in errors:
        errors["visibility"] = (
            f"未知的可见范围“{visibility}”，应为 public（公开）、registered（登录可见）或 "
            "restricted（受限）"
            if visibility
            else "缺少可见范围（public、registered 或 restricted）"
        )
    draft = ArticleDraft(
        title=title,
        slug=slug,
        type=type_,
        category=category,
        visibility=visibility,
        body=body,
        products=_list(meta, "products", errors),
        os=_list(meta, "os", errors),
        tags=_list(meta, "tags", errors),
        summary=_text(meta, "summary", errors, limit=500),
        allowed_orgs=_list(meta, "allowed_orgs", errors),
        review_by=_date(meta, "review_by", errors),
        enterprise=_text(meta, "enterprise", errors, limit=64) or None,
    )
    if errors:
        raise Invalid("文章信息有误：" + "；".join(errors.values()), fields=errors)
    return draft


def parse(text: str) -> ArticleDraft:
    """Parse a full source (front matter + Markdown) into a draft, or raise ``Invalid``."""
    parts = split(text)
    if parts.error:
        raise Invalid(parts.error, fields={"front_matter": parts.error})
    if parts.meta is None:
        raise Invalid(
            "缺少 front matter：文件应以 --- 开头，写明标题、类型、分类等信息",
            fields={"front_matter": "缺少 front matter"},
        )
    return validate_meta(parts.meta, parts.body)
