"""webchats: the state of each customer web chat, so a restart forgets nothing.

One row per customer conversation (`conversation_id`, the key and a foreign
key to `conversations`): its queue, the customer, the agent who has it (None
while it waits), the agents it must not go back to (`exclude`, a JSON list:
who transferred it away), since when it waits, when it was assigned, ended
and its disposition. `version` grows with each change, and a change is
written only over the version it was based on, so two writers (two nodes)
cannot both assign one waiting chat. Open chats (`ended` false) are read back
at start-up in `created_at, conversation_id` order: the waiting line's order.
Ended chats stay: they are the web chat history (listed by `ended_at`).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "webchats",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=False),
        sa.Column("customer", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("agent_name", sa.String(length=128), nullable=True),
        sa.Column("agent_interface", sa.String(length=128), nullable=True),
        sa.Column("exclude", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposition", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_webchats_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_webchats"),
    )
    op.create_index("ix_webchats_ended", "webchats", ["ended"])
    op.create_index("ix_webchats_ended_at", "webchats", ["ended_at"])


def downgrade() -> None:
    op.drop_index("ix_webchats_ended_at", table_name="webchats")
    op.drop_index("ix_webchats_ended", table_name="webchats")
    op.drop_table("webchats")
