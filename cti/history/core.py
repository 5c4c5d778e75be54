"""Call history, the pure part: what a history entry is, who may see it, and
what a valid disposition is.

Strategy: a `HistoryEntry` is a finished call as the store keeps it (the
model's `CallEnded` plus the disposition joined from its own table). Who sees
what is one rule, `Scope`, applied by the store as a WHERE clause and by
`in_scope` to a single call (live or recorded): admins everything; a
supervisor the calls of their queues and calls they were involved in; an agent
only calls they were involved in (took part in, or were rung for). The scope
comes from the signed-in user (`Viewer`), never from the query string. A
supervisor's teams (TEAMS: the devices of their teams' agents) widen it the
way cti.web.scope does for live calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from cti.model.outputs import CallLeg, IvrStep, RingAttempt, Transfer, ivr_path_json

__all__ = [
    "MAX_NOTES_CHARS",
    "MAX_PAGE",
    "Disposition",
    "FinishedCall",
    "HistoryEntry",
    "HistoryFilter",
    "Scope",
    "Viewer",
    "check_disposition",
    "finished_call_json",
    "in_scope",
    "scope_of",
]

MAX_NOTES_CHARS = 2000
MAX_PAGE = 1000  # rows per /api/history page (the CSV export streams them all)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks: the web layer's user, as much of it as history needs."""

    login: str
    role: str  # agent, supervisor, admin
    interface: str | None
    queues: tuple[str, ...] = ()  # a supervisor's queues
    team_interfaces: tuple[str, ...] = ()  # a supervisor's teams' agents' devices


@dataclass(frozen=True, slots=True)
class Scope:
    """The calls a user may see: everything, or those involving one of
    `interfaces` or queued to one of `queues`."""

    everything: bool = False
    interfaces: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()


def scope_of(viewer: Viewer) -> Scope:
    if viewer.role == "admin":
        return Scope(everything=True)
    own = (viewer.interface,) if viewer.interface else ()
    if viewer.role != "supervisor":
        return Scope(interfaces=own)
    teams = tuple(sorted(set(viewer.team_interfaces) - set(own)))
    return Scope(interfaces=own + teams, queues=tuple(sorted(viewer.queues)))


def in_scope(scope: Scope, queue: str | None, involved: Iterable[str]) -> bool:
    if scope.everything:
        return True
    if queue is not None and queue in scope.queues:
        return True
    return not set(scope.interfaces).isdisjoint(involved)


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """A history search. `number` matches the caller or dialed number (part of
    it); `agent` is an interface involved in the call; [start, end) bounds the
    call's start."""

    scope: Scope
    number: str | None = None
    agent: str | None = None
    queue: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    outcome: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Disposition:
    call_id: str
    code: str
    notes: str
    set_by: str  # login
    set_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "notes": self.notes,
            "set_by": self.set_by,
            "set_at": self.set_at.isoformat(),
        }


def check_disposition(code: str, notes: str, codes: Sequence[str]) -> dict[str, str]:
    """Field -> what is wrong ({} when valid)."""
    errors: dict[str, str] = {}
    if code not in codes:
        errors["code"] = f"unknown disposition {code!r}; one of: {', '.join(codes)}"
    if len(notes) > MAX_NOTES_CHARS:
        errors["notes"] = f"notes longer than {MAX_NOTES_CHARS} characters ({len(notes)})"
    return errors


class FinishedCall(Protocol):
    """What a history entry and a call record (cti.store.records) share: the
    columns of one call_records row, read-only."""

    @property
    def call_id(self) -> str: ...
    @property
    def caller_number(self) -> str: ...
    @property
    def caller_name(self) -> str: ...
    @property
    def dialed_number(self) -> str: ...
    @property
    def queue(self) -> str | None: ...
    @property
    def outcome(self) -> str: ...
    @property
    def ivr_path(self) -> tuple[IvrStep, ...]: ...
    @property
    def variables(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def account(self) -> str | None: ...
    @property
    def customer_id(self) -> int | None: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime: ...
    @property
    def wait_seconds(self) -> float | None: ...
    @property
    def talk_seconds(self) -> float | None: ...


def finished_call_json(
    call: FinishedCall, answered_key: str, answered_by: str | None
) -> dict[str, Any]:
    """The JSON of the shared columns. The answering interface goes in under
    `answered_key` ("agent" in history, "answered_by" in call records), in
    the same place in both, so the two wire forms keep their key order."""
    return {
        "call_id": call.call_id,
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "dialed_number": call.dialed_number,
        "queue": call.queue,
        answered_key: answered_by,
        "outcome": call.outcome,
        "ivr_path": ivr_path_json(call.ivr_path),
        "variables": dict(call.variables),
        "account": call.account,
        "customer_id": call.customer_id,
        "started_at": call.started_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended_at": call.ended_at.isoformat(),
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
    }


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    call_id: str
    caller_number: str
    caller_name: str
    dialed_number: str
    queue: str | None
    agent: str | None  # the interface that answered
    outcome: str
    ivr_path: tuple[IvrStep, ...]
    variables: tuple[tuple[str, str], ...]
    account: str | None
    customer_id: int | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    wait_seconds: float | None
    talk_seconds: float | None
    involved: tuple[str, ...]
    legs: tuple[CallLeg, ...]
    ring_attempts: tuple[RingAttempt, ...]
    transfers: tuple[Transfer, ...]
    disposition: Disposition | None

    def to_json(self) -> dict[str, Any]:
        return {
            **finished_call_json(self, "agent", self.agent),
            "involved": list(self.involved),
            "legs": [leg.to_json() for leg in self.legs],
            "ring_attempts": [r.to_json() for r in self.ring_attempts],
            "transfers": [t.to_json() for t in self.transfers],
            "disposition": self.disposition.to_json() if self.disposition else None,
        }
