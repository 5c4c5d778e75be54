"""Map AMI events to domain events.

Strategy: one `{event name: handler}` table. An event whose name is not in the
table (Newexten, RTCPSent, DeviceStateChange, ...: most of the stream) costs
one dict look-up and returns None. A handler reads the headers it needs with
`fields[...]`; a missing header raises KeyError, which is turned into None and
counted in `STATS` (Asterisk sent junk; the intake must go on). VarSet is the
most frequent event, so its handler rejects non-CTI variables before building
anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cti.ami.fields import FrameFields
from cti.ami.protocol import Event
from cti.ids import BridgeId, CallId, ChannelId, Interface, QueueName
from cti.model.events import (
    AgentAnswered,
    AgentCompleted,
    AgentNoAnswer,
    AgentRung,
    BridgeCreated,
    BridgeDestroyed,
    BridgeEntered,
    BridgeLeft,
    CallTransferred,
    ChannelCreated,
    ChannelHungUp,
    ChannelStateChanged,
    DialEnded,
    DialStarted,
    DomainEvent,
    IvrStepped,
    MemberRemoved,
    MemberUpdated,
    OriginateDone,
    QueueAbandoned,
    QueueJoined,
    QueueLeft,
    VariableSet,
)

__all__ = ["CTI_PREFIX", "HANDLED_EVENTS", "STATS", "FromAmiStats", "from_ami", "member_from"]

CTI_PREFIX = "CTI_"
IVR_USER_EVENT = "IVRStep"

_Fields = Mapping[str, str]


@dataclass(slots=True)
class FromAmiStats:
    """Events dropped because a header the model needs was missing, by event name."""

    malformed: dict[str, int] = field(default_factory=dict)

    @property
    def total_malformed(self) -> int:
        return sum(self.malformed.values())


STATS = FromAmiStats()


def _newchannel(f: _Fields) -> ChannelCreated:
    return ChannelCreated(
        ChannelId(f["Uniqueid"]),
        CallId(f["Linkedid"]),
        f["Channel"],
        f.get("ChannelStateDesc", ""),
        f.get("CallerIDNum", ""),
        f.get("CallerIDName", ""),
        f.get("Exten", ""),
    )


def _newstate(f: _Fields) -> ChannelStateChanged:
    return ChannelStateChanged(
        ChannelId(f["Uniqueid"]), CallId(f["Linkedid"]), f["ChannelStateDesc"]
    )


def _hangup(f: _Fields) -> ChannelHungUp:
    return ChannelHungUp(
        ChannelId(f["Uniqueid"]), CallId(f["Linkedid"]), f.get("Cause", ""), f.get("Exten", "")
    )


def _varset(f: _Fields) -> VariableSet | None:
    # Most VarSets name other variables: reject them straight from the frame
    # text (same answer as `f["Variable"].startswith(...)`, KeyError included).
    if type(f) is FrameFields and not f.startswith("Variable", CTI_PREFIX):
        return None
    name = f["Variable"]
    if not name.startswith(CTI_PREFIX):
        return None
    return VariableSet(ChannelId(f["Uniqueid"]), CallId(f["Linkedid"]), name, f["Value"])


def _user_event(f: _Fields) -> IvrStepped | None:
    if f["UserEvent"] != IVR_USER_EVENT:
        return None
    # The channel's own headers come first, the user-supplied ones follow the
    # UserEvent header (the parser keeps insertion order; a repeated Uniqueid
    # was already dropped there).
    values: list[tuple[str, str]] = []
    after = False
    for key, value in f.items():
        if after:
            if key != "Step":
                values.append((key, value))
        elif key == "UserEvent":
            after = True
    return IvrStepped(ChannelId(f["Uniqueid"]), CallId(f["Linkedid"]), f["Step"], tuple(values))


def _dial_begin(f: _Fields) -> DialStarted:
    uniqueid = f.get("Uniqueid")
    return DialStarted(
        ChannelId(uniqueid) if uniqueid else None,
        CallId(f["Linkedid"] if uniqueid else f["DestLinkedid"]),
        ChannelId(f["DestUniqueid"]),
        f["DestChannel"],
        f.get("DestCallerIDNum", ""),
        f.get("DestCallerIDName", ""),
    )


def _dial_end(f: _Fields) -> DialEnded:
    uniqueid = f.get("Uniqueid")
    return DialEnded(
        ChannelId(uniqueid) if uniqueid else None,
        CallId(f["Linkedid"] if uniqueid else f["DestLinkedid"]),
        ChannelId(f["DestUniqueid"]),
        f["DialStatus"],
    )


def _queue_join(f: _Fields) -> QueueJoined:
    return QueueJoined(ChannelId(f["Uniqueid"]), CallId(f["Linkedid"]), QueueName(f["Queue"]))


def _queue_leave(f: _Fields) -> QueueLeft:
    return QueueLeft(ChannelId(f["Uniqueid"]), CallId(f["Linkedid"]), QueueName(f["Queue"]))


def _queue_abandon(f: _Fields) -> QueueAbandoned:
    return QueueAbandoned(ChannelId(f["Uniqueid"]), CallId(f["Linkedid"]), QueueName(f["Queue"]))


def _agent_called(f: _Fields) -> AgentRung:
    return AgentRung(
        ChannelId(f["Uniqueid"]),
        CallId(f["Linkedid"]),
        QueueName(f["Queue"]),
        Interface(f["Interface"]),
        f.get("MemberName", ""),
        ChannelId(f["DestUniqueid"]),
        f["DestChannel"],
    )


def _agent_connect(f: _Fields) -> AgentAnswered:
    return AgentAnswered(
        ChannelId(f["Uniqueid"]),
        CallId(f["Linkedid"]),
        QueueName(f["Queue"]),
        Interface(f["Interface"]),
        ChannelId(f["DestUniqueid"]),
    )


def _agent_complete(f: _Fields) -> AgentCompleted:
    dest = f.get("DestUniqueid")
    return AgentCompleted(
        ChannelId(f["Uniqueid"]),
        CallId(f["Linkedid"]),
        QueueName(f["Queue"]),
        Interface(f["Interface"]),
        ChannelId(dest) if dest else None,
        f.get("Reason", ""),
    )


def _agent_rna(f: _Fields) -> AgentNoAnswer:
    return AgentNoAnswer(
        ChannelId(f["Uniqueid"]),
        CallId(f["Linkedid"]),
        QueueName(f["Queue"]),
        Interface(f["Interface"]),
        ChannelId(f["DestUniqueid"]),
    )


def _bridge_create(f: _Fields) -> BridgeCreated:
    return BridgeCreated(BridgeId(f["BridgeUniqueid"]))


def _bridge_destroy(f: _Fields) -> BridgeDestroyed:
    return BridgeDestroyed(BridgeId(f["BridgeUniqueid"]))


def _bridge_enter(f: _Fields) -> BridgeEntered:
    return BridgeEntered(
        BridgeId(f["BridgeUniqueid"]), ChannelId(f["Uniqueid"]), CallId(f["Linkedid"])
    )


def _bridge_leave(f: _Fields) -> BridgeLeft:
    return BridgeLeft(
        BridgeId(f["BridgeUniqueid"]), ChannelId(f["Uniqueid"]), CallId(f["Linkedid"])
    )


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def member_from(f: _Fields) -> MemberUpdated:
    """QueueMember* events, and the snapshot's QueueMember item (Location, Name)."""
    interface = f.get("Interface") or f["Location"]
    return MemberUpdated(
        QueueName(f["Queue"]),
        Interface(interface),
        f.get("MemberName") or f.get("Name", ""),
        _int(f.get("Status", "0")),
        f.get("Paused", "0") == "1",
        f.get("PausedReason", ""),
    )


def _member_removed(f: _Fields) -> MemberRemoved:
    return MemberRemoved(QueueName(f["Queue"]), Interface(f["Interface"]))


def _originate_response(f: _Fields) -> OriginateDone:
    uniqueid = f.get("Uniqueid")
    return OriginateDone(
        ChannelId(uniqueid) if uniqueid and uniqueid != "<null>" else None,
        f.get("Exten", ""),
        f["Response"] == "Success",
    )


def _opt_channel(f: _Fields, prefix: str) -> tuple[ChannelId | None, CallId | None]:
    uniqueid, linkedid = f.get(prefix + "Uniqueid"), f.get(prefix + "Linkedid")
    return (ChannelId(uniqueid) if uniqueid else None, CallId(linkedid) if linkedid else None)


def _calls(f: _Fields, *prefixes: str) -> tuple[CallId, ...]:
    found = (f.get(p + "Linkedid") for p in prefixes)
    return tuple(dict.fromkeys(CallId(c) for c in found if c))


def _blind_transfer(f: _Fields) -> CallTransferred | None:
    if f["Result"] != "Success":
        return None
    transferee, transferee_call = _opt_channel(f, "Transferee")
    return CallTransferred(
        "blind",
        transferee,
        transferee_call,
        None,
        None,
        _calls(f, "Transferer"),
        transferer_name=f.get("TransfererChannel", ""),
        extension=f.get("Extension", ""),
    )


def _attended_transfer(f: _Fields) -> CallTransferred | None:
    if f["Result"] != "Success":
        return None
    transferee, transferee_call = _opt_channel(f, "Transferee")
    target, target_call = _opt_channel(f, "TransferTarget")
    return CallTransferred(
        "attended",
        transferee,
        transferee_call,
        target,
        target_call,
        _calls(f, "OrigTransferer", "SecondTransferer"),
        transferer_name=f.get("OrigTransfererChannel", ""),
        target_name=f.get("TransferTargetChannel", ""),
    )


_HANDLERS: dict[str, Callable[[_Fields], DomainEvent | None]] = {
    "Newchannel": _newchannel,
    "Newstate": _newstate,
    "Hangup": _hangup,
    "VarSet": _varset,
    "UserEvent": _user_event,
    "DialBegin": _dial_begin,
    "DialEnd": _dial_end,
    "QueueCallerJoin": _queue_join,
    "QueueCallerLeave": _queue_leave,
    "QueueCallerAbandon": _queue_abandon,
    "AgentCalled": _agent_called,
    "AgentConnect": _agent_connect,
    "AgentComplete": _agent_complete,
    "AgentRingNoAnswer": _agent_rna,
    "BridgeCreate": _bridge_create,
    "BridgeDestroy": _bridge_destroy,
    "BridgeEnter": _bridge_enter,
    "BridgeLeave": _bridge_leave,
    "QueueMemberStatus": member_from,
    "QueueMemberPause": member_from,
    "QueueMemberAdded": member_from,
    "QueueMemberRemoved": _member_removed,
    "OriginateResponse": _originate_response,
    "BlindTransfer": _blind_transfer,
    "AttendedTransfer": _attended_transfer,
}

HANDLED_EVENTS: frozenset[str] = frozenset(_HANDLERS)


def from_ami(event: Event) -> DomainEvent | None:
    """The domain event for an AMI event, or None (irrelevant or malformed)."""
    handler = _HANDLERS.get(event.name)
    if handler is None:
        return None
    try:
        return handler(event.fields)
    except KeyError:
        STATS.malformed[event.name] = STATS.malformed.get(event.name, 0) + 1
        return None
