"""The reader's language (pages and mail); empty for readers who joined before: the default

Revision ID: 0012_reader_language
Revises: 0011_special_editions
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_reader_language"
down_revision = "0011_special_editions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscribers", sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("language")
