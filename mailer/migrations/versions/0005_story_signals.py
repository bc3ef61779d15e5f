"""Where a source places a piece (WordPress sticky, feed position), for the top-stories score

Revision ID: 0005_story_signals
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_story_signals"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(
            sa.Column("sticky", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("feed_position", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("feed_position")
        batch.drop_column("sticky")
