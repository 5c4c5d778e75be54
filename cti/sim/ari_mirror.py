"""The ARI events a real Asterisk publishes alongside its AMI events.

Strategy: in ari_stasis_ivr.jsonl every AMI event about a channel, bridge or
device has exactly one ARI counterpart, in the same order per party
(Newchannel -> ChannelCreated, VarSet -> ChannelVarset, Newexten ->
ChannelDialplan, DialBegin/DialState/DialEnd -> Dial, ...): both are renderings
of the same Stasis message. So the fake's ARI stream is derived from the AMI
frames it has just written, by this pure translator, plus the events only ARI
has (StasisStart/End, Playback*), which the ARI server asks for. The
translator keeps what AMI frames leave out: when a channel was created, its
current dialplan application, its protocol id, the members of each bridge,
which channels are in which Stasis application.

BlindTransfer / AttendedTransfer become BridgeBlindTransfer /
BridgeAttendedTransfer (no recording: the fields of the ARI data models,
from the same snapshots).

Out of scope of the recording, so approximations: `protocol_id` is a stable
id per channel rather than the SIP Call-ID; a channel first seen mid-call
(the ARI client connected late) gets the current time as its creation time.

Output: `AriMessage`, the event body without ``application`` (the server adds
it per subscribed application) and the Stasis apps it concerns.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cti.sim.steps import Fields

__all__ = [
    "ASTERISK_ID",
    "AriMessage",
    "AriMirror",
    "ari_timestamp",
    "channel_json",
    "parse_frame",
]

ASTERISK_ID = "02:fc:00:00:00:01"  # the recording's entity id

Json = dict[str, object]


@dataclass(frozen=True, slots=True)
class AriMessage:
    body: Json  # the event, without "application"
    apps: frozenset[str] = frozenset()  # Stasis apps it concerns (sent without subscribeAll)


@dataclass(slots=True)
class _Chan:
    created: str
    protocol_id: str = ""
    app_name: str = ""
    app_data: str = ""
    soft_hangup: bool = False


@dataclass(slots=True)
class _Bridge:
    created: str
    channels: list[str] = field(default_factory=list)


def ari_timestamp(wall: float) -> str:
    """ARI's timestamp format: ``2026-11-28T10:12:00.672+0000``."""
    stamp = dt.datetime.fromtimestamp(wall, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def parse_frame(raw: bytes) -> tuple[str, Fields]:
    """An AMI event frame as (name, ordered headers); duplicate keys kept."""
    lines = raw.decode("utf-8", "replace").split("\r\n")
    name = lines[0].removeprefix("Event: ") if lines[0].startswith("Event: ") else ""
    pairs = []
    for line in lines[1:]:
        key, sep, value = line.partition(": ")
        if sep:
            pairs.append((key, value))
        elif line.endswith(":"):
            pairs.append((line[:-1], ""))
    return name, tuple(pairs)


def _pick(fields: Fields, prefix: str = "") -> dict[str, str]:
    """The first value of each key, keys with `prefix` (e.g. "Dest") stripped."""
    out: dict[str, str] = {}
    for k, v in fields:
        if k.startswith(prefix):
            out.setdefault(k[len(prefix) :], v)
    return out


def _clean(value: str) -> str:
    return "" if value == "<unknown>" else value


def channel_json(
    f: dict[str, str], created: str, protocol_id: str, app_name: str, app_data: str
) -> Json:
    """An ARI Channel object from AMI snapshot headers (the trace's key order)."""
    return {
        "id": f.get("Uniqueid", ""),
        "name": f.get("Channel", ""),
        "state": f.get("ChannelStateDesc", ""),
        "protocol_id": protocol_id,
        "caller": {
            "name": _clean(f.get("CallerIDName", "")),
            "number": _clean(f.get("CallerIDNum", "")),
        },
        "connected": {
            "name": _clean(f.get("ConnectedLineName", "")),
            "number": _clean(f.get("ConnectedLineNum", "")),
        },
        "accountcode": f.get("AccountCode", ""),
        "dialplan": {
            "context": f.get("Context", ""),
            "exten": f.get("Exten", ""),
            "priority": int(f.get("Priority") or 0),
            "app_name": app_name,
            "app_data": app_data,
        },
        "creationtime": created,
        "language": f.get("Language", "en"),
    }


_Handler = Callable[["AriMirror", str, Fields, str], list[AriMessage]]


class AriMirror:
    """Feed it AMI frames in the order they were written; get the ARI events."""

    def __init__(self, asterisk_id: str = ASTERISK_ID) -> None:
        self.asterisk_id = asterisk_id
        self.in_stasis: dict[str, str] = {}  # channel name -> application
        self._chans: dict[str, _Chan] = {}
        self._bridges: dict[str, _Bridge] = {}
        self._dialstrings: dict[tuple[str, str], str] = {}

    # -- snapshots -------------------------------------------------------------

    def _chan(self, name: str, ts: str) -> _Chan:
        chan = self._chans.get(name)
        if chan is None:
            chan = self._chans[name] = _Chan(ts, _protocol_id(name))
        return chan

    def channel(self, f: dict[str, str], ts: str) -> Json:
        chan = self._chan(f.get("Channel", ""), ts)
        return channel_json(f, chan.created, chan.protocol_id, chan.app_name, chan.app_data)

    def channel_from(self, fields: Fields, ts: str, *, app: tuple[str, str] | None = None) -> Json:
        """A channel object from an event's snapshot; `app` overrides the tracked one."""
        f = _pick(fields)
        if app is None:
            return self.channel(f, ts)
        chan = self._chan(f.get("Channel", ""), ts)
        return channel_json(f, chan.created, chan.protocol_id, *app)

    def _msg(self, body: Json, *channels: str) -> AriMessage:
        body["asterisk_id"] = self.asterisk_id
        apps = frozenset(self.in_stasis[c] for c in channels if c in self.in_stasis)
        return AriMessage(body, apps)

    # -- AMI -> ARI --------------------------------------------------------------

    def feed(self, raw: bytes, wall: float) -> list[AriMessage]:
        name, fields = parse_frame(raw)
        handler = _HANDLERS.get(name)
        if handler is None:
            return []
        return handler(self, name, fields, ari_timestamp(wall))

    def _simple(self, kind: str, fields: Fields, ts: str, **extra: object) -> list[AriMessage]:
        f = _pick(fields)
        body: Json = {**extra, "type": kind, "timestamp": ts, "channel": self.channel(f, ts)}
        return [self._msg(body, f.get("Channel", ""))]

    def _newchannel(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f = _pick(fields)
        self._chans[f["Channel"]] = _Chan(ts)  # protocol id: set once the leg is up
        out = self._simple("ChannelCreated", fields, ts)
        self._chans[f["Channel"]].protocol_id = _protocol_id(f["Channel"])
        return out

    def _varset(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f = _pick(fields)
        return self._simple(
            "ChannelVarset", fields, ts, variable=f.get("Variable", ""), value=f.get("Value", "")
        )

    def _newexten(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f = _pick(fields)
        chan = self._chan(f.get("Channel", ""), ts)
        chan.app_name, chan.app_data = f.get("Application", ""), f.get("AppData", "")
        body: Json = {
            "type": "ChannelDialplan",
            "timestamp": ts,
            "dialplan_app": chan.app_name,
            "dialplan_app_data": chan.app_data,
            "channel": self.channel(f, ts),
        }
        return [self._msg(body, f.get("Channel", ""))]

    def _state(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        return self._simple("ChannelStateChange", fields, ts)

    def _connected(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        return self._simple("ChannelConnectedLine", fields, ts)

    def _callerid(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        pres = _pick(fields).get("CID-CallingPres", "0")
        number, _, text = pres.partition(" ")
        return self._simple(
            "ChannelCallerId",
            fields,
            ts,
            caller_presentation=int(number or 0),
            caller_presentation_txt=text.strip("()"),
        )

    def _hold(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f = _pick(fields)
        extra: dict[str, object] = {}
        if name == "Hold" and f.get("MusicClass"):
            extra["musicclass"] = f["MusicClass"]
        return self._simple(
            "ChannelHold" if name == "Hold" else "ChannelUnhold", fields, ts, **extra
        )

    def _dtmf(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f = _pick(fields)
        if f.get("Direction") != "Received":
            return []
        return self._simple(
            "ChannelDtmfReceived",
            fields,
            ts,
            digit=f.get("Digit", ""),
            duration_ms=int(f.get("DurationMs") or 0),
        )

    def _userevent(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        keys = [k for k, _ in fields]
        after = keys.index("Linkedid") + 1 if "Linkedid" in keys else 1
        user = dict(fields[after:])
        eventname = user.pop("UserEvent", "")
        return self._simple(
            "ChannelUserevent",
            fields,
            ts,
            eventname=eventname,
            userevent={"eventname": eventname, **user},
        )

    def _dial(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f, dest = _pick(fields), _pick(fields, "Dest")
        caller, peer = f.get("Channel", ""), dest.get("Channel", "")
        if name == "DialBegin":
            self._dialstrings[(caller, peer)] = f.get("DialString", "")
        elif name == "DialState":
            callee = self._chan(peer, ts)
            if not callee.app_name and self._chan(caller, ts).app_name == "Queue":
                # app_queue names the member leg's application when it rings;
                # its AMI Newexten only follows (ari_stasis_ivr.jsonl).
                callee.app_name, callee.app_data = "AppQueue", "(Outgoing Line)"
        dialstring = self._dialstrings.get((caller, peer), "")
        if name == "DialEnd":
            self._dialstrings.pop((caller, peer), None)
        body: Json = {
            "type": "Dial",
            "timestamp": ts,
            "dialstatus": f.get("DialStatus", ""),
            "forward": f.get("Forward", ""),
            "dialstring": dialstring,
        }
        if caller:
            body["caller"] = self.channel(f, ts)
        body["peer"] = self.channel(dest, ts)
        return [self._msg(body, caller, peer)]

    def _bridge_json(self, f: dict[str, str], ts: str) -> Json:
        bid = f.get("BridgeUniqueid", "")
        bridge = self._bridges.get(bid)
        if bridge is None:
            bridge = self._bridges[bid] = _Bridge(ts)
        return {
            "id": bid,
            "technology": f.get("BridgeTechnology", ""),
            "bridge_type": "mixing",  # AMI leaves out capabilities; basic bridges mix
            "bridge_class": f.get("BridgeType", ""),
            "creator": _clean(f.get("BridgeCreator", "")),
            "name": _clean(f.get("BridgeName", "")),
            "channels": list(bridge.channels),
            "creationtime": bridge.created,
            "video_mode": f.get("BridgeVideoSourceMode", "none"),
        }

    def _bridge(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f = _pick(fields)
        bid, chan, uid = f.get("BridgeUniqueid", ""), f.get("Channel", ""), f.get("Uniqueid", "")
        if name == "BridgeCreate":
            self._bridges[bid] = _Bridge(ts)
            body: Json = {
                "type": "BridgeCreated",
                "timestamp": ts,
                "bridge": self._bridge_json(f, ts),
            }
            return [self._msg(body)]
        if name == "BridgeDestroy":
            body = {"type": "BridgeDestroyed", "timestamp": ts, "bridge": self._bridge_json(f, ts)}
            self._bridges.pop(bid, None)
            return [self._msg(body)]
        bridge = self._bridges.setdefault(bid, _Bridge(ts))
        if name == "BridgeEnter":
            bridge.channels.append(uid)
            kind = "ChannelEnteredBridge"
        else:
            if uid in bridge.channels:
                bridge.channels.remove(uid)
            kind = "ChannelLeftBridge"
        body = {
            "type": kind,
            "timestamp": ts,
            "bridge": self._bridge_json(f, ts),
            "channel": self.channel(f, ts),
        }
        return [self._msg(body, chan)]

    def _blind_transfer(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        """BridgeBlindTransfer, the ARI rendering of the same Stasis message."""
        f = _pick(fields)
        transferer, transferee = _pick(fields, "Transferer"), _pick(fields, "Transferee")
        body: Json = {
            "type": "BridgeBlindTransfer",
            "timestamp": ts,
            "channel": self.channel(transferer, ts),
        }
        if transferee.get("Channel"):
            body["transferee"] = self.channel(transferee, ts)
        body.update(
            exten=f.get("Extension", ""),
            context=f.get("Context", ""),
            result=f.get("Result", ""),
            is_external=f.get("IsExternal") == "Yes",
        )
        if f.get("BridgeUniqueid"):
            body["bridge"] = self._bridge_json(f, ts)
        names = (transferer.get("Channel", ""), transferee.get("Channel", ""))
        return [self._msg(body, *names)]

    def _attended_transfer(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        """BridgeAttendedTransfer (destination types Bridge and App are rendered)."""
        f = _pick(fields)
        first, second = _pick(fields, "OrigTransferer"), _pick(fields, "SecondTransferer")
        body: Json = {
            "type": "BridgeAttendedTransfer",
            "timestamp": ts,
            "transferer_first_leg": self.channel(first, ts),
            "transferer_second_leg": self.channel(second, ts),
        }
        names = [first.get("Channel", ""), second.get("Channel", "")]
        for prefix, key in (("Transferee", "transferee"), ("TransferTarget", "transfer_target")):
            party = _pick(fields, prefix)
            if party.get("Channel"):
                body[key] = self.channel(party, ts)
                names.append(party["Channel"])
        body.update(result=f.get("Result", ""), is_external=f.get("IsExternal") == "Yes")
        for prefix, key in (
            ("Orig", "transferer_first_leg_bridge"),
            ("Second", "transferer_second_leg_bridge"),
        ):
            bridge = _pick(fields, prefix)
            if bridge.get("BridgeUniqueid"):
                body[key] = self._bridge_json(bridge, ts)
        dest = f.get("DestType", "")
        body["destination_type"] = _ARI_DEST_TYPES.get(dest, dest.lower())
        if f.get("DestBridgeUniqueid"):
            body["destination_bridge"] = f["DestBridgeUniqueid"]
        if f.get("DestApp"):
            body["destination_application"] = f["DestApp"]
        return [self._msg(body, *names)]

    def _device(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f = _pick(fields)
        body: Json = {
            "type": "DeviceStateChanged",
            "timestamp": ts,
            "device_state": {"name": f.get("Device", ""), "state": f.get("State", "")},
        }
        return [self._msg(body)]

    def _hangup_request(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f = _pick(fields)
        out = self._leave_stasis(fields, ts)
        extra: dict[str, object] = {}
        if "Cause" in f:
            extra["cause"] = int(f["Cause"] or 0)
        if name == "SoftHangupRequest":
            extra["soft"] = True
            self._chan(f.get("Channel", ""), ts).soft_hangup = True
        return out + self._simple("ChannelHangupRequest", fields, ts, **extra)

    def _hangup(self, name: str, fields: Fields, ts: str) -> list[AriMessage]:
        f = _pick(fields)
        out = self._leave_stasis(fields, ts)
        chan = self._chan(f.get("Channel", ""), ts)
        if chan.soft_hangup:  # its application returned before the channel went
            chan.app_name = chan.app_data = ""
        body: Json = {
            "type": "ChannelDestroyed",
            "timestamp": ts,
            "cause": int(f.get("Cause") or 0),
            "cause_txt": f.get("Cause-txt", ""),
            "channel": self.channel(f, ts),
        }
        out.append(self._msg(body, f.get("Channel", "")))
        self._chans.pop(f.get("Channel", ""), None)
        return out

    # -- ARI-only events -------------------------------------------------------

    def stasis_start(
        self, fields: Fields, app: str, args: Sequence[str], wall: float
    ) -> AriMessage:
        """The channel (its latest AMI snapshot `fields`) enters `app`."""
        ts = ari_timestamp(wall)
        name = _pick(fields).get("Channel", "")
        self.in_stasis[name] = app
        body: Json = {
            "type": "StasisStart",
            "timestamp": ts,
            "args": list(args),
            "channel": self.channel_from(fields, ts),
        }
        return self._msg(body, name)

    def stasis_end(self, fields: Fields, wall: float) -> AriMessage | None:
        out = self._leave_stasis(fields, ari_timestamp(wall))
        return out[0] if out else None

    def _leave_stasis(self, fields: Fields, ts: str) -> list[AriMessage]:
        name = _pick(fields).get("Channel", "")
        app = self.in_stasis.get(name)
        if app is None:
            return []
        body: Json = {
            "type": "StasisEnd",
            "timestamp": ts,
            "channel": self.channel_from(fields, ts),
        }
        msg = self._msg(body, name)
        del self.in_stasis[name]
        return [msg]

    def playback(self, kind: str, playback: Json, app: str, wall: float) -> AriMessage:
        body: Json = {"type": kind, "timestamp": ari_timestamp(wall), "playback": playback}
        body["asterisk_id"] = self.asterisk_id
        return AriMessage(body, frozenset({app}))


# AMI DestType -> ARI destination_type (stasis_bridges.c renders both)
_ARI_DEST_TYPES = {"App": "application", "Bridge": "bridge", "Link": "link", "Threeway": "threeway"}


def _protocol_id(channel: str) -> str:
    if not channel.startswith("PJSIP/"):
        return ""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sip:" + channel))


_HANDLERS: dict[str, _Handler] = {
    "Newchannel": AriMirror._newchannel,
    "VarSet": AriMirror._varset,
    "Newexten": AriMirror._newexten,
    "Newstate": AriMirror._state,
    "NewConnectedLine": AriMirror._connected,
    "NewCallerid": AriMirror._callerid,
    "Hold": AriMirror._hold,
    "Unhold": AriMirror._hold,
    "DTMFEnd": AriMirror._dtmf,
    "UserEvent": AriMirror._userevent,
    "DialBegin": AriMirror._dial,
    "DialState": AriMirror._dial,
    "DialEnd": AriMirror._dial,
    "BridgeCreate": AriMirror._bridge,
    "BridgeEnter": AriMirror._bridge,
    "BridgeLeave": AriMirror._bridge,
    "BridgeDestroy": AriMirror._bridge,
    "DeviceStateChange": AriMirror._device,
    "BlindTransfer": AriMirror._blind_transfer,
    "AttendedTransfer": AriMirror._attended_transfer,
    "HangupRequest": AriMirror._hangup_request,
    "SoftHangupRequest": AriMirror._hangup_request,
    "Hangup": AriMirror._hangup,
}
