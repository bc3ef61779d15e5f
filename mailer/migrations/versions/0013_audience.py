"""Saved reader segments a send may target, and each quiet reader's sunsetting stage

Revision ID: 0013_audience
Revises: 0012_reader_language
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_audience"
down_revision = "0012_reader_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("digests") as batch:
        batch.add_column(sa.Column("segment_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_digests_segment_id", "segments", ["segment_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "reader_sunsets",
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reader_sunsets")
    with op.batch_alter_table("digests") as batch:
        batch.drop_constraint("fk_digests_segment_id", type_="foreignkey")
        batch.drop_column("segment_id")
    op.drop_table("segments")
