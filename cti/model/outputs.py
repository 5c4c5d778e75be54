"""What the pure model emits: the contract between the core and the shell.

Strategy: `Model.apply(event, at)` returns a list of these frozen records. The
engine routes them: screen-pops and call updates to the agents named in
`recipients`, agent/queue updates to supervisors, `CallEnded` to the store.
Every record has a stable `type` string (the WebSocket event name) and
`to_json()` giving a JSON-ready dict, so the wire format is defined once.
Timestamps are seconds since the Unix epoch, as supplied by the caller of
`apply` (live: the clock at receipt; replay: the trace's own times).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from cti.ids import CallId, ChannelId, Interface, QueueName

__all__ = [
    "AgentStateChanged",
    "CallAnswered",
    "CallEnded",
    "CallLeg",
    "IvrStep",
    "Output",
    "QueueUpdated",
    "RingAttempt",
    "RingEnded",
    "ScreenPop",
    "SetMemberPause",
    "Transfer",
    "ivr_from_json",
    "ivr_path_json",
]


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _shallow(obj: object) -> dict[str, Any]:
    """Top-level fields only: `dataclasses.asdict` deep-copies and costs ~60 µs
    per pop, more than the whole WebSocket fan-out; every value here is already
    immutable or JSON-ready except the IVR path, which `to_json` converts."""
    return {name: getattr(obj, name) for name in _field_names(type(obj))}


@dataclass(frozen=True, slots=True)
class IvrStep:
    """One `UserEvent(IVRStep, Step: ..., Key: value...)` from the dialplan."""

    step: str
    values: tuple[tuple[str, str], ...] = ()
    at: float = 0.0


def ivr_path_json(path: Iterable[IvrStep]) -> list[dict[str, Any]]:
    """An IVR path as JSON, the same on the wire and in the store: [{step, values, at}]."""
    return [{"step": s.step, "values": dict(s.values), "at": s.at} for s in path]


def ivr_from_json(
    data: Mapping[str, Any] | None,
) -> tuple[tuple[IvrStep, ...], tuple[tuple[str, str], ...]]:
    """The IVR path and the variables (sorted by name) back from their stored form,
    {"path": ivr_path_json(...), "variables": {name: value}}; a missing part is empty."""
    ivr = data or {}
    path = tuple(
        IvrStep(
            step=str(step.get("step", "")),
            values=tuple((str(k), str(v)) for k, v in dict(step.get("values", {})).items()),
            at=float(step.get("at", 0.0)),
        )
        for step in ivr.get("path", [])
    )
    variables = tuple(sorted((str(k), str(v)) for k, v in dict(ivr.get("variables", {})).items()))
    return path, variables


@dataclass(frozen=True, slots=True)
class ScreenPop:
    """A call is ringing `interface`: show the agent everything known so far.

    `customer` is None from the model; the engine fills it from the store
    (by the data dip's `customer_id` first, then `account`, then
    `caller_number`) before publishing.
    `late` is True when the pop is emitted after a resync because the ring
    happened while the AMI link was down.
    """

    type: ClassVar[str] = "screen_pop"
    call_id: CallId
    interface: Interface
    agent_channel: ChannelId
    caller_number: str
    caller_name: str
    dialed_number: str
    queue: QueueName | None
    waited_seconds: float | None
    ivr_path: tuple[IvrStep, ...]
    variables: tuple[tuple[str, str], ...]  # CTI_* channel variables, sorted by name
    account: str | None
    at: float
    member_name: str | None = None
    customer_id: int | None = None  # the data dip's answer (CTI_CUSTOMER_ID)
    late: bool = False
    customer: dict[str, Any] | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = _shallow(self)
        data["type"] = self.type
        data["ivr_path"] = ivr_path_json(self.ivr_path)
        data["variables"] = dict(self.variables)
        return data


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """`interface` answered the call (recipients: every agent popped for it)."""

    type: ClassVar[str] = "call_answered"
    call_id: CallId
    interface: Interface
    recipients: tuple[Interface, ...]
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **_shallow(self)}


@dataclass(frozen=True, slots=True)
class RingEnded:
    """A popped agent's phone stopped ringing without that agent answering.

    reason: "no_answer" (the queue gave up on this agent: AgentRingNoAnswer),
    "answered_elsewhere" (another party took the call), "cancelled" (the
    caller hung up or the ring was withdrawn). Lets the desktop close the pop.
    """

    type: ClassVar[str] = "ring_ended"
    call_id: CallId
    interface: Interface
    agent_channel: ChannelId
    reason: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **_shallow(self)}


@dataclass(frozen=True, slots=True)
class CallLeg:
    """One channel that was part of a call, for the call record (history)."""

    channel: ChannelId
    name: str
    role: str  # caller, agent, dialed, originate, other (cti.model.calls.Role)
    interface: Interface | None  # the agent/device interface, when it is one
    party_number: str  # the channel's own caller id number
    party_name: str
    started_at: float
    answered_at: float | None
    ended_at: float | None  # None: still up when the call was found gone (resync)

    def to_json(self) -> dict[str, Any]:
        return _shallow(self)


@dataclass(frozen=True, slots=True)
class RingAttempt:
    """An agent's phone rang for the call. result: "answered", "no_answer" (the
    queue or Dial gave up: ring-no-answer), "cancelled" (caller hung up, or
    another agent answered)."""

    interface: Interface
    channel: ChannelId
    queue: QueueName | None
    rang_at: float
    ended_at: float
    result: str

    def to_json(self) -> dict[str, Any]:
        return _shallow(self)


@dataclass(frozen=True, slots=True)
class Transfer:
    """A successful blind or attended transfer of the call (kind), by
    `from_interface` (the transferring agent), to `to_interface` (attended: the
    target's device) or `to_extension` (blind: where the customer was sent)."""

    kind: str
    at: float
    from_interface: Interface | None
    to_interface: Interface | None
    to_extension: str | None

    def to_json(self) -> dict[str, Any]:
        return _shallow(self)


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The last channel of the call hung up. This is also the call record.

    outcome: "answered" (an agent/party answered), "abandoned" (caller left a
    queue unanswered), "unanswered" (rang, nobody answered, not a queue
    abandon), "failed" (never rang anyone).
    """

    type: ClassVar[str] = "call_ended"
    call_id: CallId
    outcome: str
    caller_number: str
    caller_name: str
    dialed_number: str
    queue: QueueName | None
    answered_by: Interface | None  # for an Originate: the originating agent
    parties: tuple[Interface, ...]  # agent/device interfaces that took part
    recipients: tuple[Interface, ...]  # agents that were popped for the call
    ivr_path: tuple[IvrStep, ...]
    variables: tuple[tuple[str, str], ...]
    account: str | None
    started_at: float
    answered_at: float | None
    ended_at: float
    wait_seconds: float | None  # queue wait until answer or abandon
    talk_seconds: float | None
    ring_no_answer: tuple[Interface, ...] = ()
    customer_id: int | None = None  # the data dip's answer (CTI_CUSTOMER_ID)
    # True when the call was found gone by a resync (it ended while the AMI
    # link was down): ended_at is then the resync time, not the real hang-up.
    ended_by_resync: bool = False
    # the history (cti.store.history): every channel, every agent rung, transfers
    legs: tuple[CallLeg, ...] = ()
    ring_attempts: tuple[RingAttempt, ...] = ()
    transfers: tuple[Transfer, ...] = ()

    @property
    def duration_seconds(self) -> float:
        return self.ended_at - self.started_at

    def to_json(self) -> dict[str, Any]:
        data = _shallow(self)
        data["type"] = self.type
        data["duration_seconds"] = self.duration_seconds
        data["ivr_path"] = ivr_path_json(self.ivr_path)
        data["variables"] = dict(self.variables)
        data["legs"] = [leg.to_json() for leg in self.legs]
        data["ring_attempts"] = [ring.to_json() for ring in self.ring_attempts]
        data["transfers"] = [t.to_json() for t in self.transfers]
        return data


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """state: logged_out, available, ringing, on_call, wrap_up, paused.

    `since`: when the agent entered this (state, reason); a change of queues
    alone keeps it, and after a restart it comes from the store's open row.
    """

    type: ClassVar[str] = "agent_state"
    interface: Interface
    name: str
    state: str
    reason: str | None
    queues: tuple[QueueName, ...]
    at: float
    since: float

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **_shallow(self)}


@dataclass(frozen=True, slots=True)
class QueueUpdated:
    type: ClassVar[str] = "queue_state"
    queue: QueueName
    waiting: int
    longest_wait_since: float | None  # join time of the oldest waiting caller
    members: tuple[Interface, ...]
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **_shallow(self)}


@dataclass(frozen=True, slots=True)
class SetMemberPause:
    """An effect, not an event: the model asks the shell to (un)pause the agent
    in every queue through AMI QueuePause (wrap-up start and end). Never
    published; `cti replay` prints it to show what a live CTI would send."""

    type: ClassVar[str] = "set_member_pause"
    interface: Interface
    paused: bool
    reason: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **_shallow(self)}


Output = (
    ScreenPop
    | CallAnswered
    | RingEnded
    | CallEnded
    | AgentStateChanged
    | QueueUpdated
    | SetMemberPause
)
