"""The pydantic v2 models of /api/v1: every request body and every response.

Request models check shapes and types (what JSON type each field has, which fields are
required); the rules of the trade (dates in order, known categories, who may do what) stay in
the operations under kb/, which every caller (pages, CLI, API) shares. Response models describe
exactly what the handlers answer; ``kb.api.respond`` passes every answer through its model, so
the published OpenAPI document (``kb.api.openapi``) cannot drift from the code.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr
from pydantic_core import PydanticCustomError

from kb import feedback, tickets
from kb.frontmatter import FIELD_LABELS

Text = StrictStr
TextList = Annotated[
    list[StrictStr] | StrictStr, Field(description="文字列表，或以逗号、顿号分隔的一段文字")
]


def _revision_number(value: Any) -> Any:
    """A revision number from a query string or JSON: digits only, never a boolean."""
    if isinstance(value, bool) or not str(value).isdigit() or not 0 < int(value) < 2**31:
        raise PydanticCustomError("positive_int", "positive integer")
    return int(value)


RevisionNumber = Annotated[
    int,
    BeforeValidator(_revision_number),
    Field(ge=1, lt=2**31, description="编辑所基于的修订号；之后已有更新的修订时答复 409"),
]


class Request(BaseModel):
    """A request body: unknown fields are refused, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    """A response body. Fields a newer server adds are allowed through (clients ignore them)."""

    model_config = ConfigDict(extra="allow")


class Query(BaseModel):
    """Query-string parameters: text from the URL, so numbers are parsed from text."""

    model_config = ConfigDict(extra="ignore")


# ---- errors ---------------------------------------------------------------------------------


class ErrorBody(Response):
    code: str = Field(description="机器可读的错误代码，如 invalid、not_found、unauthorized")
    message: str = Field(description="给人看的中文说明")
    fields: dict[str, str] = Field(description="出错的字段 → 中文说明；与字段无关时为空对象")
    current_revision: int | None = Field(None, description="edit_conflict：当前最新的修订号")
    base_revision: int | None = Field(None, description="edit_conflict：请求所基于的修订号")


class Error(Response):
    """The one error shape of the API."""

    error: ErrorBody


# ---- articles -------------------------------------------------------------------------------


def _label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


class ArticleFields(Request):
    """An article as JSON fields plus ``markdown`` (the body), or the whole Markdown file with
    front matter in ``source``. The same fields may instead be sent as ``text/markdown``."""

    unknown_fields_under: ClassVar[str] = "front_matter"

    source: Text | None = Field(None, title="完整文章", description="含 front matter 的 Markdown")
    title: Text | None = Field(None, title=_label("title"), description="最长 200 字符")
    slug: Text | None = Field(None, title=_label("slug"), description="英文小写、数字、连字符")
    type: Text | None = Field(None, title=_label("type"))
    category: Text | None = Field(None, title=_label("category"))
    products: TextList | None = Field(None, title=_label("products"))
    os: TextList | None = Field(None, title=_label("os"))
    tags: TextList | None = Field(None, title=_label("tags"))
    summary: Text | None = Field(None, title=_label("summary"))
    visibility: Text | None = Field(
        None, title=_label("visibility"), description="public、registered 或 restricted"
    )
    allowed_orgs: TextList | None = Field(None, title=_label("allowed_orgs"))
    review_by: Text | None = Field(None, title=_label("review_by"), description="YYYY-MM-DD")
    enterprise: Text | None = Field(None, title=_label("enterprise"))
    markdown: Text | None = Field(None, title=_label("markdown"))
    base_revision: RevisionNumber | None = None


class Reason(Request):
    """Optional body of a review step: the reviewer's note (``note`` is an older name)."""

    reason: Text | None = Field(None, title="审核意见")
    note: Text | None = Field(None, title="审核意见")


class Archive(Reason):
    """Body of 归档: the note, and the article that replaces this one (its address forwards)."""

    replaced_by: Text | None = Field(None, title="替代文章", description="另一篇已发布文章的 slug")


class CheckBody(ArticleFields):
    """Content check: ``source`` (whole article) or ``markdown`` plus fields."""


class Helpful(Response):
    yes: int
    no: int


class ArticleSummary(Response):
    slug: str
    title: str
    type: str
    category: str
    products: list[str]
    os: list[str]
    tags: list[str]
    summary: str
    visibility: str
    allowed_orgs: list[str]
    review_by: str | None
    enterprise: str
    status: str
    pending: str | None = Field(description="审核中的操作（如 draft、submitted），无则为 null")
    updated_at: str
    published_at: str | None
    url: str
    helpful: Helpful
    revision: int | None = Field(None, description="所示修订的编号")
    revision_state: str | None = None


class Article(ArticleSummary):
    # the shown revision's own fields, as its front matter gave them
    title: str | None  # type: ignore[assignment]
    type: str | None  # type: ignore[assignment]
    category: str | None  # type: ignore[assignment]
    products: list[str] | None  # type: ignore[assignment]
    os: list[str] | None  # type: ignore[assignment]
    tags: list[str] | None  # type: ignore[assignment]
    summary: str | None  # type: ignore[assignment]
    tickets_solved: int | None = Field(None, description="关联的已闭环工单数")
    markdown: str | None = None
    source: str | None = None
    html: str | None = None
    review_note: str | None = Field(None, description="审核意见（仅作者与审核员可见）")
    stale: bool | None = Field(None, description="已过复审日期（内容可能已过时）")
    replaced_by: str | None = Field(None, description="归档时指定的替代文章")
    replaces: list[str] | None = Field(None, description="由本文替代的已归档文章")


class Confirmed(Response):
    slug: str
    review_by: str
    stale: bool


class ArticleList(Response):
    total: int
    page: int
    per_page: int
    results: list[ArticleSummary]


class ArticleListQuery(Query):
    status: str | None = None
    type: str | None = None
    category: str | None = None
    page: int = Field(1, ge=1, le=10_000)
    per_page: int = Field(20, ge=1, le=100)


class ArticleQuery(Query):
    revision: Literal["working"] | None = Field(None, description="working：审核中的修订")


class SaveQuery(Query):
    message: str | None = Field(None, max_length=500, description="修订说明")
    resolves: int | None = Field(None, ge=0, le=2**31, description="本修订处理的修订请求编号")
    base_revision: RevisionNumber | None = None


class CreateQuery(Query):
    message: str | None = Field(None, max_length=500, description="修订说明")


class Remark(Response):
    author: str
    body: str
    created_at: str


class RevisionItem(Response):
    number: int
    state: str
    author: str
    message: str
    created_at: str
    created_at_local: str
    review_note: str | None
    comments: list[Remark]


class Revisions(Response):
    slug: str
    published: int | None
    working: int | None
    revisions: list[RevisionItem]


class DiffQuery(Query):
    from_: int = Field(alias="from", ge=1, le=1_000_000, title="from")
    to: int = Field(ge=1, le=1_000_000)


class DiffLine(Response):
    op: Literal["+", "-", " ", "@"]
    text: str


class DiffRow(Response):
    op: str = Field(description="replace、insert、delete 或 skip")
    old_line: int | None
    new_line: int | None
    old_html: str
    new_html: str
    html: str


class Diff(Response):
    model_config = ConfigDict(populate_by_name=True)

    slug: str
    from_: int = Field(alias="from")
    to: int
    lines: list[DiffLine]
    html: str = Field(description="全部行，改动处带 <del>/<ins>，其余文字已转义")
    rows: list[DiffRow] = Field(description="改动的行：旧行与新行对齐，各自带标记")


class CheckQuery(Query):
    slug: str | None = Field(None, max_length=80, description="按此文章判断链接与重复")


class FindingOut(Response):
    rule: str
    severity: str
    message: str
    line: int | None = None
    column: int | None = None
    fix: str | None = None


class CheckResult(Response):
    findings: list[FindingOut]


# ---- search ---------------------------------------------------------------------------------


class SearchQuery(Query):
    q: str | None = Field(None, description="查询词，最多 200 个字符")
    type: str | None = None
    category: str | None = None
    product: str | None = None
    enterprise: str | None = None
    sort: str | None = Field(None, description="relevance（默认）、updated 或 helpful")
    page: int = Field(1, ge=1, le=100)
    per_page: int = Field(10, ge=1, le=50)


class Hit(Response):
    slug: str
    title: str
    title_html: str
    snippet_html: str
    type: str
    category: str
    products: list[str]
    enterprise: str
    updated_at: str
    helpful: dict[str, int]
    url: str


class SearchResult(Response):
    query: str
    total: int
    page: int
    per_page: int
    results: list[Hit]
    facets: dict[str, dict[str, int]]
    suggestion: str | None
    notice: str | None
    weak: bool = Field(description="最佳结果不可靠（可能答非所问）时为 true")


class SuggestQuery(Query):
    q: str | None = Field(None, description="已输入的文字，最多 200 个字符")


class Suggestion(Response):
    text: str
    slug: str


class Suggestions(Response):
    suggestions: list[Suggestion]


# ---- feedback and revision requests -----------------------------------------------------------


class Vote(Request):
    helpful: StrictBool = Field(title="是否有帮助")
    reason: Literal[feedback.REASONS] | None = Field(  # type: ignore[valid-type]
        None, title="原因", description="没帮助时必填"
    )
    comment: Text | None = Field(None, title="补充说明", description="最多 1000 字")


class VoteResult(Response):
    id: int
    request_id: int | None
    changed: bool
    helpful: Helpful


class FeedbackItem(Response):
    id: int
    article: str
    title: str
    url: str
    helpful: bool
    reason: str | None
    comment: str | None
    created_at: str
    updated_at: str
    request_id: int | None
    status: str
    status_label: str
    reply: str | None
    revision: int | None


class FeedbackList(Response):
    results: list[FeedbackItem]


class RequestsQuery(Query):
    status: str | None = Field(None, description="open（默认）、closed、declined 或 all")


class RevisionRequest(Response):
    id: int
    article: str
    title: str
    enterprise: str
    reason: str | None
    comment: str | None
    status: str
    status_label: str
    created_at: str
    closed_at: str | None
    reply: str | None
    revision: int | None
    age_days: int
    age_working_days: int
    due: str
    overdue: bool
    assignee: str | None = Field(None, description="仅处理人与审核员可见")
    escalated: bool
    escalation_note: str | None = Field(None, description="仅处理人与审核员可见")


class RequestList(Response):
    status: str
    total: int
    results: list[RevisionRequest]


class Decline(Request):
    reply: Text | None = Field(None, title="答复", description="答复反馈人，必填")


class Reassign(Request):
    assignee: Text | None = Field(None, title="处理人", description="企业编辑的用户名")


class Escalate(Request):
    note: Text | None = Field(None, title="督办意见")


# ---- tickets and figures ----------------------------------------------------------------------

_TIME = "ISO 8601 时间，须带 UTC 偏移，如 2025-03-01T09:30:00+08:00"


def _text(name: str) -> Any:
    label, limit = tickets.TEXTS[name]
    required = name in tickets.REQUIRED
    return Field(... if required else None, title=label, description=f"最长 {limit} 字符")


def _time(label: str, name: str) -> Any:
    return Field(
        ... if name in tickets.REQUIRED else None,
        title=label,
        description=_TIME,
        json_schema_extra={"format": "date-time"},
    )


class TicketIn(Request):
    """A closed work order (工单) as the service platform sends it (seed 002 §五)."""

    ticket_no: Text = _text("ticket_no")
    customer_org: Text = _text("customer_org")
    contact_name: Text | None = _text("contact_name")
    contact_phone: Text | None = _text("contact_phone")
    channel: Literal[tickets.CHANNELS] = Field(title="问题反馈渠道")  # type: ignore[valid-type]
    reported_at: Text = _time("用户反馈时间", "reported_at")
    accepted_at: Text | None = _time("受理时间", "accepted_at")
    created_at: Text = _time("工单创建时间", "created_at")
    handling: Literal[tickets.HANDLINGS] = Field(title="处理方式")  # type: ignore[valid-type]
    onsite_responded_at: Text | None = _time("现场响应时间", "onsite_responded_at")
    onsite_arrived_at: Text | None = _time("到场时间", "onsite_arrived_at")
    onsite_completed_at: Text | None = _time("现场完成时间", "onsite_completed_at")
    product: Text = _text("product")
    symptom: Text | None = _text("symptom")
    solution: Text = Field(
        title="问题解决方案", description=f"Markdown，最大 {tickets.MAX_SOLUTION_BYTES // 1024} KB"
    )
    closed_at: Text = _time("问题闭环时间", "closed_at")
    user_reviewed: StrictBool | None = Field(None, title="用户是否点评")
    satisfaction: Literal[tickets.SATISFACTION] | None = Field(  # type: ignore[valid-type]
        None, title="客户满意度"
    )
    follow_up: Text | None = _text("follow_up")
    category: Text | None = Field(None, title="文章分类", description="生成草稿时的分类")
    enterprise: Text | None = Field(None, title="企业代码", description="仅审核员代企业提交时")
    articles: list[StrictStr] | None = Field(
        None,
        title="引用文章",
        max_length=tickets.MAX_ARTICLES,
        description="所用文章的 slug",
    )


class TicketSaved(Response):
    ticket_no: str
    linked: list[str]
    draft: str | None


class TicketOut(Response):
    ticket_no: str
    enterprise: str
    customer_org: str
    contact_name: str | None
    contact_phone: str | None
    channel: str
    reported_at: str | None
    accepted_at: str | None
    created_at: str | None
    handling: str
    onsite_responded_at: str | None
    onsite_arrived_at: str | None
    onsite_completed_at: str | None
    product: str
    symptom: str | None
    solution: str
    closed_at: str | None
    user_reviewed: bool | None
    satisfaction: str | None
    follow_up: str | None
    linked: list[str]
    draft: str | None


class TicketList(Response):
    total: int
    results: list[TicketOut]


class Reuse(Response):
    slug: str
    title: str
    tickets: int


class FeedbackFigures(Response):
    helpful: int
    not_helpful: int
    reasons: dict[str, int]


class RequestFigures(Response):
    open: int
    overdue: int
    closed: int
    declined: int
    median_days_to_close: float | None


class Figures(Response):
    tickets_closed: int
    tickets_citing: int
    tickets_producing: int
    tickets_linked: int
    link_rate: float | None
    articles_from_tickets: int
    articles_from_tickets_published: int
    reuse: list[Reuse]
    reuse_mean: float | None
    feedback: FeedbackFigures
    requests: RequestFigures


class EnterpriseFigures(Figures):
    code: str
    name: str


class Stats(Response):
    generated_at: str
    overdue_after_working_days: int
    overall: Figures | None
    enterprises: list[EnterpriseFigures]


# ---- the bureau's desk (issue 11) -------------------------------------------------------------


class ReviewDueQuery(Query):
    sort: Literal["date", "enterprise"] | None = Field(
        None, description="date（默认）或 enterprise"
    )


class DueItem(Response):
    slug: str
    title: str
    type: str
    enterprise: str
    enterprise_name: str
    review_by: str
    days_left: int = Field(description="距复审日期的天数，已过期为负数")
    overdue: bool
    reviewed_at: str | None


class ReviewDue(Response):
    today: str
    within_days: int
    total: int
    results: list[DueItem]


class EvaluationQuery(Query):
    enterprise: str | None = Field(None, description="企业代码；不带时为全区")
    year: str | None = Field(None, description="年份 YYYY，默认今年")


class EvaluationCheck(Response):
    name: str
    label: str
    value: float | None
    shown: str
    threshold: float
    threshold_shown: str
    passed: bool


class Evidence(Response):
    """The figures behind a verdict (more keys per item), the checks, and for the province the
    number of enterprises per verdict."""

    checks: list[EvaluationCheck]
    enterprises: dict[str, int] | None = None


class EvaluationItem(Response):
    item: int = Field(description="评价项：13 或 14")
    verdict: str = Field(description="是、否或不涉及")
    evidence: Evidence
    advice: str | None


class Evaluation(Response):
    enterprise: str | None
    year: int
    items: list[EvaluationItem]


class MonthlyQuery(Query):
    month: str | None = Field(None, description="YYYY-MM，默认本月")
    enterprise: str | None = Field(None, description="企业代码；不带时为全区")


Figure = float | int | None
# a section's figures: counts and ratios, and the top lists as [query, count] pairs
SectionFigures = dict[str, Figure | list[tuple[str, int]]]


class MonthlyRow(Response):
    section: str
    key: str
    label: str
    kind: str
    current: Figure
    previous: Figure
    change: Figure


class Monthly(Response):
    month: str
    previous_month: str
    enterprise: str | None
    enterprise_name: str
    current: dict[str, SectionFigures]
    previous: dict[str, SectionFigures]
    rows: list[MonthlyRow]
