"""`cti replay`: run a recorded trace through the live codec and model.

Strategy: the bytes of a trace go through the same `AmiParser`, the same
`ListCollector`, `from_ami` and `Model` as live traffic; only the clock
differs. A JSONL trace (`{"t", "src": "ami", "raw"}` per frame) supplies its
own times; raw AMI wire text (`--format ami`) gets a virtual clock that
advances one millisecond per message, so output is deterministic either way.
ARI lines (`"src": "ari"`) go through the same `decode_event` and `from_ari`
as the live ARI stream; only Stasis membership reaches the model from there
(docs/ownership.md), so they change no published output.

List responses need no registration in a trace: a `Response` with
`EventList: start` opens a list, named from its Message ("Channels will
follow" -> CoreShowChannels) or, failing that, from its first item. Finished
lists are gathered and handed to `Model.apply_snapshot` together once every
resync list is in, or as soon as ordinary traffic resumes.

Queue metrics (cti/metrics) see every output, and after the outputs of each
input a `queue_board` line follows for every queue whose board changed,
computed at the time of that input (the trace's own, or the virtual clock), so
the boards are deterministic too. The metric definitions are the defaults
unless `metrics` is passed.

With no store to name the agents, replay stands in for the agents table with
the interfaces the trace itself names as queue members (QueueMember*,
AgentCalled, QueueStatus), so a direct call to an agent's phone pops as it
would live.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cti.ami.lists import ITEM_EVENTS, RESYNC_ACTIONS, ListCollector, ListResult
from cti.ami.protocol import AmiParser, BadFrame, Event, Message, Response
from cti.ari.errors import AriDecodeError
from cti.ari.events import decode_event
from cti.metrics import QueueMetrics
from cti.model.from_ami import from_ami
from cti.model.from_ari import from_ari
from cti.model.model import Model
from cti.model.outputs import CallEnded, Output

__all__ = ["Replayer", "agent_interfaces", "read_chunks", "read_records", "replay"]

VIRTUAL_STEP = 0.001  # seconds per message on the virtual clock (--format ami)

_LIST_MESSAGES = {
    "channels will follow": "CoreShowChannels",
    "queue status will follow": "QueueStatus",
    "queue summary will follow": "QueueSummary",
    "bridge listing will follow": "BridgeList",
    "device state changes will follow": "DeviceStateList",
}
_UNKNOWN_LIST = "Unknown"
_MEMBER_EVENTS = frozenset(
    {
        "QueueMemberStatus",
        "QueueMemberPause",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "AgentCalled",
    }
)


def _action_for_item(name: str) -> str:
    for action, items in ITEM_EVENTS.items():
        if name in items:
            return action
    return _UNKNOWN_LIST


class Replayer:
    """Pure driver: bytes (with an optional time) in, published outputs out."""

    def __init__(self, model: Model | None = None) -> None:
        self.model = model if model is not None else Model()
        self._parser = AmiParser()
        self._lists = ListCollector()
        self._finished: list[ListResult] = []
        self._clock = 0.0
        self.bad_frames = 0

    def feed(self, data: bytes, at: float | None = None) -> list[Output]:
        out: list[Output] = []
        for msg in self._parser.feed(data):
            if at is None:
                self._clock += VIRTUAL_STEP
                now = round(self._clock, 6)
            else:
                now = at
            self._handle(msg, now, out)
        return out

    def feed_ari(self, text: str | bytes, at: float) -> list[Output]:
        """One ARI event as the WebSocket delivered it (JSON text)."""
        try:
            event = decode_event(text)
        except AriDecodeError:
            self.bad_frames += 1
            return []
        domain = from_ari(event)
        return self.model.apply(domain, at) if domain is not None else []

    def close(self, at: float | None = None) -> list[Output]:
        """End of input: apply lists still gathered."""
        out: list[Output] = []
        self._flush(self._clock if at is None else at, out)
        return out

    def _handle(self, msg: Message, now: float, out: list[Output]) -> None:
        if isinstance(msg, Response) and msg.fields.get("EventList") == "start":
            action = _LIST_MESSAGES.get(msg.message.lower(), _UNKNOWN_LIST)
            self._lists.expect(action, msg.action_id or "")
        claimed, finished = self._lists.feed(msg)
        if finished is not None:
            if finished.action == _UNKNOWN_LIST and finished.items:
                finished = replace(finished, action=_action_for_item(finished.items[0].name))
            self._finished.append(finished)
            done = {r.action for r in self._finished}
            if self._lists.pending == 0 and done.issuperset(RESYNC_ACTIONS):
                self._flush(now, out)
        if claimed:
            return
        if self._finished and self._lists.pending == 0:
            self._flush(now, out)
        if isinstance(msg, Event):
            domain = from_ami(msg)
            if domain is not None:
                out += self.model.apply(domain, now)
        elif isinstance(msg, BadFrame):
            self.bad_frames += 1

    def _flush(self, now: float, out: list[Output]) -> None:
        if self._finished:
            results, self._finished = self._finished, []
            out += self.model.apply_snapshot(results, now)


def read_chunks(path: str | Path, fmt: str = "jsonl") -> Iterator[tuple[float | None, bytes]]:
    """(time, bytes) pieces of a trace: per AMI frame for JSONL, 64 KiB for raw AMI."""
    for at, src, data in read_records(path, fmt):
        if src == "ami":
            yield at, data


def read_records(path: str | Path, fmt: str = "jsonl") -> Iterator[tuple[float | None, str, bytes]]:
    """(time, "ami" | "ari", bytes) pieces of a trace, in arrival order."""
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if not line.strip():
                    continue
                record = json.loads(line)
                src = record.get("src")
                if src == "ami":
                    yield float(record["t"]), "ami", record["raw"].encode("utf-8")
                elif src == "ari":
                    yield float(record["t"]), "ari", json.dumps(record["event"]).encode()
    elif fmt == "ami":
        with open(path, "rb") as wire:
            while chunk := wire.read(65536):
                yield None, "ami", chunk
    else:
        raise ValueError(f"unknown trace format {fmt!r} (jsonl or ami)")


def agent_interfaces(chunks: Iterable[tuple[float | None, bytes]]) -> list[str]:
    """The interfaces a trace names as queue members, in first-seen order."""
    parser = AmiParser()
    seen: dict[str, None] = {}
    for _at, data in chunks:
        for msg in parser.feed(data):
            if not isinstance(msg, Event):
                continue
            if msg.name in _MEMBER_EVENTS:
                interface = msg.fields.get("Interface")
            elif msg.name == "QueueMember":
                interface = msg.fields.get("Location")
            else:
                continue
            if interface:
                seen[interface] = None
    return list(seen)


def _time_of(outputs: Sequence[Output]) -> float:
    last = outputs[-1]
    return last.ended_at if isinstance(last, CallEnded) else last.at


def _with_boards(outputs: Sequence[Output], metrics: QueueMetrics) -> Iterator[dict[str, Any]]:
    """The outputs, each run of outputs of one instant followed by the boards it
    changed (a raw AMI chunk holds many messages; a JSONL record, one)."""
    changed: set[str] = set()
    for i, output in enumerate(outputs):
        yield output.to_json()
        changed |= metrics.apply(output)
        now = _time_of(outputs[i : i + 1])
        if changed and (i + 1 == len(outputs) or _time_of(outputs[i + 1 : i + 2]) != now):
            for queue in sorted(changed):
                yield metrics.board(queue, now).to_json()
            changed = set()


def replay(
    path: str | Path,
    fmt: str = "jsonl",
    *,
    devices: Sequence[str] | None = None,
    metrics: QueueMetrics | None = None,
) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per published output and changed queue board, in
    order, deterministically."""
    if devices is None:
        devices = agent_interfaces(read_chunks(path, fmt))
    runner = Replayer(Model(devices))
    boards = metrics if metrics is not None else QueueMetrics()
    last: float | None = None
    for at, src, data in read_records(path, fmt):
        last = at
        if src == "ari":
            assert at is not None  # ARI records come from JSONL traces, with times
            outputs = runner.feed_ari(data, at)
        else:
            outputs = runner.feed(data, at)
        if outputs:
            yield from _with_boards(outputs, boards)
    closing = runner.close(last)
    if closing:
        yield from _with_boards(closing, boards)
