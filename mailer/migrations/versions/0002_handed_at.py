"""Record when a message was handed to the transport, so a restart can tell claimed from maybe-sent

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("deliveries", "outbox"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("handed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in ("deliveries", "outbox"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("handed_at")
