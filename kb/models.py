"""SQLAlchemy 2 tables: the source of truth for organisations, users, articles and their history.

An Article row carries the metadata of the face readers see (its published revision, or its
working revision while it has never been published) so lists and filters need no join; the
Markdown itself lives only in immutable Revision rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores UTC, always returns aware datetimes, whatever the backend keeps."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # enterprise | unit | bureau
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # reader | editor | curator | admin
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # someone else set the password (demo, CLI, admin reset): changed at the next sign-in
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # set when too many sign-in failures fell in the window (see accounts.authenticate)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    organisation: Mapped[Organisation] = relationship(back_populates="users", lazy="joined")

    # the raw key of the sign-in session this object was loaded through (never stored)
    session_key = None

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # Flask-Login keeps this in the session and remember cookies: the server-side session
        # key, so that ending the session row ends both cookies (see kb/sessions.py).
        return self.session_key or ""


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(lazy="joined")


class UserSession(Base):
    """A sign-in session; the cookies carry the raw key, the table only its SHA-256."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # logout | password | role | disabled | locked | idle | expired
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship(lazy="joined")


class LoginFailure(Base):
    """One failed sign-in for an existing account; counted across workers for the lockout."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")


class Article(Base):
    __tablename__ = "article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    # draft | submitted | returned (never published yet) | published | archived
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # state of the working revision of a published article: None | draft | submitted | returned
    pending: Mapped[str | None] = mapped_column(String(16), nullable=True)

    title: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(50))
    products: Mapped[list[str]] = mapped_column(JSON, default=list)
    os: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    allowed_orgs: Mapped[list[str]] = mapped_column(JSON, default=list)
    # ACL terms padded with spaces (" public " / " staff org:demo org:unit-a "): the same terms
    # the search index stores, so SQL listings and search filter by one rule.
    acl: Mapped[str] = mapped_column(String(2000), default=" public ")
    review_by: Mapped[date | None] = mapped_column(Date, nullable=True)
    # issue 11 (freshness): when a curator or the owning editor last confirmed it (复核无误), and
    # the article that replaces it once archived (its old address answers 301 there)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(80), nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    published_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("revision.id", use_alter=True), nullable=True
    )
    working_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("revision.id", use_alter=True), nullable=True
    )
    helpful_yes: Mapped[int] = mapped_column(Integer, default=0)
    helpful_no: Mapped[int] = mapped_column(Integer, default=0)
    # `kb import`: the file content last imported into this article (sha256 of its normalised
    # source) and the revision that import made, so an unchanged file adds nothing and a
    # changed one never overwrites a revision written after it (issue 9, point 1).
    imported_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    imported_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)

    owner: Mapped[Organisation] = relationship(lazy="joined")
    published_revision: Mapped[Revision | None] = relationship(
        foreign_keys=[published_revision_id], post_update=True
    )
    working_revision: Mapped[Revision | None] = relationship(
        foreign_keys=[working_revision_id], post_update=True
    )

    __table_args__ = (Index("ix_article_listing", "status", "type", "category"),)

    @property
    def review_revision(self) -> Revision | None:
        """The revision an editor or curator works on: the working one, else the published one."""
        return self.working_revision or self.published_revision


class Revision(Base):
    """An immutable snapshot of one save; only ``state`` and ``review_note`` change later."""

    __tablename__ = "revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"))
    number: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)  # front matter + Markdown, exactly as saved
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    author_name: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # draft | submitted | returned | published | superseded
    state: Mapped[str] = mapped_column(String(16), default="draft")
    review_note: Mapped[str] = mapped_column(Text, default="")
    resolves_request_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (UniqueConstraint("article_id", "number"),)


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50), index=True)
    object_type: Mapped[str] = mapped_column(String(30), default="")
    object_id: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IndexTask(Base):
    """Outbox: one row per article whose search document must be rewritten.

    Written in the same transaction as the change, drained after commit, so a crash between
    the two leaves a row behind that the next drain (at the latest, the next start) repairs.
    """

    __tablename__ = "index_task"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RateLimitCounter(Base):
    """One fixed-window rate-limit counter (kb.ratelimit): shared by every worker and node
    because it lives in the database they share."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds


class Setting(Base):
    """Small curator-editable data sets (synonyms, glossary) stored as text, keyed by name."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QueryLog(Base):
    """One search: the normalised query, how many results, which was clicked, and the role of
    the searcher — never the user, so the log holds no personal data."""

    __tablename__ = "query_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    query: Mapped[str] = mapped_column(String(200), index=True)
    results: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    clicked: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # set by the ranker when the best answer was weak (None: not judged, e.g. older rows)
    weak: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


# ---- feedback loop and ticket closure (issue 5) ----------------------------------------------


class Feedback(Base):
    """One reader's vote on one article: a signed-in user's (changeable) or a browser's."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True, index=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    revision_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("revision_request.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    article: Mapped[Article] = relationship(lazy="joined")
    request: Mapped[RevisionRequest | None] = relationship(foreign_keys=[request_id])

    __table_args__ = (
        UniqueConstraint("article_id", "user_id", name="uq_feedback_user"),
        UniqueConstraint("article_id", "visitor_id", name="uq_feedback_visitor"),
    )


class RevisionRequest(Base):
    """修订请求: feedback with a reason, waiting for the owning enterprise to revise or decline."""

    __tablename__ = "revision_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    feedback_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    # open | closed | declined
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str] = mapped_column(String(100), default="")
    reply: Mapped[str] = mapped_column(Text, default="")
    revision_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalation_note: Mapped[str] = mapped_column(Text, default="")

    article: Mapped[Article] = relationship(lazy="joined")
    owner: Mapped[Organisation] = relationship(lazy="joined")
    assignee: Mapped[User | None] = relationship(lazy="joined")


class PlatformAccount(Base):
    """Marks a user as a service platform's account, bound to one enterprise."""

    __tablename__ = "platform_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Ticket(Base):
    """A closed work order (服务工单) posted by a service platform; contact data stays here."""

    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    ticket_no: Mapped[str] = mapped_column(String(64))
    customer_org: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    channel: Mapped[str] = mapped_column(String(8))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)  # 工单创建时间 (JSON key created_at)
    handling: Mapped[str] = mapped_column(String(8))
    onsite_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    onsite_arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    onsite_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    product: Mapped[str] = mapped_column(String(200))
    symptom: Mapped[str] = mapped_column(Text, default="")
    solution: Mapped[str] = mapped_column(Text)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_reviewed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    satisfaction: Mapped[str | None] = mapped_column(String(8), nullable=True)
    follow_up: Mapped[str] = mapped_column(Text, default="")
    draft_article_id: Mapped[int | None] = mapped_column(ForeignKey("article.id"), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    enterprise: Mapped[Organisation] = relationship(lazy="joined")
    draft_article: Mapped[Article | None] = relationship(foreign_keys=[draft_article_id])

    __table_args__ = (UniqueConstraint("enterprise_id", "ticket_no", name="uq_ticket_no"),)


class TicketArticle(Base):
    """An article a ticket cites as having solved it."""

    __tablename__ = "ticket_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)

    __table_args__ = (UniqueConstraint("ticket_id", "article_id", name="uq_ticket_article"),)


class ArticleRead(Base):
    """Reads of an article's published face, counted per day and per reader kind (issue 11).

    One row per (article, China-time day, role, organisation kind); no user is recorded, so
    evaluation item 14 can count reads by procurement-unit users without personal data.
    """

    __tablename__ = "article_read"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    role: Mapped[str] = mapped_column(String(16))  # reader | editor | curator | admin | anonymous
    org_kind: Mapped[str] = mapped_column(String(16), default="")  # unit | enterprise | bureau | ""
    count: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("article_id", "day", "role", "org_kind", name="uq_article_read"),
    )


class RevisionComment(Base):
    """A curator's comment on one revision (the review desk), shown to the owning editors."""

    __tablename__ = "revision_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revision.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    author_name: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    revision: Mapped[Revision] = relationship(lazy="joined")
