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
    "CallTransferred",
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
    "StasisEntered",
    "StasisLeft",
    "VariableSet",
    "dipped_customer",
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


@dataclass(frozen=True, slots=True)
class StasisEntered:
    """ARI StasisStart: `channel` entered the Stasis application `app`.

    ARI owns this fact (docs/ownership.md). It names a channel, not a call:
    ARI events carry no Linkedid, and the AMI Newchannel may not have been
    applied yet, so the model keys it by channel and joins it when read.
    """

    channel: ChannelId
    app: str
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StasisLeft:
    """ARI StasisEnd: `channel` left the Stasis application `app`."""

    channel: ChannelId
    app: str


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """BlindTransfer or AttendedTransfer with Result Success (`kind` says which).

    `transferee` is the channel that stays (the customer), `target` the channel
    it ends up talking to (attended only: a blind transfer's target is dialled
    afterwards, by the transferee's own channel). `transferer_calls` are the
    calls of the transferring agent's channel(s): an attended transfer's
    consultation may be a call of its own (another Linkedid).
    `transferer_name` (the agent's channel name) and `extension` (blind: where
    the customer was sent) are for the call record's history.
    """

    kind: str  # blind, attended
    transferee: ChannelId | None
    transferee_call: CallId | None
    target: ChannelId | None
    target_call: CallId | None
    transferer_calls: tuple[CallId, ...]
    transferer_name: str = ""
    target_name: str = ""
    extension: str = ""


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
    | StasisEntered
    | StasisLeft
    | CallTransferred
)


# Where the dialplan reports an account the caller typed (docs/ivr.md): the
# CTI_ACCOUNT variable, or an Account key of an IVRStep user event.
_ACCOUNT_VARIABLE = "CTI_ACCOUNT"
_ACCOUNT_KEYS = frozenset({"Account", "account", "ACCOUNT"})


# Where the data dip reports the customer it found (docs/ivr.md): the
# CTI_CUSTOMER_ID variable the `cti-ivr` app sets, or a Customer key of an
# IVRStep user event (the shipped dialplan reports it at `stasis-done`).
_CUSTOMER_VARIABLE = "CTI_CUSTOMER_ID"
_CUSTOMER_KEYS = frozenset({"Customer", "customer", "CUSTOMER"})


def _customer_id(text: str) -> int | None:
    text = text.strip()
    # Only a plain positive decimal is an id: "", "0", "-1" or "42abc" are not.
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else None


def dipped_customer(event: VariableSet | IvrStepped) -> int | None:
    """The customer id a data dip reported with this event, if any."""
    if isinstance(event, VariableSet):
        return _customer_id(event.value) if event.name == _CUSTOMER_VARIABLE else None
    for key, value in event.values:
        if key in _CUSTOMER_KEYS:
            found = _customer_id(value)
            if found is not None:
                return found
    return None


def entered_account(event: VariableSet | IvrStepped) -> str | None:
    """The account number this event reports the caller entered, if any."""
    if isinstance(event, VariableSet):
        return event.value or None if event.name == _ACCOUNT_VARIABLE else None
    for key, value in event.values:
        if key in _ACCOUNT_KEYS and value:
            return value
    return None
