"""Queue metric buckets (cti/metrics) in table queue_intervals.

Strategy: the metrics core hands over whole buckets (every counter's current
value), so a write is an idempotent upsert keyed by (queue, bucket start):
writing a bucket twice, or a newer version of it, leaves the latest values.
The statement is dialect-specific (`INSERT .. ON CONFLICT DO UPDATE`, on
SQLite and PostgreSQL alike) and built once per dialect.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cti.metrics.buckets import FIELDS, StoredBucket
from cti.store.tables import QueueIntervalRow

__all__ = ["load_queue_intervals", "save_queue_intervals"]

_TABLE = cast(Table, QueueIntervalRow.__table__)
_INTEGERS = frozenset(
    c.name for c in _TABLE.columns if c.name in FIELDS and c.type.python_type is int
)
_UPSERT: dict[str, Any] = {}  # dialect name -> statement


def _upsert(dialect: str) -> Any:
    stmt = _UPSERT.get(dialect)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        new = insert(_TABLE)  # the Table: a Core executemany, no ORM bookkeeping
        columns = [*FIELDS, "ring_no_answer_by_agent"]
        stmt = _UPSERT[dialect] = new.on_conflict_do_update(
            index_elements=["queue", "bucket_start"],
            set_={name: new.excluded[name] for name in columns},
        )
    return stmt


def _values(bucket: StoredBucket) -> dict[str, Any]:
    values: dict[str, Any] = {
        "queue": bucket.queue,
        "bucket_start": datetime.fromtimestamp(bucket.start, UTC),
        "ring_no_answer_by_agent": dict(bucket.ring_no_answer_by_agent),
    }
    for name in FIELDS:
        value = bucket.counts.get(name, 0.0)
        values[name] = round(value) if name in _INTEGERS else float(value)
    return values


async def save_queue_intervals(session: AsyncSession, buckets: Sequence[StoredBucket]) -> None:
    if not buckets:
        return
    dialect = session.get_bind().dialect.name
    conn = await session.connection()
    await conn.execute(_upsert(dialect), [_values(b) for b in buckets])


async def load_queue_intervals(session: AsyncSession, since: float) -> list[StoredBucket]:
    """Every queue's buckets starting at or after `since` (epoch seconds), oldest first."""
    rows = (
        await session.scalars(
            select(QueueIntervalRow)
            .where(QueueIntervalRow.bucket_start >= datetime.fromtimestamp(since, UTC))
            .order_by(QueueIntervalRow.bucket_start, QueueIntervalRow.queue)
        )
    ).all()
    return [
        StoredBucket(
            row.queue,
            row.bucket_start.timestamp(),
            {name: float(getattr(row, name)) for name in FIELDS},
            dict(row.ring_no_answer_by_agent or {}),
        )
        for row in rows
    ]
