"""queue_intervals: live queue metric counters, one row per queue and minute.

The CTI keeps its queue counters in one-minute buckets (cti/metrics) and
upserts the buckets it changed every few seconds; a restarted CTI reads the
buckets since the start of "today" (or the last hour) and its boards continue.
Columns match `cti.metrics.buckets.FIELDS`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "unanswered",
    "answered_within_sl",
    "abandoned_within_sl",
    "answered_timed",
    "handled",
    "acw_count",
    "ring_no_answer",
    "lost_by_resync",
)
_SECONDS = (
    "wait_answered_sum",
    "wait_abandoned_sum",
    "talk_sum",
    "acw_sum",
    "contact_seconds",
    "idle_seconds",
)


def upgrade() -> None:
    op.create_table(
        "queue_intervals",
        sa.Column("queue", sa.String(length=128), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        *(sa.Column(name, sa.Float(), nullable=False) for name in _SECONDS),
        sa.Column("ring_no_answer_by_agent", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("queue", "bucket_start", name="pk_queue_intervals"),
    )
    op.create_index("ix_queue_intervals_bucket_start", "queue_intervals", ["bucket_start"])


def downgrade() -> None:
    op.drop_index("ix_queue_intervals_bucket_start", table_name="queue_intervals")
    op.drop_table("queue_intervals")
