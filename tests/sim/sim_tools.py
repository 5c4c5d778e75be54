"""Helpers for the fake Asterisk tests: the recorded traces, and generated streams.

Strategy: the conformance tests compare what the simulator writes with what a
real Asterisk 22 wrote, after both pass through the project's own AMI codec.
Channel and bridge ids differ between runs, so streams are compared per
"party": every channel, bridge, device and queue member is named by the order
in which it first appears.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from trace_paths import TRACES

from cti.ami.protocol import AmiParser, Event
from cti.sim.ami_server import LAB_AGENTS, LAB_QUEUES
from cti.sim.calls import CallFlow
from cti.sim.state import SimState
from cti.sim.traffic import Traffic

# Left out of every comparison: RTCP reports are timer-driven (their number
# depends on call length), and SuccessfulAuth/FullyBooted belong to logins,
# not to calls (the recorder's other connections log in mid-trace).
IGNORED = frozenset({"RTCPSent", "RTCPReceived", "SuccessfulAuth", "FullyBooted"})

# queue_answered.jsonl's caller channel was created at this epoch second.
QA_EPOCH = 1_795_860_134.0


def parse(frames: Iterable[bytes]) -> list[Event]:
    parser = AmiParser()
    parser.feed(b"Asterisk Call Manager/11.0.0\r\n")
    out: list[Event] = []
    for frame in frames:
        for msg in parser.feed(frame):
            assert isinstance(msg, Event), msg
            if msg.name not in IGNORED:
                out.append(msg)
    return out


def real_events(trace: str) -> list[Event]:
    frames: list[bytes] = []
    with (TRACES / trace).open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj["src"] == "ami" and obj["raw"].startswith("Event: "):
                frames.append(obj["raw"].encode())
    return parse(frames)


def lab_traffic(epoch: float = QA_EPOCH) -> Traffic:
    state = SimState(LAB_AGENTS, LAB_QUEUES, epoch=epoch)
    return Traffic(state, LAB_AGENTS, LAB_QUEUES)


def drain(traffic: Traffic, limit: int = 100_000) -> list[bytes]:
    out: list[bytes] = []
    while len(out) < limit:
        frames = traffic.next_frames(64)
        if not frames:
            break
        out += frames
    return out


def generate(flow: CallFlow, traffic: Traffic | None = None) -> list[Event]:
    traffic = traffic or lab_traffic()
    traffic.add_call(flow, 0.0)
    return parse(drain(traffic))


def party_key(event: Event, names: dict[str, str]) -> str:
    """Which party an event is about, as "<kind>#<order of first appearance>"."""
    f = event.fields
    if event.name in ("QueueMemberStatus", "QueueMemberPause"):
        raw, kind = f"{f.get('Queue')}|{f.get('Interface')}", "member"
    elif event.name == "DeviceStateChange":
        raw, kind = f.get("Device", ""), "device"
    elif "Channel" in f:
        raw, kind = f["Channel"], "channel"
    elif "DestChannel" in f:
        raw, kind = f["DestChannel"], "channel"
    elif "BridgeUniqueid" in f:
        raw, kind = f["BridgeUniqueid"], "bridge"
    else:
        raw, kind = "", "other"
    if kind in ("channel", "bridge"):
        if raw not in names:
            names[raw] = f"{kind}#{sum(1 for v in names.values() if v.startswith(kind))}"
        return names[raw]
    return f"{kind}:{raw}" if kind == "device" and not raw.startswith("PJSIP/") else kind


def by_party(events: list[Event]) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Per party, the ordered (event name, header names) it saw."""
    names: dict[str, str] = {}
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for e in events:
        out.setdefault(party_key(e, names), []).append((e.name, tuple(e.fields)))
    return out


def party_orders(events: list[Event]) -> dict[str, tuple[list[str], list[str]]]:
    """Per party: its non-VarSet events in order, and its VarSet variables in order.

    Between two recordings of the same flow (queue_answered vs
    queue_ringnoanswer) a channel's VarSets interleave differently with its
    other events (BRIDGEPEER around AgentComplete), so the two orders are
    compared separately.
    """
    names: dict[str, str] = {}
    out: dict[str, tuple[list[str], list[str]]] = {}
    for e in events:
        events_, variables = out.setdefault(party_key(e, names), ([], []))
        if e.name == "VarSet":
            variables.append(e.fields.get("Variable", ""))
        else:
            events_.append(e.name)
    return out


def header_names(events: list[Event]) -> dict[str, set[tuple[str, ...]]]:
    """For each event name (VarSet per variable), the header-name lists seen."""
    out: dict[str, set[tuple[str, ...]]] = {}
    for e in events:
        key = f"VarSet:{e.fields.get('Variable')}" if e.name == "VarSet" else e.name
        out.setdefault(key, set()).add(tuple(e.fields))
    return out
