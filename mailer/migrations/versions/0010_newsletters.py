"""Several newsletters: the list readers choose, per-newsletter subscriptions and digests

The single list of older installs becomes the default newsletter (slug 'weekly', named from
MAILER_LIST_NAME), every stored reader is subscribed to it, and every digest belongs to it.

Revision ID: 0010_newsletters
Revises: 0009_clicks
Create Date: 2026-12-02
"""

import os
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010_newsletters"
down_revision = "0009_clicks"
branch_labels = None
depends_on = None

DEFAULT_SLUG = "weekly"
DEFAULT_NAME = "The Weekly Digest"  # MAILER_LIST_NAME's own default


def upgrade() -> None:
    op.create_table(
        "newsletters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("topics", sa.String(512), nullable=False),
        sa.Column("cadence", sa.String(8), nullable=False),
        sa.Column("send_day", sa.Integer(), nullable=True),
        sa.Column("send_hour", sa.Integer(), nullable=True),
        sa.Column("from_name", sa.String(128), nullable=True),
        sa.Column("from_address", sa.String(320), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "newsletter_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "newsletter_id",
            sa.Integer(),
            sa.ForeignKey("newsletters.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subscribed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("subscriber_id", "newsletter_id"),
    )
    op.create_index(
        "ix_newsletter_subscriptions_newsletter",
        "newsletter_subscriptions",
        ["newsletter_id", "status", "subscriber_id"],  # covers a send's choice of readers
    )
    default_id = _default_newsletter()
    _subscribe_everyone(default_id)
    with op.batch_alter_table("digests") as batch:
        batch.add_column(sa.Column("newsletter_id", sa.Integer(), nullable=True))
    op.execute(sa.text("UPDATE digests SET newsletter_id = :nid").bindparams(nid=default_id))
    # SQLite rebuilds the table here: mailer.core.db.upgrade turns foreign keys off meanwhile,
    # or dropping the old table would cascade into every digest's items and deliveries.
    naming = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
    with op.batch_alter_table("digests", naming_convention=naming) as batch:
        batch.alter_column("newsletter_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_constraint(_period_unique_name(), type_="unique")
        batch.create_unique_constraint(
            "uq_digests_newsletter_period", ["newsletter_id", "period_key"]
        )
        batch.create_foreign_key(
            "fk_digests_newsletter_id", "newsletters", ["newsletter_id"], ["id"]
        )


def _period_unique_name() -> str:
    """PostgreSQL named the old constraint itself; SQLite's has the batch naming convention's."""
    if op.get_bind().dialect.name == "postgresql":
        return "digests_period_key_key"
    return "uq_digests_period_key"


def _default_newsletter() -> int:
    """The one list an older install had, named as its settings named it."""
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as the models store times on SQLite
    table = sa.table(
        "newsletters",
        *(
            sa.column(name)
            for name in (
                "slug",
                "name",
                "description",
                "topics",
                "cadence",
                "is_default",
                "created_at",
                "updated_at",
            )
        ),
    )
    name = os.environ.get("MAILER_LIST_NAME", "").strip() or DEFAULT_NAME
    row = {
        "slug": DEFAULT_SLUG,
        "name": name[:128],
        "description": "",
        "topics": "",
        "cadence": "weekly",
        "is_default": True,
        "created_at": now,
        "updated_at": now,
    }
    op.bulk_insert(table, [row])
    found = op.get_bind().execute(
        sa.text("SELECT id FROM newsletters WHERE slug = :s"), {"s": DEFAULT_SLUG}
    )
    return found.scalar_one()


def _subscribe_everyone(newsletter_id: int) -> None:
    """Every stored reader keeps getting what they got: active unless they had left."""
    op.execute(
        sa.text(
            "INSERT INTO newsletter_subscriptions "
            "(subscriber_id, newsletter_id, status, subscribed_at, unsubscribed_at) "
            "SELECT id, :nid, "
            "CASE WHEN status IN ('unsubscribed', 'erased') THEN 'unsubscribed' ELSE 'active' END, "
            "COALESCE(confirmed_at, created_at), "
            "CASE WHEN status IN ('unsubscribed', 'erased') "
            "THEN COALESCE(unsubscribed_at, updated_at) END "
            "FROM subscribers"
        ).bindparams(nid=newsletter_id)
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM digests WHERE newsletter_id <> "
            "(SELECT id FROM newsletters WHERE is_default = :yes)"
        ).bindparams(yes=True)
    )
    with op.batch_alter_table("digests") as batch:
        batch.drop_constraint("uq_digests_newsletter_period", type_="unique")
        batch.drop_constraint("fk_digests_newsletter_id", type_="foreignkey")
        batch.drop_column("newsletter_id")
        batch.create_unique_constraint("uq_digests_period_key", ["period_key"])
    op.drop_index("ix_newsletter_subscriptions_newsletter", table_name="newsletter_subscriptions")
    op.drop_table("newsletter_subscriptions")
    op.drop_table("newsletters")
