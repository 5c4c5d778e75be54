"""Typed domain events: what the model understands, whatever the source.

Strategy: one frozen, slotted record per fact the model needs, with typed ids
and parsed numbers. `from_ami.py` builds them from AMI events (and a future
`from_ari.py` from ARI); `model.py` dispatches on their class with a table.
Only the fields the model reads are kept, so building one is cheap: this is the
hot path of the intake.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.ids import BridgeId, CallId, ChannelId, Interface, QueueName

__all__ = [
    "AgentAnswered",
    "AgentCompleted",
    "AgentNoAnswer",
    "AgentRung",
    "BridgeCreated",
    "BridgeDestroyed",
    "BridgeEntered",
    "BridgeLeft",
    "ChannelCreated",
    "ChannelHungUp",
    "ChannelStateChanged",
    "DialEnded",
    "DialStarted",
    "DomainEvent",
    "IvrStepped",
    "MemberRemoved",
    "MemberUpdated",
    "OriginateDone",
    "QueueAbandoned",
    "QueueJoined",
    "QueueLeft",
    "VariableSet",
    "entered_account",
]


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    """Newchannel. `name` is the channel name, e.g. "PJSIP/1001-00000001"."""

    channel: ChannelId
    call: CallId
    name: str
    state: str  # ChannelStateDesc: Down, Ring, Ringing, Up, ...
    caller_number: str
    caller_name: str
    exten: str


@dataclass(frozen=True, slots=True)
class ChannelStateChanged:
    """Newstate."""

    channel: ChannelId
    call: CallId
    state: str


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    """Hangup. `exten` is where the channel ended (the dialed number of an originate)."""

    channel: ChannelId
    call: CallId
    cause: str
    exten: str


@dataclass(frozen=True, slots=True)
class VariableSet:
    """VarSet of a CTI_* channel variable (others are dropped by the mapper)."""

    channel: ChannelId
    call: CallId
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class IvrStepped:
    """UserEvent IVRStep: the step name and the user-supplied key/values, in order."""

    channel: ChannelId
    call: CallId
    step: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class DialStarted:
    """DialBegin. `channel` is None for an originate leg (no calling channel)."""

    channel: ChannelId | None
    call: CallId  # Linkedid of the caller, or DestLinkedid for an originate
    dest_channel: ChannelId
    dest_name: str
    dest_caller_number: str
    dest_caller_name: str


@dataclass(frozen=True, slots=True)
class DialEnded:
    """DialEnd. status: ANSWER, NOANSWER, BUSY, CANCEL, CHANUNAVAIL, ..."""

    channel: ChannelId | None
    call: CallId
    dest_channel: ChannelId
    status: str


@dataclass(frozen=True, slots=True)
class QueueJoined:
    channel: ChannelId
    call: CallId
    queue: QueueName


@dataclass(frozen=True, slots=True)
class QueueLeft:
    channel: ChannelId
    call: CallId
    queue: QueueName


@dataclass(frozen=True, slots=True)
class QueueAbandoned:
    channel: ChannelId
    call: CallId
    queue: QueueName


@dataclass(frozen=True, slots=True)
class AgentRung:
    """AgentCalled: the queue rings member `interface` on `dest_channel`."""

    channel: ChannelId
    call: CallId
    queue: QueueName
    interface: Interface
    member_name: str
    dest_channel: ChannelId
    dest_name: str


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    """AgentConnect."""

    channel: ChannelId
    call: CallId
    queue: QueueName
    interface: Interface
    dest_channel: ChannelId


@dataclass(frozen=True, slots=True)
class AgentCompleted:
    """AgentComplete. reason: caller, agent, transfer.

    `dest_channel` is None when the agent hung up first: Asterisk then sends
    no Dest* headers (the agent channel is already gone; see load_bulk.jsonl).
    """

    channel: ChannelId
    call: CallId
    queue: QueueName
    interface: Interface
    dest_channel: ChannelId | None
    reason: str


@dataclass(frozen=True, slots=True)
class AgentNoAnswer:
    """AgentRingNoAnswer."""

    channel: ChannelId
    call: CallId
    queue: QueueName
    interface: Interface
    dest_channel: ChannelId


@dataclass(frozen=True, slots=True)
class BridgeCreated:
    bridge: BridgeId


@dataclass(frozen=True, slots=True)
class BridgeDestroyed:
    bridge: BridgeId


@dataclass(frozen=True, slots=True)
class BridgeEntered:
    bridge: BridgeId
    channel: ChannelId
    call: CallId


@dataclass(frozen=True, slots=True)
class BridgeLeft:
    bridge: BridgeId
    channel: ChannelId
    call: CallId


@dataclass(frozen=True, slots=True)
class MemberUpdated:
    """QueueMemberStatus / QueueMemberPause / QueueMemberAdded (and snapshot QueueMember).

    status is app_queue's device status: 0 unknown, 1 not in use, 2 in use,
    3 busy, 4 invalid, 5 unavailable, 6 ringing, 7 ring+in use, 8 on hold.
    """

    queue: QueueName
    interface: Interface
    name: str
    status: int
    paused: bool
    reason: str


@dataclass(frozen=True, slots=True)
class MemberRemoved:
    queue: QueueName
    interface: Interface


@dataclass(frozen=True, slots=True)
class OriginateDone:
    """OriginateResponse: the originated channel and the extension it runs."""

    channel: ChannelId | None
    exten: str
    success: bool


DomainEvent = (
    ChannelCreated
    | ChannelStateChanged
    | ChannelHungUp
    | VariableSet
    | IvrStepped
    | DialStarted
    | DialEnded
    | QueueJoined
    | QueueLeft
    | QueueAbandoned
    | AgentRung
    | AgentAnswered
    | AgentCompleted
    | AgentNoAnswer
    | BridgeCreated
    | BridgeDestroyed
    | BridgeEntered
    | BridgeLeft
    | MemberUpdated
    | MemberRemoved
    | OriginateDone
)


# Where the dialplan reports an account the caller typed (docs/ivr.md): the
# CTI_ACCOUNT variable, or an Account key of an IVRStep user event.
_ACCOUNT_VARIABLE = "CTI_ACCOUNT"
_ACCOUNT_KEYS = frozenset({"Account", "account", "ACCOUNT"})


def entered_account(event: VariableSet | IvrStepped) -> str | None:
    """The account number this event reports the caller entered, if any."""
    if isinstance(event, VariableSet):
        return event.value or None if event.name == _ACCOUNT_VARIABLE else None
    for key, value in event.values:
        if key in _ACCOUNT_KEYS and value:
            return value
    return None
