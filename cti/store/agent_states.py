"""Agent state repository: spells of agents in work states, written in batches.

Strategy: the engine hands over `AgentStateChanged` outputs that start a new
(state, reason); each closes the agent's open row (ended_at = the new state's
`since`) and opens a new one, in order, in one transaction per batch. A write
is idempotent: a change whose row is already the open one (same state,
reason and start) is skipped, so a retried batch adds nothing. Reading the
open rows at start-up tells the model since when each agent is in their
state; HISTORY's per-agent daily stats read the closed ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cti.model.outputs import AgentStateChanged
from cti.store.tables import AgentStateRow

__all__ = ["AgentStateRecord", "open_agent_states", "save_agent_states", "state_rows"]


@dataclass(frozen=True, slots=True)
class AgentStateRecord:
    interface: str
    state: str
    reason: str | None
    started_at: datetime
    ended_at: datetime | None

    @property
    def seconds(self) -> float | None:
        """Time in the state, None while still in it."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _record(row: AgentStateRow) -> AgentStateRecord:
    return AgentStateRecord(row.interface, row.state, row.reason, row.started_at, row.ended_at)


# Built once (compiled forms are cached): the writer runs every 0.25 s under
# load, and the ORM's per-statement work (cache keys, the bulk UPDATE's
# session synchronisation) cost more than the database did.
_rows = cast(Table, AgentStateRow.__table__)
_OPEN_ROWS = (
    select(_rows.c.interface, _rows.c.state, _rows.c.reason, _rows.c.started_at)
    .where(_rows.c.interface.in_(bindparam("interfaces", expanding=True)))
    .where(_rows.c.ended_at.is_(None))
    .order_by(_rows.c.started_at)
)
_CLOSE_OPEN_ROW = (
    update(_rows)
    .where(_rows.c.interface == bindparam("agent"))
    .where(_rows.c.ended_at.is_(None))
    .values(ended_at=bindparam("closed_at"))
)
_INSERT_ROW = insert(_rows)


async def save_agent_states(session: AsyncSession, changes: Sequence[AgentStateChanged]) -> None:
    """Per agent: close the open row at the first change, insert one row per change.

    A batch holds every change of a few hundred milliseconds, so an agent may
    appear several times: their rows are written closed (each ends where the
    next begins). The batch costs three statements whatever its size: one
    SELECT of the agents' open rows, one executemany UPDATE closing them and
    one executemany INSERT. A retried batch is recognised by its last change
    already being the agent's open row (the batch is one transaction).
    """
    by_agent: dict[str, list[AgentStateChanged]] = {}
    for change in changes:
        by_agent.setdefault(change.interface, []).append(change)
    if not by_agent:
        return
    conn = await session.connection()
    open_rows: dict[str, tuple[str, str | None, datetime]] = {}
    found = await conn.execute(_OPEN_ROWS, {"interfaces": list(by_agent)})
    for interface, state, reason, started_at in found:  # oldest first: the newest wins
        open_rows[interface] = (state, reason, started_at)
    closes: list[dict[str, object]] = []
    rows: list[dict[str, object]] = []
    for interface, spells in by_agent.items():
        last = spells[-1]
        if open_rows.get(interface) == (last.state, last.reason, _utc(last.since)):
            continue  # written already (a retried batch)
        starts = [_utc(c.since) for c in spells]
        closes.append({"agent": interface, "closed_at": starts[0]})
        for i, change in enumerate(spells):
            rows.append(
                {
                    "interface": interface,
                    "state": change.state,
                    "reason": change.reason,
                    "started_at": starts[i],
                    "ended_at": starts[i + 1] if i + 1 < len(spells) else None,
                }
            )
    if closes:
        await conn.execute(_CLOSE_OPEN_ROW, closes)
    if rows:
        await conn.execute(_INSERT_ROW, rows)


async def open_agent_states(session: AsyncSession) -> list[AgentStateRecord]:
    """The state each agent is in now, as far as the store knows (one row each)."""
    rows = (
        await session.scalars(
            select(AgentStateRow)
            .where(AgentStateRow.ended_at.is_(None))
            .order_by(AgentStateRow.interface, AgentStateRow.started_at)
        )
    ).all()
    latest: dict[str, AgentStateRecord] = {}
    for row in rows:  # oldest first: a newer open row (should not exist) wins
        latest[row.interface] = _record(row)
    return list(latest.values())


async def state_rows(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    interface: str | None = None,
) -> list[AgentStateRecord]:
    """Rows overlapping [start, end), oldest first (for time-in-state stats)."""
    query = (
        select(AgentStateRow)
        .where(AgentStateRow.started_at < end)
        .where((AgentStateRow.ended_at.is_(None)) | (AgentStateRow.ended_at > start))
        .order_by(AgentStateRow.started_at, AgentStateRow.id)
    )
    if interface is not None:
        query = query.where(AgentStateRow.interface == interface)
    return [_record(r) for r in (await session.scalars(query)).all()]
