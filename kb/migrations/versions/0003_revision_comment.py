"""revision_comment: curators' comments on revisions (review desk)

Revision ID: 0003_revision_comment
Revises: 0002_article_import
Create Date: 2026-12-07 21:33:24.979584
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_revision_comment"
down_revision = "0002_article_import"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revision_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["article.id"],
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["revision.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("revision_comment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_revision_comment_article_id"), ["article_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_revision_comment_revision_id"), ["revision_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("revision_comment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revision_comment_revision_id"))
        batch_op.drop_index(batch_op.f("ix_revision_comment_article_id"))

    op.drop_table("revision_comment")
