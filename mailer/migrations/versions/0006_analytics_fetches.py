"""Page views from the analytics: each week's last fetch, and engaged time per article

Revision ID: 0006_analytics_fetches
Revises: 0005_story_signals
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_analytics_fetches"
down_revision = "0005_story_signals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_fetches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_key", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("articles_updated", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_key"),
    )
    with op.batch_alter_table("article_stats") as batch:
        batch.add_column(sa.Column("engaged_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("article_stats") as batch:
        batch.drop_column("engaged_seconds")
    op.drop_table("analytics_fetches")
