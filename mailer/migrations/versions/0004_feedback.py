"""Link provider events to the delivery they are about, so each digest shows its feedback

Revision ID: 0004
Revises: 0003_captcha
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003_captcha"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.add_column(sa.Column("delivery_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_webhook_events_delivery_id",
            "deliveries",
            ["delivery_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_webhook_events_delivery_id", ["delivery_id"])
    with op.batch_alter_table("deliveries") as batch:
        batch.create_index("ix_deliveries_subscriber_id", ["subscriber_id"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_subscriber_id")
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_index("ix_webhook_events_delivery_id")
        batch.drop_constraint("fk_webhook_events_delivery_id", type_="foreignkey")
        batch.drop_column("delivery_id")
