"""Helpers for the model tests: the recorded traces, and a fake resync snapshot.

`snapshot_of(model, at)` plays Asterisk answering CoreShowChannels,
QueueStatus, BridgeList and DeviceStateList for the state a reference model
holds: what a real Asterisk would report at that instant. It writes the same
item fields as snapshot_mid_call.jsonl.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from trace_paths import TRACES

from cti.ami.lists import ListResult
from cti.ami.protocol import AmiParser, Event, Message, Response
from cti.model.model import Model
from cti.replay import agent_interfaces, read_chunks, replay

ALL_TRACES = sorted(p.stem for p in TRACES.glob("*.jsonl"))


def trace(name: str) -> Path:
    return TRACES / f"{name}.jsonl"


def outputs(name: str) -> list[dict[str, Any]]:
    return list(replay(trace(name)))


def of_type(items: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in items if o["type"] == kind]


def frames(name: str) -> list[tuple[float, Message]]:
    """Every AMI message of a trace with its time."""
    parser = AmiParser()
    out: list[tuple[float, Message]] = []
    for at, data in read_chunks(trace(name)):
        assert at is not None
        out.extend((at, msg) for msg in parser.feed(data))
    return out


def devices(name: str) -> list[str]:
    return agent_interfaces(read_chunks(trace(name)))


def write_wire(name: str, path: Path) -> Path:
    """The raw AMI bytes of a JSONL trace (what `--format ami` reads)."""
    with open(trace(name), encoding="utf-8") as lines, open(path, "wb") as wire:
        for line in lines:
            record = json.loads(line)
            if record["src"] == "ami":
                wire.write(record["raw"].encode("utf-8"))
    return path


def _hms(seconds: float) -> str:
    s = max(int(seconds), 0)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


_STATUS = {"on_call": "2", "ringing": "6", "logged_out": "5"}


def _list(action: str, n: int, message: str, items: list[dict[str, str]]) -> ListResult:
    action_id = f"snap-{n}"
    response = Response(
        "Success", {"ActionID": action_id, "EventList": "start", "Message": message}
    )
    name = {
        "CoreShowChannels": "CoreShowChannel",
        "BridgeList": "BridgeListItem",
        "DeviceStateList": "DeviceStateChange",
    }.get(action, "")
    events = tuple(
        Event(item.pop("Event", name), {**item, "ActionID": action_id}) for item in items
    )
    complete = Event(
        f"{action}Complete",
        {"ActionID": action_id, "EventList": "Complete", "ListItems": str(len(events))},
    )
    return ListResult(action, action_id, response, events, complete)


def snapshot_of(model: Model, at: float) -> list[ListResult]:
    channels: list[dict[str, str]] = []
    bridges: dict[str, None] = {}
    for call in model.calls():
        for ch in call.channels:
            app, data = "Wait", "1"
            if ch.role == "agent":
                app, data = "AppQueue", "(Outgoing Line)"
            elif ch.role == "dialed":
                app, data = "AppDial", "(Outgoing Line)"
            elif ch.role == "caller" and call.queue:
                app, data = "Queue", f"{call.queue},t,,,120"
            if ch.bridge:
                bridges[ch.bridge] = None
            channels.append(
                {
                    "Channel": ch.name,
                    "ChannelStateDesc": ch.state or "Down",
                    "CallerIDNum": ch.caller_number,
                    "CallerIDName": ch.caller_name,
                    "Exten": ch.exten,
                    "Uniqueid": ch.channel,
                    "Linkedid": call.call_id,
                    "Application": app,
                    "ApplicationData": data,
                    "Duration": _hms(at - ch.created_at),
                    "BridgeId": ch.bridge or "",
                }
            )
    queue_items: list[dict[str, str]] = []
    for queue in model.queues():
        queue_items.append({"Event": "QueueParams", "Queue": queue.queue})
        for m in queue.members:
            queue_items.append(
                {
                    "Event": "QueueMember",
                    "Queue": queue.queue,
                    "Name": m.name,
                    "Location": m.interface,
                    "Status": _STATUS.get(m.state, "1"),
                    "Paused": "1" if m.paused else "0",
                    "PausedReason": m.reason,
                }
            )
        for pos, w in enumerate(queue.waiting, 1):
            queue_items.append(
                {
                    "Event": "QueueEntry",
                    "Queue": queue.queue,
                    "Position": str(pos),
                    "Uniqueid": w.channel,
                    "CallerIDNum": w.caller_number,
                    "Wait": str(int(at - w.joined_at)),
                }
            )
    states = [
        {"Device": a.interface, "State": "INUSE" if a.state == "on_call" else "NOT_INUSE"}
        for a in model.agents()
    ]
    return [
        _list("CoreShowChannels", 0, "Channels will follow", channels),
        _list("QueueStatus", 1, "Queue status will follow", queue_items),
        _list(
            "BridgeList", 2, "Bridge listing will follow", [{"BridgeUniqueid": b} for b in bridges]
        ),
        _list("DeviceStateList", 3, "Device State Changes will follow", states),
    ]


def events_of(items: list[tuple[float, Message]]) -> Iterator[tuple[float, Event]]:
    for at, msg in items:
        if isinstance(msg, Event):
            yield at, msg
