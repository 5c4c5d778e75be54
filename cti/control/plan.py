"""Which AMI actions carry out a command on a call, as data.

Strategy: a pure function from (actor, command, call view) to the actions to
send, or a `Refusal` when the call is in no shape for the command. Channel
names come from the live model, never from the user; user values (number,
target, digits) were whitelisted by `commands.py`. The shell (`service.py`)
sends the actions in order and stops at the first error.

Sides of a call, from the acting user's point of view:
- the agent leg: the actor's own channel on the call (an Up one first, then
  the newest); for a supervisor acting on a queue call that is not theirs,
  the channel of the agent who answered it;
- the other party: the oldest channel that is not on the agent's device (the
  caller of a queue call, the dialed number of a click-to-dial, the calling
  agent of an internal call);
- the consultation (attended transfer): a channel on neither side that
  shares the agent leg's bridge (the Local;1 half of an Atxfer), else the
  newest such channel.

Actions, field by field as Asterisk 22 documents them:
- dial: Originate Channel=<phone> Context=cti-originate Exten=<number>
  Priority=1 CallerID Variable=CTI_ORIGIN=click-to-dial Async=true
  (click_to_dial.jsonl is what that produces);
- hangup: Hangup Channel=<agent leg>;
- hold / unhold: see `_hold` and `_unhold`;
- transfer: BlindTransfer Channel=<agent leg> Context=from-agents
  Exten=<target>. Asterisk's BlindTransfer takes the *transferer*: it sends
  every channel bridged with it (the other party) to the destination and
  drops the transferer (manager.c passes Channel to ast_bridge_transfer_blind
  as the transferer);
- attended transfer: Atxfer Channel=<agent leg> Context=from-agents
  Exten=<target>; complete = Hangup of the agent leg (Asterisk then bridges
  the caller with the target); cancel = Hangup of the consultation channel
  (the agent returns to the caller);
- dtmf: one PlayDTMF Channel=<other party> Digit=<d> per digit (the action
  takes a single digit);
- listen / whisper / barge: Originate Channel=<supervisor phone>
  Application=ChanSpy Data=<agent interface>-,q / ,qw / ,qB Async=true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cti.control.authorize import Actor, channels_of, device_of
from cti.control.commands import (
    AttendedTransfer,
    AttendedTransferCancel,
    AttendedTransferComplete,
    Barge,
    CallCommand,
    Dial,
    Hangup,
    Hold,
    Listen,
    SendDtmf,
    Transfer,
    Unhold,
    Whisper,
)
from cti.control.results import Refusal
from cti.model.interfaces import device_key
from cti.model.views import CallView, ChannelView

__all__ = [
    "AGENT_CONTEXT",
    "HOLD_AGENT_CONTEXT",
    "HOLD_CONTEXT",
    "ORIGINATE_CONTEXT",
    "AmiAction",
    "plan",
]

ORIGINATE_CONTEXT: Final = "cti-originate"
HOLD_CONTEXT: Final = "cti-hold"  # exten s: MusicOnHold for the held party
HOLD_AGENT_CONTEXT: Final = "cti-hold-agent"  # exten s: the agent leg waits silently
AGENT_CONTEXT: Final = "from-agents"  # what an agent could dial by hand
_SPY_OPTIONS: Final = {"listen": "q", "whisper": "qw", "barge": "qB"}
_UP: Final = "Up"


@dataclass(frozen=True, slots=True)
class AmiAction:
    name: str
    fields: tuple[tuple[str, str], ...]


def _agent_leg(actor: Actor, call: CallView) -> ChannelView | None:
    own = channels_of(call, actor.interface) if actor.interface else []
    if not own:
        # A supervisor acting on an agent's call: the agent who answered it,
        # else any agent leg that is up.
        if call.answered_by is not None:
            own = channels_of(call, call.answered_by)
        if not own:
            own = [c for c in call.channels if c.interface is not None and c.role != "caller"]
    if not own:
        return None
    up = [c for c in own if c.state == _UP]
    return max(up or own, key=lambda c: c.created_at)


def _others(call: CallView, leg: ChannelView) -> list[ChannelView]:
    mine = device_of(leg)
    return sorted((c for c in call.channels if device_of(c) != mine), key=lambda c: c.created_at)


def _other_party(call: CallView, leg: ChannelView) -> ChannelView | None:
    others = _others(call, leg)
    return others[0] if others else None


def _consultation(call: CallView, leg: ChannelView) -> ChannelView | None:
    rest = _others(call, leg)[1:]  # everything but the original other party
    if not rest:
        return None
    if leg.bridge is not None:
        for c in rest:
            if c.bridge == leg.bridge:
                return c
    return rest[-1]


def _dial(actor: Actor, command: Dial) -> tuple[AmiAction, ...] | Refusal:
    if actor.interface is None:
        return Refusal("invalid", "your account has no phone to dial from")
    number = command.number
    return (
        AmiAction(
            "Originate",
            (
                ("Channel", actor.interface),
                ("Context", ORIGINATE_CONTEXT),
                ("Exten", number),
                ("Priority", "1"),
                # what the agent's phone shows while it rings: who it will call
                ("CallerID", f'"{number}" <{number}>'),
                ("Variable", "CTI_ORIGIN=click-to-dial"),
                ("Async", "true"),
            ),
        ),
    )


def _hold(leg: ChannelView, other: ChannelView) -> tuple[AmiAction, ...]:
    """Hold by moving both legs out of their bridge into the dialplan.

    ARI's hold (POST /channels/{id}/hold) only works on channels inside a
    Stasis application, and queue and dialled calls are not: they are bridged
    by app_queue / app_dial. So one AMI Redirect moves both legs at once
    (ExtraChannel): the other party to `cti-hold` (MusicOnHold) and the agent
    leg to `cti-hold-agent` (Wait), where they stay until `_unhold` bridges
    them again. Neither leg hangs up when the bridge dissolves, because a
    redirected channel gets a dialplan of its own.
    """
    return (
        AmiAction(
            "Redirect",
            (
                ("Channel", other.name),
                ("Context", HOLD_CONTEXT),
                ("Exten", "s"),
                ("Priority", "1"),
                ("ExtraChannel", leg.name),
                ("ExtraContext", HOLD_AGENT_CONTEXT),
                ("ExtraExten", "s"),
                ("ExtraPriority", "1"),
            ),
        ),
    )


def _unhold(leg: ChannelView, other: ChannelView) -> tuple[AmiAction, ...]:
    """Unhold with AMI Bridge: it pulls both legs out of their dialplan
    (MusicOnHold, Wait) into a new bridge. ARI's unhold would not apply for
    the same reason as its hold: these channels are not in Stasis."""
    return (AmiAction("Bridge", (("Channel1", leg.name), ("Channel2", other.name))),)


def _spy(
    actor: Actor, command: Listen | Whisper | Barge, call: CallView
) -> tuple[AmiAction, ...] | Refusal:
    if actor.interface is None:
        return Refusal("invalid", "your account has no phone to listen with")
    target = call.answered_by
    if target is None:
        talking = [c for c in call.channels if c.interface is not None and c.state == _UP]
        target = talking[0].interface if talking else None
    if target is None:
        return Refusal("invalid", f"no agent is talking on call {call.call_id}")
    if device_key(target) == device_key(actor.interface):
        return Refusal("invalid", "you cannot listen to your own call")
    return (
        AmiAction(
            "Originate",
            (
                ("Channel", actor.interface),
                ("Application", "ChanSpy"),
                # ChanSpy matches a channel-name prefix: "PJSIP/1001" alone
                # would also spy on PJSIP/10010's calls; a channel is named
                # "PJSIP/1001-<sequence>", so the dash pins the device.
                ("Data", f"{target}-,{_SPY_OPTIONS[command.command]}"),
                ("CallerID", f'"{command.command}" <{device_key(target).rpartition("/")[2]}>'),
                ("Variable", f"CTI_ORIGIN={command.command}"),
                ("Async", "true"),
            ),
        ),
    )


def plan(
    actor: Actor, command: Dial | CallCommand, call: CallView | None
) -> tuple[AmiAction, ...] | Refusal:
    """The AMI actions for `command` (already authorized), or why there are none."""
    if isinstance(command, Dial):
        return _dial(actor, command)
    if call is None:
        return Refusal("call_gone", f"call {command.call_id} is not (or no longer) live")
    if isinstance(command, Listen | Whisper | Barge):
        return _spy(actor, command, call)
    leg = _agent_leg(actor, call)
    if leg is None:
        return Refusal("invalid", f"no agent leg on call {call.call_id}")
    if isinstance(command, Hangup):
        return (AmiAction("Hangup", (("Channel", leg.name),)),)
    if isinstance(command, AttendedTransferComplete | AttendedTransferCancel):
        consult = _consultation(call, leg)
        if consult is None:
            return Refusal("invalid", f"no attended transfer in progress on call {call.call_id}")
        gone = leg if isinstance(command, AttendedTransferComplete) else consult
        return (AmiAction("Hangup", (("Channel", gone.name),)),)
    if isinstance(command, AttendedTransfer):
        fields = (("Channel", leg.name), ("Exten", command.target), ("Context", AGENT_CONTEXT))
        return (AmiAction("Atxfer", fields),)
    if isinstance(command, Transfer):
        fields = (("Channel", leg.name), ("Context", AGENT_CONTEXT), ("Exten", command.target))
        return (AmiAction("BlindTransfer", fields),)
    other = _other_party(call, leg)
    if other is None:
        return Refusal("invalid", f"call {call.call_id} has no other party")
    if isinstance(command, Hold):
        return _hold(leg, other)
    if isinstance(command, Unhold):
        return _unhold(leg, other)
    if isinstance(command, SendDtmf):
        return tuple(
            AmiAction("PlayDTMF", (("Channel", other.name), ("Digit", digit)))
            for digit in command.digits
        )
    raise AssertionError(f"unplanned command {command!r}")  # pragma: no cover
