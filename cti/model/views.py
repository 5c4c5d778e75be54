"""Read-only views of the model for REST snapshots (GET /calls, /queues, /agents).

Strategy: frozen copies built on request from the model's private records, so
a caller can hold or serialise them while the model moves on. `to_json()` gives
the wire form; the web layer may wrap these in pydantic schemas for OpenAPI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cti.ids import BridgeId, CallId, ChannelId, Interface, QueueName
from cti.model.agents import AgentRecord, derive_state
from cti.model.calls import RINGING, CallRecord, ChannelRecord
from cti.model.outputs import IvrStep, ivr_path_json
from cti.model.queues import QueueRecord

__all__ = [
    "AgentView",
    "CallView",
    "ChannelView",
    "MemberView",
    "QueueView",
    "WaitingCallerView",
    "agent_view",
    "call_view",
    "queue_view",
]


@dataclass(frozen=True, slots=True)
class ChannelView:
    channel: ChannelId
    name: str
    role: str  # caller, agent, dialed, originate, other
    state: str  # Asterisk ChannelStateDesc
    interface: Interface | None
    queue: QueueName | None
    bridge: BridgeId | None
    answered: bool
    caller_number: str
    caller_name: str
    exten: str
    created_at: float
    stasis_app: str | None = None  # the ARI application holding it (ARI's fact)


@dataclass(frozen=True, slots=True)
class CallView:
    call_id: CallId
    state: str  # queued, ringing, answered, active
    caller_number: str
    caller_name: str
    dialed_number: str
    queue: QueueName | None
    started_at: float
    joined_at: float | None
    answered_at: float | None
    answered_by: Interface | None
    account: str | None
    ivr_path: tuple[IvrStep, ...]
    variables: tuple[tuple[str, str], ...]
    recipients: tuple[Interface, ...]
    channels: tuple[ChannelView, ...]
    customer_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ivr_path"] = ivr_path_json(self.ivr_path)
        data["variables"] = dict(self.variables)
        return data


@dataclass(frozen=True, slots=True)
class WaitingCallerView:
    call_id: CallId
    channel: ChannelId
    caller_number: str
    joined_at: float


@dataclass(frozen=True, slots=True)
class MemberView:
    interface: Interface
    name: str
    state: str
    paused: bool
    reason: str


@dataclass(frozen=True, slots=True)
class QueueView:
    queue: QueueName
    waiting: tuple[WaitingCallerView, ...]
    members: tuple[MemberView, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AgentView:
    interface: Interface
    name: str
    state: str  # logged_out, available, ringing, on_call, wrap_up, paused
    reason: str | None
    queues: tuple[QueueName, ...]
    device_state: str
    since: float | None = None  # when the agent entered this state and reason
    wrap_up_until: float | None = None  # the wrap-up timer's deadline, if running

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _channel_view(c: ChannelRecord, stasis: Mapping[ChannelId, str]) -> ChannelView:
    return ChannelView(
        c.id,
        c.name,
        c.role,
        c.state,
        c.interface,
        c.queue,
        c.bridge,
        c.answered,
        c.caller_number,
        c.caller_name,
        c.exten,
        c.created_at,
        stasis.get(c.id),
    )


def _call_state(call: CallRecord) -> str:
    if call.answered_at is not None:
        return "answered"
    if call.waiting_in is not None:
        return "queued"
    if any(c.interface is not None and c.state in RINGING for c in call.channels.values()):
        return "ringing"
    return "active"


def call_view(call: CallRecord, stasis: Mapping[ChannelId, str] | None = None) -> CallView:
    """`stasis`: channel -> Stasis app, the ARI facts joined in at read time."""
    in_stasis = stasis or {}
    return CallView(
        call.id,
        _call_state(call),
        call.caller_number,
        call.caller_name,
        call.dialed_number,
        call.queue,
        call.started_at,
        call.joined_at,
        call.answered_at,
        call.answered_by,
        call.account,
        tuple(call.ivr),
        call.sorted_variables(),
        call.recipients(),
        tuple(_channel_view(c, in_stasis) for c in call.channels.values()),
        call.customer_id,
    )


def agent_view(agent: AgentRecord) -> AgentView:
    state, reason = derive_state(agent)
    last = agent.last
    since = agent.since if last is not None and last[:2] == (state, reason) else None
    return AgentView(
        agent.interface,
        agent.name,
        state,
        reason,
        tuple(agent.memberships),
        agent.device_state,
        since,
        agent.wrapup_until,
    )


def queue_view(
    queue: QueueRecord,
    calls: Mapping[CallId, CallRecord],
    agents: Mapping[Interface, AgentRecord],
) -> QueueView:
    waiting = []
    for channel, (call_id, joined) in queue.waiting.items():
        call = calls.get(call_id)
        waiting.append(
            WaitingCallerView(call_id, channel, call.caller_number if call else "", joined)
        )
    members = []
    for interface in queue.members:
        agent = agents.get(interface)
        membership = agent.memberships.get(queue.name) if agent else None
        state = derive_state(agent)[0] if agent else "logged_out"
        members.append(
            MemberView(
                interface,
                agent.name if agent else "",
                state,
                membership.paused if membership else False,
                membership.reason if membership else "",
            )
        )
    return QueueView(queue.name, tuple(waiting), tuple(members))
