"""Click counts per digest link and day (machines apart), and per reader when chosen

Revision ID: 0009_clicks
Revises: 0008_related_judgments
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_clicks"
down_revision = "0008_related_judgments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "click_counts",
        sa.Column(
            "digest_id",
            sa.Integer(),
            sa.ForeignKey("digests.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("item_id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("via", sa.String(16), primary_key=True),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("machine_head", sa.Integer(), nullable=False),
        sa.Column("machine_agent", sa.Integer(), nullable=False),
        sa.Column("machine_early", sa.Integer(), nullable=False),
        sa.Column("machine_burst", sa.Integer(), nullable=False),
    )
    op.create_table(
        "reader_clicks",
        sa.Column(
            "digest_id",
            sa.Integer(),
            sa.ForeignKey("digests.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("item_id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reader_clicks_subscriber_id", "reader_clicks", ["subscriber_id"])


def downgrade() -> None:
    op.drop_index("ix_reader_clicks_subscriber_id", table_name="reader_clicks")
    op.drop_table("reader_clicks")
    op.drop_table("click_counts")
