"""call_history: legs, ring attempts and transfers on call_records; call_dispositions.

`involved` lists every interface that took part in a call or was rung for it
("|PJSIP/1001|PJSIP/1002|"), so an agent's history is one LIKE on one column on
both backends (older records get their answering agent). Dispositions have
their own table keyed by call id: an agent sets one during the call or its
wrap-up, before the call record exists.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch:
        batch.add_column(
            sa.Column("involved", sa.String(length=2000), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("legs", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("ring_attempts", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("transfers", sa.JSON(), nullable=True))
    # records written before this revision: the agent who answered is involved
    op.execute(
        "UPDATE call_records SET involved = '|' || answered_by || '|' WHERE answered_by IS NOT NULL"
    )
    op.create_table(
        "call_dispositions",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_call_dispositions"),
    )


def downgrade() -> None:
    op.drop_table("call_dispositions")
    with op.batch_alter_table("call_records") as batch:
        batch.drop_column("transfers")
        batch.drop_column("ring_attempts")
        batch.drop_column("legs")
        batch.drop_column("involved")
