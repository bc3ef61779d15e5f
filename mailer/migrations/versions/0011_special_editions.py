"""Special editions: a digest's kind (weekly or special) and its chosen send time

Revision ID: 0011_special_editions
Revises: 0010_newsletters
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_special_editions"
down_revision = "0010_newsletters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="weekly"))
        batch.add_column(sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("scheduled_for")
        batch.drop_column("kind")
