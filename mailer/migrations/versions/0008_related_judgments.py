"""Editors' choices of related coverage (added: related, removed: not), to measure it by

Revision ID: 0008_related_judgments
Revises: 0007_editor_sessions
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_related_judgments"
down_revision = "0007_editor_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "related_judgments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("related_id", sa.Integer(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("judged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["related_id"], ["articles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["story_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("story_id", "related_id"),
    )


def downgrade() -> None:
    op.drop_table("related_judgments")
