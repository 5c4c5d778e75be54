"""Initial schema: agents, customers, customer_phones, call_records.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("interface", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('agent', 'supervisor', 'admin')", name="ck_agents_role"),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("login", name="uq_agents_login"),
        sa.UniqueConstraint("interface", name="uq_agents_interface"),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("account", name="uq_customers_account"),
    )
    op.create_table(
        "customer_phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_phones_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customer_phones"),
    )
    op.create_index(
        "ix_customer_phones_customer_id", "customer_phones", ["customer_id"], unique=False
    )
    op.create_index("ix_customer_phones_number", "customer_phones", ["number"], unique=True)
    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("caller_number", sa.String(length=64), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=False),
        sa.Column("dialed_number", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=128), nullable=True),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("ivr", sa.JSON(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("ended_by_resync", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_call_records_customer_id_customers",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_call_records"),
        sa.UniqueConstraint("call_id", name="uq_call_records_call_id"),
    )
    op.create_index("ix_call_records_answered_by", "call_records", ["answered_by"], unique=False)
    op.create_index("ix_call_records_customer_id", "call_records", ["customer_id"], unique=False)
    op.create_index("ix_call_records_started_at", "call_records", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_call_records_started_at", table_name="call_records")
    op.drop_index("ix_call_records_customer_id", table_name="call_records")
    op.drop_index("ix_call_records_answered_by", table_name="call_records")
    op.drop_table("call_records")
    op.drop_index("ix_customer_phones_number", table_name="customer_phones")
    op.drop_index("ix_customer_phones_customer_id", table_name="customer_phones")
    op.drop_table("customer_phones")
    op.drop_table("customers")
    op.drop_table("agents")
