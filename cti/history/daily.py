"""Per-agent daily stats, computed from the day's call records and state spells.

Strategy: pure arithmetic over what the store returns for one agent and one
day [start, end): the calls that started that day and involved the agent, and
the agent's work-state spells overlapping the day (agent_state_changes). A
spell is clipped to the day's bounds (and an open spell to `now`), so a spell
crossing midnight counts on both days, each only its own part. Definitions
follow ../shared/METRICS.md: handled = the agent answered a ring for the call;
talk = the agent's answered legs, answer to hang-up; AHT = (talk + wrap-up) /
handled; ring-no-answer = the agent's ring attempts that ended `no_answer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cti.history.core import HistoryEntry

__all__ = ["DailyStats", "StateSpell", "daily_stats"]

_TALK_ROLES = frozenset({"agent", "dialed", "caller", "originate"})


@dataclass(frozen=True, slots=True)
class StateSpell:
    state: str
    reason: str | None
    started_at: datetime
    ended_at: datetime | None  # None: the agent is still in it


@dataclass(frozen=True, slots=True)
class DailyStats:
    interface: str
    start: datetime
    end: datetime
    calls: int  # calls that involved the agent (taken part in or rung for)
    calls_handled: int
    talk_seconds: float
    wrap_up_seconds: float
    average_handle_seconds: float | None  # None when no call was handled
    ring_no_answers: int
    state_seconds: dict[str, float]
    paused_seconds_by_reason: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "interface": self.interface,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "calls": self.calls,
            "calls_handled": self.calls_handled,
            "talk_seconds": self.talk_seconds,
            "wrap_up_seconds": self.wrap_up_seconds,
            "average_handle_seconds": self.average_handle_seconds,
            "ring_no_answers": self.ring_no_answers,
            "state_seconds": dict(self.state_seconds),
            "paused_seconds_by_reason": dict(self.paused_seconds_by_reason),
        }


def _clipped(spell: StateSpell, start: datetime, end: datetime, now: datetime) -> float:
    stop = spell.ended_at if spell.ended_at is not None else min(now, end)
    seconds = (min(stop, end) - max(spell.started_at, start)).total_seconds()
    return max(0.0, seconds)


def _agent_talk(entry: HistoryEntry, interface: str) -> tuple[bool, float]:
    """(handled, talk seconds) of `interface` on one call."""
    handled = entry.agent == interface or any(
        r.interface == interface and r.result == "answered" for r in entry.ring_attempts
    )
    talk = 0.0
    for leg in entry.legs:
        if leg.interface != interface or leg.role not in _TALK_ROLES:
            continue
        if leg.answered_at is not None and leg.ended_at is not None:
            talk += max(0.0, leg.ended_at - leg.answered_at)
    if handled and not entry.legs and entry.talk_seconds is not None:
        talk = entry.talk_seconds  # a record written before legs were kept
    return handled, talk


def daily_stats(
    interface: str,
    start: datetime,
    end: datetime,
    calls: Sequence[HistoryEntry],
    spells: Sequence[StateSpell],
    now: datetime,
) -> DailyStats:
    handled = 0
    talk = 0.0
    no_answers = 0
    for entry in calls:
        took, seconds = _agent_talk(entry, interface)
        handled += took
        talk += seconds if took else 0.0
        no_answers += sum(
            1 for r in entry.ring_attempts if r.interface == interface and r.result == "no_answer"
        )
    states: dict[str, float] = {}
    paused: dict[str, float] = {}
    for spell in spells:
        seconds = _clipped(spell, start, end, now)
        if seconds <= 0:
            continue
        states[spell.state] = states.get(spell.state, 0.0) + seconds
        if spell.state == "paused":
            reason = spell.reason or ""
            paused[reason] = paused.get(reason, 0.0) + seconds
    wrap_up = states.get("wrap_up", 0.0)
    aht = round((talk + wrap_up) / handled, 3) if handled else None
    return DailyStats(
        interface=interface,
        start=start,
        end=end,
        calls=len(calls),
        calls_handled=handled,
        talk_seconds=round(talk, 3),
        wrap_up_seconds=round(wrap_up, 3),
        average_handle_seconds=aht,
        ring_no_answers=no_answers,
        state_seconds={k: round(v, 3) for k, v in sorted(states.items())},
        paused_seconds_by_reason={k: round(v, 3) for k, v in sorted(paused.items())},
    )
