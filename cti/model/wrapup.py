"""Wrap-up (after-call work): the per-agent timer, pure, driven by `Model.tick`.

Strategy: when an agent's queue call ends and that queue has a wrap-up time,
the agent enters `wrap_up` and the model asks the shell (a `SetMemberPause`
effect) to pause them in Asterisk with the reserved reason "wrap-up", so
app_queue does not ring them meanwhile. The model reads no clock: `tick(at)`
ends the timers that are due, each with an unpause effect. Asterisk's pause
stays the truth: a member paused "wrap-up" is in wrap-up (agents.py), so

- a real pause (lunch, ...) during wrap-up replaces it: the timer is dropped
  and nothing is unpaused later;
- the "wrap-up" pause lifted in Asterisk (the agent ended wrap-up early, or
  somebody unpaused them by hand) ends wrap-up;
- a "wrap-up" pause with no timer (the CTI restarted, or lost the timer) gets
  a timer counted from when that wrap-up began, so nobody stays in it forever.

`Timers` is the model's index of running timers (interface -> deadline), so a
tick looks only at agents in wrap-up, not at every agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cti.ids import Interface, QueueName
from cti.model.agents import WRAPUP_REASON, AgentRecord, Membership, State, wrapup_paused
from cti.model.outputs import Output, SetMemberPause

__all__ = [
    "Timers",
    "due",
    "end_wrapup",
    "follow_membership",
    "start_wrapup",
    "sync_after_snapshot",
    "wrapup_seconds",
]

Timers = dict[Interface, float]


def wrapup_seconds(config: Mapping[str, float], queues: Iterable[str]) -> float:
    """The longest wrap-up time of `queues`."""
    return max((config.get(q, 0.0) for q in queues), default=0.0)


def _paused_for_real(agent: AgentRecord) -> bool:
    return any(m.paused and m.reason != WRAPUP_REASON for m in agent.memberships.values())


def _set(agent: AgentRecord, deadline: float, timers: Timers) -> None:
    agent.wrapup_until = deadline
    timers[agent.interface] = deadline


def start_wrapup(
    agent: AgentRecord, queue: QueueName, config: Mapping[str, float], at: float, timers: Timers
) -> list[Output]:
    """The agent's call from `queue` ended: start (or extend) their wrap-up."""
    seconds = config.get(queue, 0.0)
    if seconds <= 0 or not agent.memberships or _paused_for_real(agent):
        return []  # no wrap-up configured, logged out, or paused: that state wins
    deadline = at + seconds
    if agent.wrapup_until is not None:
        _set(agent, max(deadline, agent.wrapup_until), timers)
        return []  # already paused for a previous call
    _set(agent, deadline, timers)
    if wrapup_paused(agent):
        return []
    return [SetMemberPause(agent.interface, True, WRAPUP_REASON, at)]


def end_wrapup(agent: AgentRecord, at: float, timers: Timers, *, unpause: bool) -> list[Output]:
    """Stop the timer; with `unpause`, ask the shell to lift the Asterisk pause."""
    timers.pop(agent.interface, None)
    running = agent.wrapup_until is not None
    agent.wrapup_until = None
    if unpause and (running or wrapup_paused(agent)):
        return [SetMemberPause(agent.interface, False, "", at)]
    return []


def due(timers: Timers, at: float) -> list[Interface]:
    """Agents whose wrap-up time is over at `at`, soonest first."""
    return sorted((i for i, deadline in timers.items() if deadline <= at), key=timers.__getitem__)


def _began(agent: AgentRecord, at: float) -> float:
    """When the wrap-up an unexplained "wrap-up" pause belongs to began."""
    if agent.restored is not None and agent.restored[0] == State.WRAP_UP:
        return agent.restored[2]
    if agent.last is not None and agent.last[0] == State.WRAP_UP and agent.since is not None:
        return agent.since
    return at


def follow_membership(
    agent: AgentRecord,
    old: Membership | None,
    new: Membership,
    config: Mapping[str, float],
    at: float,
    timers: Timers,
) -> None:
    """Keep the timer in line with a membership Asterisk just reported (already stored)."""
    if new.paused and new.reason == WRAPUP_REASON:
        if agent.wrapup_until is None:
            seconds = wrapup_seconds(config, agent.memberships)
            _set(agent, _began(agent, at) + seconds, timers)
    elif new.paused:
        end_wrapup(agent, at, timers, unpause=False)  # a real pause replaces wrap-up
    elif (
        old is not None
        and old.paused
        and old.reason == WRAPUP_REASON
        and not wrapup_paused(agent)
        and agent.wrapup_until is not None
    ):
        end_wrapup(agent, at, timers, unpause=False)  # lifted in Asterisk: over


def sync_after_snapshot(
    agents: Mapping[Interface, AgentRecord], config: Mapping[str, float], at: float, timers: Timers
) -> None:
    """After a resync: time every "wrap-up" pause the CTI has no timer for."""
    for agent in agents.values():
        if agent.wrapup_until is None and wrapup_paused(agent):
            _set(agent, _began(agent, at) + wrapup_seconds(config, agent.memberships), timers)
        elif agent.wrapup_until is not None and _paused_for_real(agent):
            end_wrapup(agent, at, timers, unpause=False)
