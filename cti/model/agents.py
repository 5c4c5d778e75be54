"""Agents: one per device interface, one work state each, derived from three sources.

Strategy: app_queue tells us, per queue, the member's device status and pause
(QueueMember* events, the snapshot's QueueMember items); the model itself knows
which of the agent's legs are ringing or answered; and the CTI's own wrap-up
timer (after-call work) says whether the agent is in wrap-up. The derived
state is a pure function of these, evaluated in priority order, as a table:

    has a leg (the model's own channels) ....... ringing / on_call
    no queue membership ......................... logged_out
    a member is in use / ringing (app_queue) .... on_call / ringing
    wrap-up timer running, or a member paused
      with the reserved reason "wrap-up" ....... wrap_up
    a member paused ............................. paused (with its reason)
    every member unavailable / invalid .......... logged_out
    otherwise ................................... available

An `AgentStateChanged` is emitted only when the state, the reason or the set
of queues changes; `since` is when the (state, reason) began, so a change of
queues alone keeps it. A state loaded from the store at start-up (`restored`)
keeps its original `since` when the first derived state matches it.

Wrap-up is paused in Asterisk under the reserved reason `WRAPUP_REASON` (see
docs/agent-states.md), so a member paused that way is in wrap-up, whoever
paused it, and the timer that ends it is restarted if the CTI lost it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.ids import ChannelId, Interface, QueueName
from cti.model.outputs import AgentStateChanged

__all__ = [
    "STATES",
    "WRAPUP_REASON",
    "AgentRecord",
    "Membership",
    "State",
    "derive_state",
    "refresh_agent",
    "wrapup_paused",
]


class State:
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


STATES: tuple[str, ...] = (
    State.LOGGED_OUT,
    State.AVAILABLE,
    State.RINGING,
    State.ON_CALL,
    State.WRAP_UP,
    State.PAUSED,
)
# The pause reason the CTI uses for wrap-up in Asterisk; never a user's reason.
WRAPUP_REASON = "wrap-up"


# app_queue member (device) status codes
_IN_USE = frozenset({2, 3, 7, 8})  # in use, busy, ring+in use, on hold
_RINGING = 6
_GONE = frozenset({4, 5})  # invalid, unavailable


@dataclass(slots=True)
class Membership:
    status: int = 0
    paused: bool = False
    reason: str = ""


@dataclass(slots=True)
class AgentRecord:
    interface: Interface
    name: str = ""
    memberships: dict[QueueName, Membership] = field(default_factory=dict)
    legs: dict[ChannelId, bool] = field(default_factory=dict)  # leg -> answered
    device_state: str = ""  # from DeviceStateList (resync), e.g. INUSE
    last: tuple[str, str | None, tuple[QueueName, ...]] | None = None
    since: float | None = None  # when the current (state, reason) began
    wrapup_until: float | None = None  # the CTI's wrap-up timer, if running
    # (state, reason, since) from the store's open row, until first derived
    restored: tuple[str, str | None, float] | None = None


def wrapup_paused(agent: AgentRecord) -> bool:
    """Is any membership paused in Asterisk for the CTI's wrap-up?"""
    return any(m.paused and m.reason == WRAPUP_REASON for m in agent.memberships.values())


def derive_state(agent: AgentRecord) -> tuple[str, str | None]:
    """(state, pause reason) for an agent."""
    if agent.legs:
        return (State.ON_CALL if any(agent.legs.values()) else State.RINGING), None
    members = agent.memberships.values()
    if not members:
        return State.LOGGED_OUT, None
    if any(m.status in _IN_USE for m in members):
        return State.ON_CALL, None
    if any(m.status == _RINGING for m in members):
        return State.RINGING, None
    if agent.wrapup_until is not None or wrapup_paused(agent):
        return State.WRAP_UP, None
    for m in members:
        if m.paused:
            return State.PAUSED, m.reason or None
    if all(m.status in _GONE for m in members):
        return State.LOGGED_OUT, None
    return State.AVAILABLE, None


def refresh_agent(agent: AgentRecord, at: float) -> AgentStateChanged | None:
    """The change to publish, if the derived state differs from the last one."""
    state, reason = derive_state(agent)
    queues = tuple(agent.memberships)
    current = (state, reason, queues)
    if current == agent.last:
        return None
    previous, agent.last = agent.last, current
    if previous is None and agent.restored is not None and agent.restored[:2] == (state, reason):
        agent.since = agent.restored[2]
    elif previous is None or previous[:2] != (state, reason) or agent.since is None:
        agent.since = at
    agent.restored = None
    return AgentStateChanged(
        interface=agent.interface,
        name=agent.name,
        state=state,
        reason=reason,
        queues=queues,
        at=at,
        since=agent.since,
    )
