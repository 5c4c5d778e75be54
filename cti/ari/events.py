"""Typed ARI events, decoded from the events WebSocket's JSON text. Pure: no I/O.

Strategy: every event we consume is a frozen msgspec `Struct`, and all of
them form one tagged union on the JSON "type" field. `msgspec` decodes the
text straight into those structs in C (no intermediate dict, no per-field
Python code), which is what lets the intake run well past 100k events/s with
typed events; unknown JSON fields are skipped, so a newer Asterisk that adds
fields decodes unchanged. Field names are ARI's own (Asterisk's
`rest-api/api-docs/events.json`), so the docs there describe them.

The union is closed, ARI is not: Asterisk has more event types than we model
and gains new ones. A "type" outside the union is not an error: the slow path
decodes the text to a dict once more and returns `UnknownEvent(type, raw)`,
so nothing is lost and nothing raises. Only junk raises `AriDecodeError`:
text that is not JSON, not an object, has no string "type", or a known type
whose fields have the wrong shape (a "channel" that is not an object...).

Structs are `gc=False`: they hold only strings, numbers, tuples and dicts
decoded from JSON, which cannot form reference cycles, so the cycle
collector has nothing to find in them and need not track a million of them.
Timestamps stay strings (ISO 8601 as Asterisk sends them); nothing here
needs them as datetimes, and parsing them would cost more than the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from cti.ari.errors import AriDecodeError
from cti.ids import BridgeId, ChannelId

__all__ = [
    "KNOWN_TYPES",
    "ApplicationReplaced",
    "AriEvent",
    "Bridge",
    "BridgeCreated",
    "BridgeDestroyed",
    "CallerId",
    "Channel",
    "ChannelCallerId",
    "ChannelConnectedLine",
    "ChannelCreated",
    "ChannelDestroyed",
    "ChannelDialplan",
    "ChannelDtmfReceived",
    "ChannelEnteredBridge",
    "ChannelHangupRequest",
    "ChannelHold",
    "ChannelLeftBridge",
    "ChannelStateChange",
    "ChannelUnhold",
    "ChannelUserevent",
    "ChannelVarset",
    "DecodeStats",
    "DeviceState",
    "DeviceStateChanged",
    "Dial",
    "DialplanCEP",
    "EventDecoder",
    "KnownEvent",
    "Playback",
    "PlaybackFinished",
    "PlaybackStarted",
    "StasisEnd",
    "StasisStart",
    "UnknownEvent",
    "decode_channel",
    "decode_channels",
    "decode_event",
]


# --- the resources events carry ------------------------------------------


# Subclasses repeat `frozen=True`: msgspec inherits it anyway, but mypy's
# dataclass_transform support does not, and would call them mutable.
class _Resource(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    pass


class CallerId(_Resource, frozen=True):
    name: str = ""
    number: str = ""


class DialplanCEP(_Resource, frozen=True):
    """Where a channel is in the dialplan, and the application it runs."""

    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(_Resource, frozen=True):
    id: ChannelId
    name: str = ""
    state: str = ""  # "Down", "Ring", "Ringing", "Up", ...
    protocol_id: str = ""
    caller: CallerId = CallerId()
    connected: CallerId = CallerId()
    accountcode: str = ""
    dialplan: DialplanCEP = DialplanCEP()
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] | None = None  # only with ari.conf channelvars set


class Bridge(_Resource, frozen=True):
    id: BridgeId
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    creator: str = ""
    name: str = ""
    channels: tuple[ChannelId, ...] = ()
    creationtime: str = ""
    video_mode: str = ""


class Playback(_Resource, frozen=True):
    id: str
    media_uri: str = ""
    target_uri: str = ""
    language: str = ""
    state: str = ""  # "queued", "playing", "done", "failed", ...


class DeviceState(_Resource, frozen=True):
    name: str
    state: str = ""  # "NOT_INUSE", "INUSE", "RINGING", ...


# --- events -------------------------------------------------------------


class _Event(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="type", tag=True):
    """Fields every ARI message has; the tag ("type") is the class name."""

    application: str = ""
    timestamp: str = ""
    asterisk_id: str = ""

    @property
    def type(self) -> str:
        """The ARI "type", as `UnknownEvent.type` has it."""
        return str(self.__struct_config__.tag)


class StasisStart(_Event, frozen=True):
    """A channel entered the application; `args` are Stasis()'s arguments."""

    channel: Channel
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None


class StasisEnd(_Event, frozen=True):
    channel: Channel


class ChannelCreated(_Event, frozen=True):
    channel: Channel


class ChannelDestroyed(_Event, frozen=True):
    channel: Channel
    cause: int = 0
    cause_txt: str = ""


class ChannelStateChange(_Event, frozen=True):
    channel: Channel


class ChannelHangupRequest(_Event, frozen=True):
    channel: Channel
    cause: int | None = None
    soft: bool | None = None


class ChannelDialplan(_Event, frozen=True):
    channel: Channel
    dialplan_app: str = ""
    dialplan_app_data: str = ""


class ChannelVarset(_Event, frozen=True):
    """A variable was set; no `channel` for a global variable."""

    variable: str
    value: str = ""
    channel: Channel | None = None


class ChannelDtmfReceived(_Event, frozen=True):
    channel: Channel
    digit: str = ""
    duration_ms: int = 0


class ChannelCallerId(_Event, frozen=True):
    channel: Channel
    caller_presentation: int = 0
    caller_presentation_txt: str = ""


class ChannelConnectedLine(_Event, frozen=True):
    channel: Channel


class ChannelHold(_Event, frozen=True):
    channel: Channel
    musicclass: str = ""


class ChannelUnhold(_Event, frozen=True):
    channel: Channel


class ChannelUserevent(_Event, frozen=True):
    """A UserEvent; `userevent` holds its headers as Asterisk sent them."""

    eventname: str
    userevent: dict[str, Any] = {}
    channel: Channel | None = None
    bridge: Bridge | None = None


class ChannelEnteredBridge(_Event, frozen=True):
    bridge: Bridge
    channel: Channel


class ChannelLeftBridge(_Event, frozen=True):
    bridge: Bridge
    channel: Channel


class BridgeCreated(_Event, frozen=True):
    bridge: Bridge


class BridgeDestroyed(_Event, frozen=True):
    bridge: Bridge


class Dial(_Event, frozen=True):
    """A dial attempt's progress; `dialstatus` "" at the start, then the outcome."""

    peer: Channel
    caller: Channel | None = None  # absent when the dial has no calling channel
    forwarded: Channel | None = None
    dialstatus: str = ""
    dialstring: str = ""
    forward: str = ""


class PlaybackStarted(_Event, frozen=True):
    playback: Playback


class PlaybackFinished(_Event, frozen=True):
    playback: Playback


class DeviceStateChanged(_Event, frozen=True):
    device_state: DeviceState


class ApplicationReplaced(_Event, frozen=True):
    """Another WebSocket subscribed the same application name; ours stops."""


_KNOWN = (
    StasisStart,
    StasisEnd,
    ChannelCreated,
    ChannelDestroyed,
    ChannelStateChange,
    ChannelHangupRequest,
    ChannelDialplan,
    ChannelVarset,
    ChannelDtmfReceived,
    ChannelCallerId,
    ChannelConnectedLine,
    ChannelHold,
    ChannelUnhold,
    ChannelUserevent,
    ChannelEnteredBridge,
    ChannelLeftBridge,
    BridgeCreated,
    BridgeDestroyed,
    Dial,
    PlaybackStarted,
    PlaybackFinished,
    DeviceStateChanged,
    ApplicationReplaced,
)
KNOWN_TYPES: Final = frozenset(str(cls.__struct_config__.tag) for cls in _KNOWN)


class UnknownEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An ARI event of a type we do not model: its name and the whole message."""

    type: str
    raw: dict[str, Any]
    application: str = ""
    timestamp: str = ""


KnownEvent = (
    StasisStart
    | StasisEnd
    | ChannelCreated
    | ChannelDestroyed
    | ChannelStateChange
    | ChannelHangupRequest
    | ChannelDialplan
    | ChannelVarset
    | ChannelDtmfReceived
    | ChannelCallerId
    | ChannelConnectedLine
    | ChannelHold
    | ChannelUnhold
    | ChannelUserevent
    | ChannelEnteredBridge
    | ChannelLeftBridge
    | BridgeCreated
    | BridgeDestroyed
    | Dial
    | PlaybackStarted
    | PlaybackFinished
    | DeviceStateChanged
    | ApplicationReplaced
)
AriEvent = KnownEvent | UnknownEvent

# One decoder for the whole union: msgspec reads "type" first and then fills
# the one struct it names. Built once; a Decoder is reusable and thread-safe.
_decode_known: Callable[[str | bytes], KnownEvent] = msgspec.json.Decoder(KnownEvent).decode
_decode_any = msgspec.json.Decoder().decode
_decode_channel = msgspec.json.Decoder(Channel).decode
_decode_channel_list = msgspec.json.Decoder(list[Channel]).decode


def _excerpt(text: str | bytes, limit: int = 120) -> str:
    shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return shown if len(shown) <= limit else shown[:limit] + "..."


def decode_event(text: str | bytes) -> AriEvent:
    """The typed event for one WebSocket message; raises `AriDecodeError` on junk."""
    try:
        return _decode_known(text)
    except msgspec.ValidationError as exc:
        return _not_in_union(text, exc)  # valid JSON: an unknown type, or junk
    except msgspec.DecodeError as exc:
        raise AriDecodeError(f"ARI message is not JSON ({exc}): {_excerpt(text)!r}", text) from exc


def _not_in_union(text: str | bytes, exc: msgspec.ValidationError) -> UnknownEvent:
    raw = _decode_any(text)  # cannot fail: the text parsed as JSON a moment ago
    if not isinstance(raw, dict):
        raise AriDecodeError(f"ARI message is not a JSON object: {_excerpt(text)!r}", text) from exc
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise AriDecodeError(f'ARI message has no "type": {_excerpt(text)!r}', text) from exc
    if kind in KNOWN_TYPES:
        raise AriDecodeError(f"bad {kind} event ({exc}): {_excerpt(text)!r}", text) from exc
    app, ts = raw.get("application"), raw.get("timestamp")
    return UnknownEvent(
        type=kind,
        raw=raw,
        application=app if isinstance(app, str) else "",
        timestamp=ts if isinstance(ts, str) else "",
    )


def decode_channel(body: str | bytes) -> Channel:
    """A Channel from a REST answer (e.g. POST /channels/{id}/snoop)."""
    try:
        return _decode_channel(body)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        raise AriDecodeError(f"bad Channel ({exc}): {_excerpt(body)!r}", body) from exc


def decode_channels(body: str | bytes) -> list[Channel]:
    """The Channels of a REST answer (GET /channels)."""
    try:
        return _decode_channel_list(body)
    except msgspec.DecodeError as exc:
        raise AriDecodeError(f"bad Channel list ({exc}): {_excerpt(body)!r}", body) from exc


@dataclass(slots=True)
class DecodeStats:
    """What an `EventDecoder` has seen; the stream exposes it."""

    decoded: int = 0  # typed events of a known type
    unknown: int = 0  # UnknownEvents returned
    errors: int = 0  # AriDecodeErrors raised
    unknown_types: dict[str, int] = field(default_factory=dict)


class EventDecoder:
    """`decode_event` with counters: one per stream."""

    __slots__ = ("stats",)

    def __init__(self) -> None:
        self.stats = DecodeStats()

    def decode(self, text: str | bytes) -> AriEvent:
        try:
            event = decode_event(text)
        except AriDecodeError:
            self.stats.errors += 1
            raise
        if type(event) is UnknownEvent:
            self.stats.unknown += 1
            seen = self.stats.unknown_types
            seen[event.type] = seen.get(event.type, 0) + 1
        else:
            self.stats.decoded += 1
        return event
