"""Agents: one per device interface, with a state derived from two sources.

Strategy: app_queue tells us, per queue, the member's device status and pause
(QueueMember* events, the snapshot's QueueMember items); the model itself knows
which of the agent's legs are ringing or answered. The derived state is a pure
function of both, evaluated in priority order (a call beats a pause, a pause
beats idle), and an `AgentStateChanged` is emitted only when the state, the
reason or the set of queues changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.ids import ChannelId, Interface, QueueName
from cti.model.outputs import AgentStateChanged

__all__ = ["AgentRecord", "Membership", "State", "derive_state", "refresh_agent"]


class State:
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    PAUSED = "paused"


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
    agent.last = current
    return AgentStateChanged(
        interface=agent.interface,
        name=agent.name,
        state=state,
        reason=reason,
        queues=queues,
        at=at,
    )
