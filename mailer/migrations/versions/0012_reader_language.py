"""The reader's language (pages and mail); empty for readers who joined before: the default

Revision ID: 0012_reader_language
Revises: 0009_clicks
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_reader_language"
down_revision = "0009_clicks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("language")
