"""rate limit counters shared by every worker and node (kb.ratelimit)

Revision ID: 0006_rate_limit_counter
Revises: 0005_signin_security
Create Date: 2026-12-07 20:57:47.591208
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_rate_limit_counter"
down_revision = "0005_signin_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("rate_limit_counter", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rate_limit_counter_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("rate_limit_counter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_counter_expires_at"))
    op.drop_table("rate_limit_counter")
