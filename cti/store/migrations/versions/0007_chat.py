"""chat: conversations, their members (read/delivered marks), numbered messages.

`conversations.last_seq` is the per-conversation counter: a message takes its
seq from it, with the row locked, in the transaction that inserts it, so
concurrent senders queue on that row and seqs have no gaps and no repeats.
`(conversation_id, seq)` is unique besides. A direct conversation or a team
room has one `unique_key` ("alice bob": the two logins sorted; "team:<name>"),
unique, so opening it twice at once cannot make two. A message's optional
`client_id` (the sender's id for it) is unique per sender and conversation,
so a retried send finds the message instead of storing it twice.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("unique_key", sa.String(length=140), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('direct', 'room', 'customer')", name="ck_conversations_kind"),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.UniqueConstraint("unique_key", name="uq_conversations_unique_key"),
    )
    op.create_table(
        "conversation_members",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("last_read_seq", sa.Integer(), nullable=False),
        sa.Column("last_delivered_seq", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_conversation_members_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "login", name="pk_conversation_members"),
    )
    op.create_index("ix_conversation_members_login", "conversation_members", ["login"])
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_chat_messages_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_chat_messages"),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_id_seq"),
        sa.UniqueConstraint(
            "conversation_id", "sender", "client_id", name="uq_chat_messages_client_id"
        ),
    )


def downgrade() -> None:
    op.drop_table("chat_messages")
    op.drop_index("ix_conversation_members_login", table_name="conversation_members")
    op.drop_table("conversation_members")
    op.drop_table("conversations")
