"""Call history repository: search the call records, join their dispositions.

Strategy: the history columns of call_records (migration 0005) are written by
the same upsert as the rest of the record (`history_values`, called from
calls.row_values). Dispositions live in their own table keyed by call id, so
one set during the call (before its record exists) is kept, and is joined
(outer join) whenever history is read. A search is one SELECT whose WHERE
holds the user's scope (cti.history.core.Scope) and the filters; "involved"
is matched with LIKE '%|PJSIP/1001|%' (autoescaped), the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cti.history.core import Disposition, HistoryEntry, HistoryFilter, Scope
from cti.ids import ChannelId, Interface, QueueName
from cti.model.outputs import CallEnded, CallLeg, RingAttempt, Transfer, ivr_from_json
from cti.store.tables import CallDispositionRow, CallRecordRow

__all__ = [
    "disposition",
    "history_entry",
    "history_values",
    "involved_of",
    "search_history",
    "set_disposition",
]


def involved_of(ended: CallEnded) -> tuple[str, ...]:
    """Every interface that took part in the call or was rung for it, in order."""
    found: dict[str, None] = {}
    for interface in (*ended.parties, *ended.recipients, ended.answered_by):
        if interface:
            found[interface] = None
    for ring in ended.ring_attempts:
        found[ring.interface] = None
    for leg in ended.legs:
        if leg.interface:
            found[leg.interface] = None
    return tuple(found)


INVOLVED_MAX = 2000  # the column's size


def _involved_text(involved: tuple[str, ...]) -> str:
    """ "|a|b|", cut to the column's size at an interface boundary (a ring-all
    queue of hundreds of agents keeps its first ones rather than fail the batch)."""
    text = "|"
    for interface in involved:
        if len(text) + len(interface) + 1 > INVOLVED_MAX:
            break
        text += interface + "|"
    return text if text != "|" else ""


def history_values(ended: CallEnded) -> dict[str, Any]:
    """The history columns of one call record."""
    return {
        "involved": _involved_text(involved_of(ended)),
        "legs": [leg.to_json() for leg in ended.legs],
        "ring_attempts": [ring.to_json() for ring in ended.ring_attempts],
        "transfers": [t.to_json() for t in ended.transfers],
    }


def _opt_float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _legs(data: list[Any] | None) -> tuple[CallLeg, ...]:
    return tuple(
        CallLeg(
            channel=ChannelId(str(d["channel"])),
            name=str(d["name"]),
            role=str(d["role"]),
            interface=Interface(d["interface"]) if d.get("interface") else None,
            party_number=str(d.get("party_number", "")),
            party_name=str(d.get("party_name", "")),
            started_at=float(d["started_at"]),
            answered_at=_opt_float(d.get("answered_at")),
            ended_at=_opt_float(d.get("ended_at")),
        )
        for d in data or ()
    )


def _rings(data: list[Any] | None) -> tuple[RingAttempt, ...]:
    return tuple(
        RingAttempt(
            interface=Interface(str(d["interface"])),
            channel=ChannelId(str(d["channel"])),
            queue=QueueName(d["queue"]) if d.get("queue") else None,
            rang_at=float(d["rang_at"]),
            ended_at=float(d["ended_at"]),
            result=str(d["result"]),
        )
        for d in data or ()
    )


def _transfers(data: list[Any] | None) -> tuple[Transfer, ...]:
    return tuple(
        Transfer(
            kind=str(d["kind"]),
            at=float(d["at"]),
            from_interface=Interface(d["from_interface"]) if d.get("from_interface") else None,
            to_interface=Interface(d["to_interface"]) if d.get("to_interface") else None,
            to_extension=d.get("to_extension") or None,
        )
        for d in data or ()
    )


def _disposition(row: CallDispositionRow | None) -> Disposition | None:
    if row is None:
        return None
    return Disposition(row.call_id, row.code, row.notes, row.set_by, row.set_at)


def _entry(row: CallRecordRow, disp: CallDispositionRow | None) -> HistoryEntry:
    path, variables = ivr_from_json(row.ivr)
    return HistoryEntry(
        call_id=row.call_id,
        caller_number=row.caller_number,
        caller_name=row.caller_name,
        dialed_number=row.dialed_number,
        queue=row.queue,
        agent=row.answered_by,
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
        involved=tuple(i for i in (row.involved or "").split("|") if i),
        legs=_legs(row.legs),
        ring_attempts=_rings(row.ring_attempts),
        transfers=_transfers(row.transfers),
        disposition=_disposition(disp),
    )


def _involves(interface: str) -> ColumnElement[bool]:
    return CallRecordRow.involved.contains(f"|{interface}|", autoescape=True)


def _scope(scope: Scope) -> ColumnElement[bool] | None:
    if scope.everything:
        return None
    allowed: list[ColumnElement[bool]] = []
    if scope.queues:
        allowed.append(CallRecordRow.queue.in_(scope.queues))
    allowed.extend(_involves(interface) for interface in scope.interfaces)
    return or_(*allowed) if allowed else false()


def _with_disposition() -> Any:
    return select(CallRecordRow, CallDispositionRow).outerjoin(
        CallDispositionRow, CallDispositionRow.call_id == CallRecordRow.call_id
    )


async def search_history(session: AsyncSession, f: HistoryFilter) -> list[HistoryEntry]:
    """The calls `f` selects, newest start first (then by id, for stable pages)."""
    query = _with_disposition()
    scope = _scope(f.scope)
    if scope is not None:
        query = query.where(scope)
    if f.number:
        query = query.where(
            or_(
                CallRecordRow.caller_number.contains(f.number, autoescape=True),
                CallRecordRow.dialed_number.contains(f.number, autoescape=True),
            )
        )
    if f.agent:
        query = query.where(_involves(f.agent))
    if f.queue:
        query = query.where(CallRecordRow.queue == f.queue)
    if f.outcome:
        query = query.where(CallRecordRow.outcome == f.outcome)
    if f.start is not None:
        query = query.where(CallRecordRow.started_at >= f.start)
    if f.end is not None:
        query = query.where(CallRecordRow.started_at < f.end)
    query = (
        query.order_by(CallRecordRow.started_at.desc(), CallRecordRow.id.desc())
        .limit(f.limit)
        .offset(f.offset)
    )
    result = await session.execute(query)
    return [_entry(row, disp) for row, disp in result.all()]


async def history_entry(session: AsyncSession, call_id: str) -> HistoryEntry | None:
    result = await session.execute(_with_disposition().where(CallRecordRow.call_id == call_id))
    found = result.first()
    return _entry(found[0], found[1]) if found is not None else None


async def disposition(session: AsyncSession, call_id: str) -> Disposition | None:
    return _disposition(await session.get(CallDispositionRow, call_id))


async def set_disposition(session: AsyncSession, d: Disposition) -> None:
    """Insert or replace the call's disposition (the last one set wins)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "call_id": d.call_id,
        "code": d.code,
        "notes": d.notes,
        "set_by": d.set_by,
        "set_at": d.set_at.astimezone(UTC),
    }
    new = insert(CallDispositionRow).values(values)
    await session.execute(
        new.on_conflict_do_update(
            index_elements=[CallDispositionRow.call_id],
            set_={k: new.excluded[k] for k in values if k != "call_id"},
        )
    )
