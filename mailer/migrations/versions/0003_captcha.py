"""captcha solutions already used (ALTCHA replay store)

Revision ID: 0003_captcha
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_captcha"
down_revision = "0002"  # 0002 landed on main first; the brief said 0001
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "captcha_solutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("solution_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("solution_hash"),
    )
    with op.batch_alter_table("captcha_solutions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_captcha_solutions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("captcha_solutions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_captcha_solutions_expires_at"))
    op.drop_table("captcha_solutions")
