"""Parse the resync lists (CoreShowChannels, QueueStatus, BridgeList,
DeviceStateList) into typed records for `Model.apply_snapshot`.

Strategy: the input is a sequence of `ListResult` (cti/ami/lists.py), so the
live client and `cti replay` share it. Each part is None when its list is
missing or failed: the model then leaves that part of its state alone rather
than concluding that, say, every call has ended. Items missing a header the
model needs are skipped and counted, like malformed live events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cti.ami.lists import ListResult
from cti.ids import BridgeId, CallId, ChannelId, QueueName
from cti.model.events import MemberUpdated
from cti.model.from_ami import STATS, member_from

__all__ = ["SnapChannel", "SnapEntry", "SnapshotData", "parse_duration", "parse_snapshot"]


@dataclass(frozen=True, slots=True)
class SnapChannel:
    """One CoreShowChannel item."""

    id: ChannelId
    call: CallId
    name: str
    state: str
    caller_number: str
    caller_name: str
    exten: str
    application: str
    app_data: str
    bridge: BridgeId | None
    duration: float


@dataclass(frozen=True, slots=True)
class SnapEntry:
    """One QueueEntry item: a caller waiting in a queue."""

    queue: QueueName
    channel: ChannelId | None
    channel_name: str
    wait: float


@dataclass(frozen=True, slots=True)
class SnapshotData:
    channels: tuple[SnapChannel, ...] | None
    queues: tuple[QueueName, ...] | None
    members: tuple[MemberUpdated, ...]
    entries: tuple[SnapEntry, ...]
    bridges: tuple[BridgeId, ...] | None
    devices: tuple[tuple[str, str], ...] | None


def parse_duration(text: str) -> float:
    """ "00:01:05" -> 65.0 (CoreShowChannel Duration); bad text -> 0."""
    total = 0.0
    try:
        for part in text.split(":"):
            total = total * 60 + float(part)
    except ValueError:
        return 0.0
    return total


def _skip(name: str) -> None:
    key = f"snapshot:{name}"
    STATS.malformed[key] = STATS.malformed.get(key, 0) + 1


def _channel(f: Mapping[str, str]) -> SnapChannel:
    bridge = f.get("BridgeId") or f.get("BridgedUniqueid") or ""
    return SnapChannel(
        ChannelId(f["Uniqueid"]),
        CallId(f["Linkedid"]),
        f["Channel"],
        f.get("ChannelStateDesc", ""),
        f.get("CallerIDNum", ""),
        f.get("CallerIDName", ""),
        f.get("Exten", ""),
        f.get("Application", ""),
        f.get("ApplicationData", ""),
        BridgeId(bridge) if bridge else None,
        parse_duration(f.get("Duration", "0")),
    )


def _entry(f: Mapping[str, str]) -> SnapEntry:
    uniqueid = f.get("Uniqueid")
    try:
        wait = float(f.get("Wait", "0"))
    except ValueError:
        wait = 0.0
    return SnapEntry(
        QueueName(f["Queue"]),
        ChannelId(uniqueid) if uniqueid else None,
        f.get("Channel", ""),
        wait,
    )


def _usable(result: ListResult) -> bool:
    return result.complete is not None and result.response.status == "Success"


def parse_snapshot(results: Sequence[ListResult]) -> SnapshotData:
    channels: list[SnapChannel] | None = None
    queues: list[QueueName] | None = None
    members: list[MemberUpdated] = []
    entries: list[SnapEntry] = []
    bridges: list[BridgeId] | None = None
    devices: list[tuple[str, str]] | None = None
    for result in results:
        if not _usable(result):
            continue
        action = result.action
        if action == "CoreShowChannels":
            channels = []
            for item in result.items:
                try:
                    channels.append(_channel(item.fields))
                except KeyError:
                    _skip(item.name)
        elif action == "QueueStatus":
            queues = []
            for item in result.items:
                try:
                    if item.name == "QueueParams":
                        queues.append(QueueName(item.fields["Queue"]))
                    elif item.name == "QueueMember":
                        members.append(member_from(item.fields))
                    elif item.name == "QueueEntry":
                        entries.append(_entry(item.fields))
                except KeyError:
                    _skip(item.name)
        elif action == "BridgeList":
            bridges = [
                BridgeId(item.fields["BridgeUniqueid"])
                for item in result.items
                if "BridgeUniqueid" in item.fields
            ]
        elif action == "DeviceStateList":
            devices = [
                (item.fields["Device"], item.fields.get("State", ""))
                for item in result.items
                if "Device" in item.fields
            ]
    return SnapshotData(
        tuple(channels) if channels is not None else None,
        tuple(queues) if queues is not None else None,
        tuple(members),
        tuple(entries),
        tuple(bridges) if bridges is not None else None,
        tuple(devices) if devices is not None else None,
    )
