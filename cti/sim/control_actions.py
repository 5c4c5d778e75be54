"""The fake Asterisk's answers to call-control actions, and the events they cause.

Strategy: pure functions from (the action's headers, the simulator's state) to
the Response frame Asterisk 22 writes and the events that follow it, with the
wording of Asterisk's manager.c / features.c / app_senddtmf.c responses, so the
CTI's error path sees what a real Asterisk says ("No such channel", "Channel
specified does not exist", ...). The events are applied to `SimState` as they
are made, so list actions keep agreeing with the stream.

What is simulated, and how far:
- Redirect (hold): both legs leave their bridge (BridgeLeave, BridgeDestroy
  when it empties) and run the hold contexts (Newexten MusicOnHold / Wait,
  MusicOnHoldStart for the held party).
- Bridge (unhold): BridgeCreate and a BridgeEnter per leg, MusicOnHoldStop.
- PlayDTMF: DTMFBegin / DTMFEnd, Direction Sent, on the named channel.
- BlindTransfer: "Transfer succeeded" and the BlindTransfer event (Result
  Success; its fields are the documented ones, no trace records it) when the
  channel is bridged, "Transfer invalid" otherwise. The server then has the
  traffic engine carry the transfer out when the transferer is the agent leg
  of a generated queue call (cti.sim.transfers): AgentComplete Reason
  transfer, the agent leg hung up, the customer out of the bridge and into
  the dialplan at Context/Exten, which dials PJSIP/<exten> as a new channel
  on the customer's Linkedid; the target answers into a new bridge, and the
  call ends later (or on a Hangup). A missing extension is not refused, as in
  Asterisk: the customer hangs up. Channels of replayed traces or of
  agent-to-agent calls get the event only.
- Atxfer: "Atxfer successfully queued" for a live channel. For a generated
  queue call's agent leg the traffic engine then runs the consultation
  (cti.sim.attended): Local/<exten>@<context> ;1/;2 on the call's Linkedid,
  ;2 dials the target, the agent is moved to a new bridge with ;1 and the
  customer holds. The CTI's completion (Hangup of the agent leg) gives the
  AttendedTransfer event (documented fields, no recording) and bridges the
  customer with the consultation; its cancel (Hangup of ;1) drops the
  consultation and puts the agent back with the customer. A missing
  extension changes nothing (Asterisk plays pbx-invalid to the agent).
- Originate Application=ChanSpy and Hangup are carried out by the traffic
  engine (cti.sim.traffic); this module only checks their headers.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from cti.sim.actions import first
from cti.sim.snapshot import CHANNEL_KEYS
from cti.sim.state import SimState
from cti.sim.steps import Fields, render_frame, render_response

__all__ = ["CONTROL_ACTIONS", "ActionAnswer", "Emitter", "answer_control_action", "channel_headers"]

_BRIDGE_HEADERS = (
    ("BridgeType", "basic"),
    ("BridgeTechnology", "simple_bridge"),
    ("BridgeCreator", "<unknown>"),
    ("BridgeName", "<unknown>"),
)
_DTMF = frozenset("0123456789*#ABCDabcd")
_bridge_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class ActionAnswer:
    response: bytes
    events: tuple[bytes, ...] = ()
    ok: bool = False  # Response: Success


def _error(aid: str | None, message: str) -> ActionAnswer:
    return ActionAnswer(render_response("Error", aid, ("Message", message)))


def _ok(aid: str | None, message: str, events: Iterable[bytes] = ()) -> ActionAnswer:
    return ActionAnswer(
        render_response("Success", aid, ("Message", message)), tuple(events), ok=True
    )


def channel_headers(state: SimState, name: str, prefix: str = "", **override: str) -> Fields:
    """The channel's snapshot headers as its latest event showed them."""
    ch = state.channels[name]
    latest = dict(reversed(ch.fields))  # first occurrence wins
    latest.update(override)
    return tuple((prefix + k, latest.get(k, "")) for k in CHANNEL_KEYS)


class Emitter:
    """Renders events and applies them to the state as it goes."""

    def __init__(self, state: SimState, now: float) -> None:
        self.state, self.now = state, now
        self.frames: list[bytes] = []

    def emit(self, name: str, fields: Fields) -> None:
        self.state.apply(name, fields, self.now)
        self.frames.append(render_frame(name, fields))

    def bridge_fields(self, bridge: str, count: int) -> Fields:
        return (
            ("Privilege", "call,all"),
            ("BridgeUniqueid", bridge),
            *_BRIDGE_HEADERS,
            ("BridgeNumChannels", str(count)),
            ("BridgeVideoSourceMode", "none"),
        )

    def leave_bridge(self, name: str) -> None:
        bridge_id = self.state.channels[name].bridge
        bridge = self.state.bridges.get(bridge_id)
        if not bridge_id or bridge is None:
            return
        left = max(len(bridge.channels) - 1, 0)
        self.emit(
            "BridgeLeave",
            (*self.bridge_fields(bridge_id, left), *channel_headers(self.state, name)),
        )
        if not left:
            self.emit("BridgeDestroy", self.bridge_fields(bridge_id, 0))

    def run_app(self, name: str, context: str, exten: str, app: str, data: str) -> None:
        headers = channel_headers(
            self.state,
            name,
            Context=context,
            Exten=exten,
            Priority="1",
            ChannelState="6",
            ChannelStateDesc="Up",
        )
        self.emit(
            "Newexten",
            (
                ("Privilege", "dialplan,all"),
                *headers,
                ("Extension", exten),
                ("Application", app),
                ("AppData", data),
            ),
        )


def _redirect(
    state: SimState, p: list[tuple[str, str]], aid: str | None, now: float
) -> ActionAnswer:
    name, extra = first(p, "Channel") or "", first(p, "ExtraChannel") or ""
    if not name:
        return _error(aid, "Channel not specified")
    if not (first(p, "Exten") and first(p, "Context")):
        return _error(aid, "Context and Exten must be specified")
    if name not in state.channels:
        return _error(aid, f"Channel does not exist: {name}")
    if extra and extra not in state.channels:
        return _error(aid, f"ExtraChannel does not exist: {extra}")
    out = Emitter(state, now)
    moves = [(name, first(p, "Context") or "", first(p, "Exten") or "")]
    if extra:
        moves.append((extra, first(p, "ExtraContext") or "", first(p, "ExtraExten") or ""))
    for channel, _, _ in moves:
        out.leave_bridge(channel)
    for channel, context, exten in moves:
        if context == "cti-hold":
            out.run_app(channel, context, exten, "MusicOnHold", "default")
            out.emit(
                "MusicOnHoldStart",
                (("Privilege", "call,all"), *channel_headers(state, channel), ("Class", "default")),
            )
        elif context == "cti-hold-agent":
            out.run_app(channel, context, exten, "Wait", "3600")
        else:
            out.run_app(channel, context, exten, "NoOp", "")
    message = "Dual Redirect successful" if extra else "Redirect successful"
    return _ok(aid, message, out.frames)


def _bridge(state: SimState, p: list[tuple[str, str]], aid: str | None, now: float) -> ActionAnswer:
    one, two = first(p, "Channel1") or "", first(p, "Channel2") or ""
    if not one or not two:
        return _error(aid, "Missing channel parameter in request")
    if one not in state.channels:
        return _error(aid, f"Channel1 does not exist: {one}")
    if two not in state.channels:
        return _error(aid, f"Channel2 does not exist: {two}")
    out = Emitter(state, now)
    for name in (one, two):
        out.leave_bridge(name)
    bridge = str(uuid.UUID(int=next(_bridge_ids), version=4))
    out.emit("BridgeCreate", out.bridge_fields(bridge, 0))
    for count, name in enumerate((one, two), start=1):
        app = state.channels[name].application
        if app == "MusicOnHold":
            out.emit("MusicOnHoldStop", (("Privilege", "call,all"), *channel_headers(state, name)))
        out.emit("BridgeEnter", (*out.bridge_fields(bridge, count), *channel_headers(state, name)))
    return _ok(aid, "Channels have been bridged", out.frames)


def _blind_transfer(
    state: SimState, p: list[tuple[str, str]], aid: str | None, now: float
) -> ActionAnswer:
    name, exten = first(p, "Channel") or "", first(p, "Exten") or ""
    if not name:
        return _error(aid, "No channel specified")
    if not exten:
        return _error(aid, "No extension specified")
    if name not in state.channels:
        return _error(aid, "Channel specified does not exist")
    bridge_id = state.channels[name].bridge
    bridge = state.bridges.get(bridge_id)
    peers = [c for c in (bridge.channels if bridge else ()) if c != name and c in state.channels]
    if not peers:
        return _error(aid, "Transfer invalid")
    context = first(p, "Context") or ""
    out = Emitter(state, now)
    out.emit(
        "BlindTransfer",
        (
            ("Privilege", "call,all"),
            ("Result", "Success"),
            *channel_headers(state, name, "Transferer"),
            ("BridgeUniqueid", bridge_id),
            *_BRIDGE_HEADERS,
            ("BridgeNumChannels", str(len(peers) + 1)),
            ("BridgeVideoSourceMode", "none"),
            *channel_headers(state, peers[0], "Transferee"),
            ("IsExternal", "Yes"),
            ("Context", context),
            ("Extension", exten),
        ),
    )
    return _ok(aid, "Transfer succeeded", out.frames)


def _atxfer(state: SimState, p: list[tuple[str, str]], aid: str | None, now: float) -> ActionAnswer:
    name = first(p, "Channel") or ""
    if not name:
        return _error(aid, "No channel specified")
    if not first(p, "Exten"):
        return _error(aid, "No extension specified")
    if name not in state.channels:
        return _error(aid, "Channel specified does not exist")
    return _ok(aid, "Atxfer successfully queued")


def _play_dtmf(
    state: SimState, p: list[tuple[str, str]], aid: str | None, now: float
) -> ActionAnswer:
    name, digit = first(p, "Channel") or "", first(p, "Digit") or ""
    if not name:
        return _error(aid, "Channel not specified")
    if name not in state.channels:
        return _error(aid, "No such channel")
    if not digit:
        return _error(aid, "No digit specified")
    if digit[0] not in _DTMF:
        return _error(aid, "Invalid digit")
    out = Emitter(state, now)
    headers = channel_headers(state, name)
    out.emit(
        "DTMFBegin",
        (("Privilege", "dtmf,all"), *headers, ("Digit", digit[0]), ("Direction", "Sent")),
    )
    out.emit(
        "DTMFEnd",
        (
            ("Privilege", "dtmf,all"),
            *headers,
            ("Digit", digit[0]),
            ("DurationMs", "250"),
            ("Direction", "Sent"),
        ),
    )
    return _ok(aid, "DTMF successfully queued", out.frames)


_HANDLERS = {
    "redirect": _redirect,
    "bridge": _bridge,
    "blindtransfer": _blind_transfer,
    "atxfer": _atxfer,
    "playdtmf": _play_dtmf,
}
CONTROL_ACTIONS = frozenset(_HANDLERS)


def answer_control_action(
    action: str, state: SimState, p: list[tuple[str, str]], aid: str | None, now: float
) -> ActionAnswer:
    """The answer to one of `CONTROL_ACTIONS` (lower-case action name)."""
    return _HANDLERS[action](state, p, aid, now)
