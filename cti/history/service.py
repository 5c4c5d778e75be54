"""The call history service: the asyncio shell between the web routes and the store.

Strategy: every request is checked here against the pure rules (cti.history
.core: scope, disposition codes and notes), then done by one store call. A
disposition may be set on a live call (checked against the live model, the
record does not exist yet) or on a recorded one; it is written to its own
table either way, so it is never lost to the order in which the call ends and
the agent saves. Store failures become `HistoryError("unavailable")`, so the
routes handle one error type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from cti.history.core import (
    MAX_PAGE,
    Disposition,
    HistoryEntry,
    HistoryFilter,
    Scope,
    Viewer,
    check_disposition,
    in_scope,
    scope_of,
)
from cti.history.daily import DailyStats, StateSpell, daily_stats
from cti.store.errors import StoreError

__all__ = ["HistoryError", "HistoryService", "HistoryStore", "LiveCall"]

_EXPORT_PAGE = 500


@dataclass(frozen=True, slots=True)
class HistoryError(Exception):
    """code: invalid (422), not_allowed (403), not_found (404), unavailable (503)."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    @property
    def http_status(self) -> int:
        return {"invalid": 422, "not_allowed": 403, "not_found": 404}.get(self.code, 503)


@dataclass(frozen=True, slots=True)
class LiveCall:
    """What the live model says of a call still up: its queue and who is involved."""

    queue: str | None
    involved: tuple[str, ...]


class _StateRow(Protocol):
    @property
    def state(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...


class _Agent(Protocol):
    @property
    def interface(self) -> str | None: ...


class HistoryStore(Protocol):
    async def search_history(self, f: HistoryFilter) -> list[HistoryEntry]: ...
    async def history_entry(self, call_id: str) -> HistoryEntry | None: ...
    async def set_call_disposition(self, d: Disposition) -> None: ...
    async def agent_by_login(self, login: str) -> _Agent | None: ...
    async def agent_state_rows(
        self, start: datetime, end: datetime, interface: str | None = None
    ) -> Sequence[_StateRow]: ...


def _now() -> datetime:
    return datetime.now(UTC)


class HistoryService:
    def __init__(
        self,
        store: HistoryStore,
        codes: Sequence[str],
        *,
        live_call: Callable[[str], LiveCall | None] = lambda _call_id: None,
        member_queues: Callable[[str], Sequence[str]] = lambda _interface: (),
        clock: Callable[[], datetime] = _now,
    ) -> None:
        """`live_call`: a call still up, from the live model; `member_queues`: the
        queues an agent's interface is a member of (a supervisor's reach)."""
        self._store = store
        self.codes = tuple(codes)
        self._live_call = live_call
        self._member_queues = member_queues
        self._clock = clock

    async def search(self, viewer: Viewer, f: HistoryFilter) -> list[HistoryEntry]:
        if not 0 <= f.limit <= MAX_PAGE:
            raise HistoryError("invalid", f"limit must be 0..{MAX_PAGE}", ("limit",))
        if f.offset < 0:
            raise HistoryError("invalid", "offset must not be negative", ("offset",))
        try:
            return await self._store.search_history(replace(f, scope=scope_of(viewer)))
        except StoreError as exc:
            raise HistoryError("unavailable", f"the store is unavailable: {exc}") from exc

    async def export(self, viewer: Viewer, f: HistoryFilter) -> AsyncIterator[HistoryEntry]:
        """Every matching entry, read page by page (for the CSV stream)."""
        offset = 0
        while True:
            page = await self.search(
                viewer, replace(f, limit=_EXPORT_PAGE, offset=f.offset + offset)
            )
            for entry in page:
                yield entry
            if len(page) < _EXPORT_PAGE:
                return
            offset += _EXPORT_PAGE

    async def agent_interface(self, agent: str) -> str:
        """The `agent` filter: an interface as given, or a login's interface."""
        if "/" in agent:
            return agent
        try:
            found = await self._store.agent_by_login(agent)
        except StoreError as exc:
            raise HistoryError("unavailable", f"the store is unavailable: {exc}") from exc
        if found is None or found.interface is None:
            raise HistoryError("invalid", f"no agent {agent!r} with a phone", ("agent",))
        return found.interface

    async def entry(self, viewer: Viewer, call_id: str) -> HistoryEntry:
        try:
            found = await self._store.history_entry(call_id)
        except StoreError as exc:
            raise HistoryError("unavailable", f"the store is unavailable: {exc}") from exc
        if found is None:
            raise HistoryError("not_found", f"no call record {call_id!r}")
        if not in_scope(scope_of(viewer), found.queue, found.involved):
            raise HistoryError("not_allowed", "not a call of yours or of your queues")
        return found

    async def set_disposition(
        self, viewer: Viewer, call_id: str, code: str, notes: str
    ) -> Disposition:
        errors = check_disposition(code, notes, self.codes)
        if errors:
            raise HistoryError("invalid", "; ".join(errors.values()), tuple(errors))
        live = self._live_call(call_id)
        try:
            if live is not None:
                queue, involved = live.queue, live.involved
            else:
                found = await self._store.history_entry(call_id)
                if found is None:
                    raise HistoryError("not_found", f"no call {call_id!r}, live or recorded")
                queue, involved = found.queue, found.involved
            if not in_scope(scope_of(viewer), queue, involved):
                raise HistoryError("not_allowed", "not a call of yours or of your queues")
            disposition = Disposition(call_id, code, notes, viewer.login, self._clock())
            await self._store.set_call_disposition(disposition)
        except StoreError as exc:
            raise HistoryError("unavailable", f"the store is unavailable: {exc}") from exc
        return disposition

    async def daily(self, viewer: Viewer, login: str, day: date) -> DailyStats:
        """One agent's stats for the UTC day `day`."""
        try:
            agent = await self._store.agent_by_login(login)
        except StoreError as exc:
            raise HistoryError("unavailable", f"the store is unavailable: {exc}") from exc
        if agent is None or agent.interface is None:
            raise HistoryError("not_found", f"no agent {login!r} with a phone")
        interface = agent.interface
        if not self._may_see_agent(viewer, login, interface):
            raise HistoryError("not_allowed", "not you, nor an agent of your queues")
        start = datetime.combine(day, time(0), UTC)
        end = start + timedelta(days=1)
        everything = HistoryFilter(scope=Scope(everything=True))
        calls: list[HistoryEntry] = []
        try:
            while True:  # page through the day: an agent's day is bounded, but be safe
                page = await self._store.search_history(
                    replace(
                        everything,
                        agent=interface,
                        start=start,
                        end=end,
                        limit=_EXPORT_PAGE,
                        offset=len(calls),
                    )
                )
                calls += page
                if len(page) < _EXPORT_PAGE:
                    break
            rows = await self._store.agent_state_rows(start, end, interface)
        except StoreError as exc:
            raise HistoryError("unavailable", f"the store is unavailable: {exc}") from exc
        spells = [StateSpell(r.state, r.reason, r.started_at, r.ended_at) for r in rows]
        return daily_stats(interface, start, end, calls, spells, self._clock())

    def _may_see_agent(self, viewer: Viewer, login: str, interface: str) -> bool:
        """Like cti.web.scope: themselves; a supervisor their teams' agents and
        the members of their queues; an admin anyone."""
        if viewer.role == "admin" or viewer.login == login:
            return True
        if viewer.role == "supervisor":
            if interface in viewer.team_interfaces:
                return True
            return not set(self._member_queues(interface)).isdisjoint(viewer.queues)
        return False
