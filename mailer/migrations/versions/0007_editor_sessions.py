"""A session generation per editor, so logout and a password change end every session

Revision ID: 0007_editor_sessions
Revises: 0006_analytics_fetches
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_editor_sessions"
down_revision = "0006_analytics_fetches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editors") as batch:
        batch.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("editors") as batch:
        batch.drop_column("session_generation")
