"""Call record repository: idempotent writes of finished calls, recent reads.

Strategy: the call id (Linkedid) is unique, and a write is an upsert on it,
because the same call can be reported ended twice (the model re-ends it after
a resync). A real hang-up replaces a record that a resync had to guess
(`ended_by_resync`); otherwise the first record stands and the second write is
a no-op. The statement is dialect-specific (`INSERT .. ON CONFLICT`), which
SQLite and PostgreSQL both support with the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cti.ids import CallId, Interface, QueueName
from cti.model.outputs import CallEnded, ivr_from_json, ivr_path_json
from cti.store.history import history_values
from cti.store.records import CallRecord
from cti.store.tables import CallRecordRow

__all__ = ["recent_call_records", "row_values", "upsert_call_record", "upsert_call_records"]


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def row_values(ended: CallEnded, customer_id: int | None) -> dict[str, Any]:
    """The column values for one finished call."""
    return {
        "call_id": ended.call_id,
        "caller_number": ended.caller_number,
        "caller_name": ended.caller_name,
        "dialed_number": ended.dialed_number,
        "queue": ended.queue,
        "answered_by": ended.answered_by,
        "outcome": ended.outcome,
        "ivr": {
            "path": ivr_path_json(ended.ivr_path),
            "variables": dict(ended.variables),
        },
        "account": ended.account,
        "customer_id": customer_id,
        "started_at": _utc(ended.started_at),
        "answered_at": _utc(ended.answered_at) if ended.answered_at is not None else None,
        "ended_at": _utc(ended.ended_at),
        "wait_seconds": ended.wait_seconds,
        "talk_seconds": ended.talk_seconds,
        "ended_by_resync": ended.ended_by_resync,
        **history_values(ended),
    }


async def upsert_call_record(
    session: AsyncSession, ended: CallEnded, customer_id: int | None
) -> bool:
    """Insert, or replace a resync-guessed record; True if a row was written."""
    values = row_values(ended, customer_id)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new = insert(CallRecordRow).values(values)
    updates: dict[str, Any] = {k: new.excluded[k] for k in values if k != "call_id"}
    updates["customer_id"] = func.coalesce(new.excluded.customer_id, CallRecordRow.customer_id)
    stmt = new.on_conflict_do_update(
        index_elements=[CallRecordRow.call_id],
        set_=updates,
        where=CallRecordRow.ended_by_resync & ~new.excluded.ended_by_resync,
    )
    result = await session.execute(stmt.returning(CallRecordRow.id))
    return result.first() is not None


_MANY: dict[str, Any] = {}  # dialect name -> the upsert statement, built once


def _upsert_many(dialect: str) -> Any:
    stmt = _MANY.get(dialect)
    if stmt is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # the Table, not the ORM class: a Core executemany, without the ORM's
        # bulk-insert bookkeeping (a batch is written every few hundred ms)
        table = cast(Table, CallRecordRow.__table__)
        new = insert(table)
        columns = [c.name for c in table.columns if c.name not in ("id", "call_id")]
        updates: dict[str, Any] = {name: new.excluded[name] for name in columns}
        updates["customer_id"] = func.coalesce(new.excluded.customer_id, table.c.customer_id)
        stmt = _MANY[dialect] = new.on_conflict_do_update(
            index_elements=[table.c.call_id],
            set_=updates,
            where=table.c.ended_by_resync & ~new.excluded.ended_by_resync,
        )
    return stmt


async def upsert_call_records(
    session: AsyncSession, records: Sequence[tuple[CallEnded, int | None]]
) -> None:
    """Like `upsert_call_record` for many calls, in one statement.

    One call id may appear once per statement (PostgreSQL refuses to update a
    row twice), so within a batch the same rule picks one: a real hang-up
    over a resync guess, else the first.
    """
    chosen: dict[str, tuple[CallEnded, int | None]] = {}
    for ended, customer_id in records:
        kept = chosen.get(ended.call_id)
        if kept is None or (kept[0].ended_by_resync and not ended.ended_by_resync):
            chosen[ended.call_id] = (ended, customer_id)
    if not chosen:
        return
    dialect = session.get_bind().dialect.name
    rows = [row_values(ended, customer_id) for ended, customer_id in chosen.values()]
    conn = await session.connection()
    await conn.execute(_upsert_many(dialect), rows)


def _to_record(row: CallRecordRow) -> CallRecord:
    path, variables = ivr_from_json(row.ivr)
    return CallRecord(
        call_id=CallId(row.call_id),
        caller_number=row.caller_number,
        caller_name=row.caller_name,
        dialed_number=row.dialed_number,
        queue=QueueName(row.queue) if row.queue is not None else None,
        answered_by=Interface(row.answered_by) if row.answered_by is not None else None,
        outcome=row.outcome,
        ivr_path=path,
        variables=variables,
        account=row.account,
        customer_id=row.customer_id,
        started_at=row.started_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        wait_seconds=row.wait_seconds,
        talk_seconds=row.talk_seconds,
        ended_by_resync=row.ended_by_resync,
    )


async def recent_call_records(session: AsyncSession, limit: int) -> list[CallRecord]:
    """The `limit` most recently ended calls, newest first."""
    rows = await session.scalars(
        select(CallRecordRow)
        .order_by(CallRecordRow.ended_at.desc(), CallRecordRow.id.desc())
        .limit(limit)
    )
    return [_to_record(row) for row in rows]
