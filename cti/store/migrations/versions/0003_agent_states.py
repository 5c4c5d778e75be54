"""agent_state_changes: one row per agent work state (logged_out, available, ...).

A row is opened when an agent enters a state and closed (ended_at set) when the
agent leaves it, so time in state is `ended_at - started_at`, and the rows still
open at start-up tell a restarted CTI since when each agent is in their state.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "agent_state_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interface", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agent_state_changes"),
    )
    op.create_index(
        "ix_agent_state_changes_interface_started_at",
        "agent_state_changes",
        ["interface", "started_at"],
    )
    op.create_index("ix_agent_state_changes_started_at", "agent_state_changes", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_agent_state_changes_started_at", table_name="agent_state_changes")
    op.drop_index("ix_agent_state_changes_interface_started_at", table_name="agent_state_changes")
    op.drop_table("agent_state_changes")
