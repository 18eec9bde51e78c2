"""query_log.weak: searches whose best result was poor ("没有找到可靠的答案", issue 8)

Revision ID: 0004_query_log_weak
Revises: 0003_revision_comment
Create Date: 2026-12-07 22:01:37.502927
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_query_log_weak"
down_revision = "0003_revision_comment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("query_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weak", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("query_log", schema=None) as batch_op:
        batch_op.drop_column("weak")
