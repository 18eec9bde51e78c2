"""article: remember the last kb import (content hash and revision), see kb/importer.py

Revision ID: 0002_article_import
Revises: 0001_baseline
Create Date: 2026-12-07 21:00:51.821619
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_article_import"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.add_column(sa.Column("imported_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("imported_revision", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("article", schema=None) as batch_op:
        batch_op.drop_column("imported_revision")
        batch_op.drop_column("imported_hash")
