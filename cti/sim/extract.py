"""Derive the fake Asterisk's event templates from the recorded traces.

Strategy: the simulator must emit what a real Asterisk 22 emits, so its call
templates are not written by hand: this build-time tool cuts the real traces
(shared/traces/asterisk-22) into segments (IVR, ring, answer, hangup, ...) and
replaces the identities of the recorded call (channel names, uniqueids,
numbers, names, queue, bridge id, timings) by ``{placeholders}``. Header names,
header order, event order and every other value stay exactly as recorded.
The result is written as Python data to ``cti/sim/_templates.py`` so that the
package works without the traces; ``tests/sim`` re-runs the extraction and
checks the committed file is still in sync.

Some frames only make sense against live state (a member's counters, device
states that Asterisk only reports on change, queue positions); they are
tagged so that ``cti.sim.state`` renders them at emission time:

- ``member:<status>``: one QueueMemberStatus per queue of the member, then the
  ``Queue:<q>_avail`` device states that changed (absorbs the recorded ones);
- ``dev``: a DeviceStateChange of a device, emitted only when it changes;
- ``qdev``: the ``Queue:<q>`` device (RINGING while callers wait);
- ``queue``: Position/Count filled from the live queue;
- ``ccl``: the caller's NewConnectedLine, skipped when the line is unchanged.

RTCPSent/RTCPReceived are dropped: they are timer-driven media reports whose
number depends on call length, not on the call flow.

Run: ``python -m cti.sim.extract TRACE_DIR > cti/sim/_templates.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TFrame", "extract", "main", "render_module"]

Headers = tuple[tuple[str, str], ...]
NOISE = frozenset({"RTCPSent", "RTCPReceived"})


@dataclass(frozen=True, slots=True)
class _Raw:
    t: float
    name: str
    headers: Headers  # without the Event line

    def get(self, key: str) -> str:
        for k, v in self.headers:
            if k == key:
                return v
        return ""


@dataclass(frozen=True, slots=True)
class TFrame:
    """One template frame: seconds from segment start, event, tag, role, headers."""

    dt: float
    name: str
    tag: str
    role: str
    headers: Headers


def _read(path: Path) -> list[_Raw]:
    out: list[_Raw] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj.get("src") != "ami":
                continue
            lines = [x for x in obj["raw"].split("\r\n") if x]
            if not lines or not lines[0].startswith("Event: "):
                continue
            pairs = tuple(
                (k, v[1:] if v.startswith(" ") else v)
                for k, _, v in (x.partition(":") for x in lines[1:])
            )
            name = lines[0][len("Event: ") :]
            if name in NOISE:
                continue
            out.append(_Raw(float(obj["t"]), name, pairs))
    return out


def _esc(value: str) -> str:
    return value.replace("{", "{{").replace("}", "}}")


# Timing values computed by the builder, keyed by (event, header) or VarSet name.
_TIMING_HEADERS: dict[tuple[str, str], str] = {
    ("AgentConnect", "HoldTime"): "{hold}",
    ("AgentConnect", "RingTime"): "{ring}",
    ("AgentComplete", "HoldTime"): "{hold}",
    ("AgentComplete", "TalkTime"): "{talk}",
    ("AgentRingNoAnswer", "RingTime"): "{ring_ms}",
    ("QueueCallerAbandon", "HoldTime"): "{hold}",
    ("QueueCallerAbandon", "Position"): "{position}",
    ("QueueCallerAbandon", "OriginalPosition"): "{orig_position}",
    ("QueueCallerJoin", "Position"): "{position}",
    ("QueueCallerJoin", "Count"): "{count}",
    ("QueueCallerLeave", "Position"): "{position}",
    ("QueueCallerLeave", "Count"): "{count}",
    ("OriginateResponse", "ActionID"): "{action_id}",
}
_TIMING_VARS: dict[str, str] = {
    "QUEUEWAIT": "{hold}",
    "QUEUEWAIT_MS": "{hold_ms}",
    "ANSWEREDTIME": "{talk}",
    "ANSWEREDTIME_MS": "{talk_ms}",
    "DIALEDTIME": "{dialed}",
    "DIALEDTIME_MS": "{dialed_ms}",
    "RINGTIME": "{ring}",
    "RINGTIME_MS": "{ring_ms}",
    "QUEUEPOSITION": "{position}",
}
_SUBSTRING_KEYS = frozenset({"AppData", "Value", "DialString"})
_QUEUE_TAGGED = frozenset({"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon"})


@dataclass(frozen=True, slots=True)
class _Spec:
    """How to turn one recorded call into a template."""

    table: dict[str, str]  # literal value -> placeholder name
    roles: dict[str, str]  # channel name or interface -> role letter
    caller_channel: str = ""  # its ConnectedLine* headers become {c_cl_*}


def _subst(spec: _Spec, frame: _Raw, key: str, value: str, digit_ph: str) -> str:
    timing = _TIMING_HEADERS.get((frame.name, key))
    if timing is not None:
        return timing
    if frame.name == "VarSet" and key == "Value":
        var = frame.get("Variable")
        if var in _TIMING_VARS and value != "":
            return _TIMING_VARS[var]
        if var == "CTI_MENU":
            return "{menu}"
        if var.startswith("RTPAUDIOQOS"):
            return _esc(value)
        if var == "CTI_ORIGIN":
            return "{var_value}"
    if frame.name == "VarSet" and key == "Variable" and value == "CTI_ORIGIN":
        return "{var_name}"
    if key == "Choice":
        return "{menu}"
    if key == "Digit":
        return digit_ph
    if (
        spec.caller_channel
        and frame.get("Channel") == spec.caller_channel
        and key in ("ConnectedLineNum", "ConnectedLineName")
    ):
        return "{c_cl_num}" if key == "ConnectedLineNum" else "{c_cl_name}"
    if value in spec.table:
        return "{" + spec.table[value] + "}"
    out = _esc(value)
    if key in _SUBSTRING_KEYS and value:
        for lit in sorted(spec.table, key=len, reverse=True):
            if lit and lit in out:
                out = out.replace(lit, "{" + spec.table[lit] + "}")
        out = out.replace("Choice: 1,", "Choice: {menu},")
    return out


def _role(spec: _Spec, frame: _Raw) -> str:
    for key in ("Channel", "Interface", "Device"):
        value = frame.get(key)
        if value in spec.roles:
            return spec.roles[value]
    return ""


def _templatise(spec: _Spec, frames: list[_Raw], digit_ph: str = "{menu}") -> list[TFrame]:
    """Substitute identities and tag the state-dependent frames."""
    out: list[TFrame] = []
    if not frames:
        return out
    t0 = frames[0].t
    i = 0
    while i < len(frames):
        f = frames[i]
        dt = round(f.t - t0, 4)
        role = _role(spec, f)
        if f.name == "QueueMemberStatus":
            iface = f.get("Interface")
            status = f.get("Status")
            j = i + 1
            while (
                j < len(frames)
                and frames[j].name == "QueueMemberStatus"
                and (frames[j].get("Interface") == iface)
            ):
                j += 1
            while (
                j < len(frames)
                and frames[j].name == "DeviceStateChange"
                and frames[j].get("Device").endswith("_avail")
            ):
                j += 1
            headers = tuple((k, _subst(spec, f, k, v, digit_ph)) for k, v in f.headers)
            out.append(TFrame(dt, f.name, f"member:{status}", spec.roles.get(iface, ""), headers))
            i = j
            continue
        if f.name == "DeviceStateChange":
            device = f.get("Device")
            i += 1
            if device.endswith("_avail"):
                continue  # emitted by the member step that changes availability
            headers = tuple((k, _subst(spec, f, k, v, digit_ph)) for k, v in f.headers)
            tag = "qdev" if device.startswith("Queue:") else "dev"
            out.append(TFrame(dt, f.name, tag, role, headers))
            continue
        headers = tuple((k, _subst(spec, f, k, v, digit_ph)) for k, v in f.headers)
        tag = ""
        if f.name in _QUEUE_TAGGED or (f.name == "VarSet" and f.get("Variable") == "QUEUEPOSITION"):
            tag = "queue"
        elif f.name == "NewConnectedLine" and f.get("Channel") == spec.caller_channel:
            tag = "ccl"
        out.append(TFrame(dt, f.name, tag, role, headers))
        i += 1
    return out


def _index(frames: list[_Raw], pred: Callable[[_Raw], bool], start: int = 0) -> int:
    for i in range(start, len(frames)):
        if pred(frames[i]):
            return i
    raise ValueError("template anchor not found in trace")


def _is(name: str, **want: str) -> Callable[[_Raw], bool]:
    def pred(f: _Raw) -> bool:
        return f.name == name and all(f.get(k) == v for k, v in want.items())

    return pred


def _queue_spec(frames: list[_Raw], agent_chan: str) -> _Spec:
    first = frames[_index(frames, _is("Newchannel"))]
    c_chan, c_uid = first.get("Channel"), first.get("Uniqueid")
    agent = frames[_index(frames, _is("Newchannel", Channel=agent_chan))]
    a_uid = agent.get("Uniqueid")
    a_num, a_name = agent.get("CallerIDNum"), agent.get("CallerIDName")
    a_iface = agent_chan.rsplit("-", 1)[0]
    table = {
        c_chan: "c_chan",
        c_uid: "c_uid",
        first.get("CallerIDNum"): "c_num",
        first.get("CallerIDName"): "c_name",
        first.get("Exten"): "dnis",
        agent_chan: "a_chan",
        a_uid: "a_uid",
        a_num: "a_num",
        a_name: "a_name",
        a_iface: "a_iface",
        c_chan.rsplit("-", 1)[0]: "trunk",
        "support": "queue",
        "Queue:support": "queue_device",
    }
    for f in frames:
        if f.name == "BridgeCreate":
            table[f.get("BridgeUniqueid")] = "bridge"
        if f.name == "VarSet" and f.get("Variable") == "CTI_ACCOUNT":
            table[f.get("Value")] = "account"
        if f.name == "VarSet" and f.get("Variable") == "BRIDGEPVTCALLID" and f.get("Value"):
            role = "c" if f.get("Channel") == c_chan else "a"
            if f.get("Channel") in (c_chan, agent_chan):
                table[f.get("Value")] = f"{role}_callid"
    return _Spec(table, {c_chan: "c", agent_chan: "a", a_iface: "a", "PJSIP/pstn": "c"}, c_chan)


def _queue_answered(frames: list[_Raw]) -> dict[str, list[TFrame]]:
    agent_new = _index(frames, lambda f: f.name == "Newchannel" and "pstn" not in f.get("Channel"))
    agent_chan = frames[agent_new].get("Channel")
    spec = _queue_spec(frames, agent_chan)
    read_acct = _index(frames, lambda f: f.get("AppData").startswith("CTI_ACCOUNT,"))
    first_digit = _index(frames, _is("DTMFBegin"), read_acct)
    acct_set = _index(frames, _is("VarSet", Variable="CTI_ACCOUNT"))
    join = _index(frames, _is("QueueCallerJoin"))
    answer = _index(frames, _is("Newstate", Channel=agent_chan, ChannelStateDesc="Up"))
    hangup = _index(frames, lambda f: f.get("Variable") == "RTPAUDIOQOS", answer)
    last_answer = hangup - 1
    start = _index(frames, _is("Newchannel"))
    return {
        "ivr_a": _templatise(spec, frames[start:first_digit]),
        "ivr_digit": _templatise(spec, frames[first_digit : first_digit + 2], "{digit}"),
        "ivr_b": _templatise(spec, frames[acct_set : join + 1]),
        "ring": _templatise(spec, frames[agent_new:answer]),
        "answer": _templatise(spec, frames[answer : last_answer + 1]),
        "hangup_caller": _templatise(spec, frames[hangup:]),
    }


def _ring_no_answer(frames: list[_Raw]) -> dict[str, list[TFrame]]:
    rna = _index(frames, _is("AgentRingNoAnswer"))
    agent_chan = frames[rna].get("DestChannel")
    spec = _queue_spec(frames, agent_chan)
    end = _index(frames, _is("DeviceStateChange", State="NOT_INUSE"), rna)
    return {"noanswer": _templatise(spec, frames[rna : end + 1])}


def _abandon(frames: list[_Raw]) -> dict[str, list[TFrame]]:
    agent_new = _index(frames, lambda f: f.name == "Newchannel" and "pstn" not in f.get("Channel"))
    spec = _queue_spec(frames, frames[agent_new].get("Channel"))
    start = _index(frames, lambda f: f.get("Variable") == "RTPAUDIOQOS", agent_new)
    return {"abandon": _templatise(spec, frames[start:])}


def _internal(frames: list[_Raw]) -> dict[str, list[TFrame]]:
    new_a = _index(frames, _is("Newchannel"))
    a = frames[new_a]
    new_b = _index(frames, _is("Newchannel"), new_a + 1)
    b = frames[new_b]
    a_chan, b_chan = a.get("Channel"), b.get("Channel")
    table = {
        a_chan: "a_chan",
        a.get("Uniqueid"): "a_uid",
        a.get("CallerIDNum"): "a_num",
        a.get("CallerIDName"): "a_name",
        a_chan.rsplit("-", 1)[0]: "a_iface",
        b_chan: "b_chan",
        b.get("Uniqueid"): "b_uid",
        b.get("CallerIDNum"): "b_num",
        b.get("CallerIDName"): "b_name",
        b_chan.rsplit("-", 1)[0]: "b_iface",
    }
    for f in frames:
        if f.name == "BridgeCreate":
            table[f.get("BridgeUniqueid")] = "bridge"
        if f.name == "VarSet" and f.get("Variable") == "BRIDGEPVTCALLID" and f.get("Value"):
            table[f.get("Value")] = "a_callid" if f.get("Channel") == a_chan else "b_callid"
    roles = {a_chan: "a", b_chan: "b", table_key(a_chan): "a", table_key(b_chan): "b"}
    spec = _Spec(table, roles)
    answer = _index(frames, _is("Newstate", Channel=b_chan, ChannelStateDesc="Up"))
    hangup = _index(frames, lambda f: f.get("Variable") == "RTPAUDIOQOS", answer)
    return {
        "internal_dial": _templatise(spec, frames[new_a:answer]),
        "internal_answer": _templatise(spec, frames[answer:hangup]),
        "internal_hangup": _templatise(spec, frames[hangup:]),
    }


def table_key(channel: str) -> str:
    """The device (interface) of a channel name: "PJSIP/1001-0000000a" -> "PJSIP/1001"."""
    return channel.rsplit("-", 1)[0]


def _click_to_dial(frames: list[_Raw]) -> dict[str, list[TFrame]]:
    new_a = _index(frames, _is("Newchannel"))
    a = frames[new_a]
    a_chan = a.get("Channel")
    resp = _index(frames, _is("OriginateResponse"))
    exten = frames[resp].get("Exten")
    table = {
        a_chan: "a_chan",
        a.get("Uniqueid"): "a_uid",
        a.get("CallerIDNum"): "a_num",
        a.get("CallerIDName"): "a_name",
        table_key(a_chan): "a_iface",
        exten: "exten",
        exten[1:]: "dest",
    }
    spec = _Spec(table, {a_chan: "a", table_key(a_chan): "a"})
    hangup = _index(frames, _is("Newexten", Application="Hangup"), resp)
    return {
        "originate": _templatise(spec, frames[new_a : resp + 1]),
        "originate_hangup": _templatise(spec, frames[hangup:]),
    }


def _agent_hangup(caller_hangup: list[TFrame]) -> list[TFrame]:
    """The agent hangs up first: QA's frames in the order load_bulk.jsonl shows.

    No recorded PJSIP trace has an agent-side hangup on a queue call; the bulk
    trace (Local-channel agents) shows the order: the agent's HangupRequest,
    AgentComplete (Reason: agent), the bridge teardown, then the caller.
    """

    def pick(name: str, role: str = "", var: str = "") -> list[TFrame]:
        return [
            f
            for f in caller_hangup
            if f.name == name
            and (not role or f.role == role)
            and (not var or dict(f.headers).get("Variable", "").startswith(var))
        ]

    req = pick("HangupRequest")[0]
    agent_hangup = pick("Hangup", "a")[0]
    agent_snapshot = tuple(h for h in agent_hangup.headers if h[0] not in ("Cause", "Cause-txt"))
    agent_req = TFrame(req.dt, "HangupRequest", "", "a", (*agent_snapshot, ("Cause", "16")))
    complete = pick("AgentComplete")[0]
    complete = TFrame(
        complete.dt,
        complete.name,
        "",
        complete.role,
        tuple((k, "agent" if k == "Reason" else v) for k, v in complete.headers),
    )
    qos = [
        f for f in caller_hangup if dict(f.headers).get("Variable", "").startswith("RTPAUDIOQOS")
    ]
    first_qos = qos[:10]
    late_qos = qos[10:]
    peers = pick("VarSet", "a", "BRIDGEP") + pick("VarSet", "c", "BRIDGEP")
    times = [
        f
        for f in caller_hangup
        if dict(f.headers).get("Variable", "").startswith(("ANSWEREDTIME", "DIALEDTIME"))
    ]
    order = [
        *first_qos,
        agent_req,
        complete,
        *peers,
        *pick("BridgeLeave", "a"),
        *pick("BridgeLeave", "c"),
        *pick("BridgeDestroy"),
        *times,
        *late_qos,
        *pick("SoftHangupRequest"),
        agent_hangup,
        *[
            f
            for f in caller_hangup
            if (f.role == "a" and f.tag in ("dev",)) or f.tag.startswith("member")
        ],
        *pick("Hangup", "c"),
        *[f for f in caller_hangup if f.tag == "dev" and f.role == "c"],
    ]
    return order


def _set_values(frames: list[TFrame], sub: Callable[[TFrame, str, str], str]) -> list[TFrame]:
    return [
        TFrame(f.dt, f.name, f.tag, f.role, tuple((k, sub(f, k, v)) for k, v in f.headers))
        for f in frames
    ]


def _stasis_ivr(frames: list[_Raw]) -> dict[str, list[TFrame]]:
    """The data-dip IVR around Stasis(cti-ivr,lookup), from ari_stasis_ivr.jsonl.

    ``stasis_a``: the call arrives and enters Stasis (up to ``STASISSTATUS=``);
    ``stasis_answer``: the application answers; ``stasis_b``: Stasis returned,
    the dialplan goes on to the queue (``QueueCallerJoin``). What the
    application does in between (variables, playback) is the fake's ARI
    server's, and the queue part reuses the queue_answered segments. The
    customer id and STASISSTATUS outcome become ``{customer}`` and
    ``{stasis_status}``. The recording's caller number and name are both
    ``sipp``, so they are told apart by header.
    """
    agent_new = _index(frames, lambda f: f.name == "Newchannel" and "pstn" not in f.get("Channel"))
    spec = _queue_spec(frames, frames[agent_new].get("Channel"))
    start = _index(frames, _is("Newchannel"))
    entered = _index(frames, _is("VarSet", Variable="STASISSTATUS"))
    answered = _index(frames, _is("Newstate", ChannelStateDesc="Up"))
    customer_set = _index(frames, _is("VarSet", Variable="CTI_CUSTOMER_ID"))
    customer = frames[customer_set].get("Value")
    resumed = customer_set + 1
    join = _index(frames, _is("QueueCallerJoin"))

    def sub(frame: TFrame, key: str, value: str) -> str:
        if key in ("CallerIDNum", "CallerIDName") and value == "{c_name}":
            return "{c_num}" if key == "CallerIDNum" else "{c_name}"
        if frame.name == "UserEvent" and key == "Customer":
            return "{customer}"
        if key == "AppData":
            return value.replace(f"Customer: {customer},", "Customer: {customer},")
        if frame.name == "VarSet" and dict(frame.headers).get("Variable") == "STASISSTATUS":
            return "{stasis_status}" if key == "Value" and value else value
        return value

    return {
        "stasis_a": _set_values(_templatise(spec, frames[start : entered + 1]), sub),
        "stasis_answer": _set_values(_templatise(spec, frames[answered : answered + 2]), sub),
        "stasis_b": _set_values(_templatise(spec, frames[resumed : join + 1]), sub),
    }


def extract(trace_dir: Path) -> dict[str, list[TFrame]]:
    """All segments, by name."""
    segments: dict[str, list[TFrame]] = {}
    segments.update(_queue_answered(_read(trace_dir / "queue_answered.jsonl")))
    segments.update(_ring_no_answer(_read(trace_dir / "queue_ringnoanswer.jsonl")))
    segments.update(_abandon(_read(trace_dir / "queue_abandon.jsonl")))
    segments.update(_internal(_read(trace_dir / "internal_call.jsonl")))
    segments.update(_click_to_dial(_read(trace_dir / "click_to_dial.jsonl")))
    segments["hangup_agent"] = _agent_hangup(segments["hangup_caller"])
    segments.update(_stasis_ivr(_read(trace_dir / "ari_stasis_ivr.jsonl")))
    return segments


def _lines(segments: dict[str, list[TFrame]]) -> Iterator[str]:
    yield '"""GENERATED by `python -m cti.sim.extract TRACE_DIR`: do not edit.'
    yield ""
    yield "Call templates cut from the real Asterisk 22 traces; see cti/sim/extract.py."
    yield '"""'
    yield ""
    yield "# ruff: noqa: E501"
    yield "Frame = tuple[float, str, str, str, tuple[tuple[str, str], ...]]"
    yield "SEGMENTS: dict[str, tuple[Frame, ...]] = {"
    for name, frames in segments.items():
        yield f"    {name!r}: ("
        for f in frames:
            yield f"        ({f.dt!r}, {f.name!r}, {f.tag!r}, {f.role!r}, {f.headers!r}),"
        yield "    ),"
    yield "}"


def render_module(segments: dict[str, list[TFrame]]) -> str:
    return "\n".join(_lines(segments)) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m cti.sim.extract TRACE_DIR", file=sys.stderr)
        return 2
    sys.stdout.write(render_module(extract(Path(args[0]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
