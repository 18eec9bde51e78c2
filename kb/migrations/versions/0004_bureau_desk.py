"""bureau desk (issue 11): article review confirmation and replacement, weak searches, read counter

Revision ID: 0004_bureau_desk
Revises: 0003_revision_comment
Create Date: 2026-12-07 22:00:47.482635
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_bureau_desk"
down_revision = "0003_revision_comment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_read",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("org_kind", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("article_id", "day", "role", "org_kind", name="uq_article_read"),
    )
    with op.batch_alter_table("article_read", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_read_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_article_read_day"), ["day"], unique=False)

    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("replaced_by", sa.String(length=80), nullable=True))

    with op.batch_alter_table("query_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weak", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("query_log", schema=None) as batch_op:
        batch_op.drop_column("weak")

    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_column("replaced_by")
        batch_op.drop_column("reviewed_at")

    with op.batch_alter_table("article_read", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_read_day"))
        batch_op.drop_index(batch_op.f("ix_article_read_article_id"))

    op.drop_table("article_read")
