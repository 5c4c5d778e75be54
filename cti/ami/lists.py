"""List actions: one Response, N item events, one "...Complete" event.

Strategy: a pure collector fed every parsed message, in order. It is shared by
the live client and by `cti replay`, so a trace and a socket produce the same
`ListResult`s. Asterisk 22 puts the ActionID on every list item it sent us
(snapshot_mid_call.jsonl), but some versions and actions have omitted it, so
an item without ActionID is given to the open list whose action expects that
item name rather than mistaken for a live event.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.ami.protocol import Event, Message, Response

__all__ = ["ITEM_EVENTS", "RESYNC_ACTIONS", "ListCollector", "ListResult"]

# The item event names each list action produces, for items without ActionID.
ITEM_EVENTS: dict[str, frozenset[str]] = {
    "CoreShowChannels": frozenset({"CoreShowChannel"}),
    "QueueStatus": frozenset({"QueueParams", "QueueMember", "QueueEntry"}),
    "QueueSummary": frozenset({"QueueSummary"}),
    "BridgeList": frozenset({"BridgeListItem"}),
    "DeviceStateList": frozenset({"DeviceStateChange"}),
}

# What a CTI sends after every (re)connect to rebuild its state.
RESYNC_ACTIONS: tuple[str, ...] = (
    "CoreShowChannels",
    "QueueStatus",
    "BridgeList",
    "DeviceStateList",
)


@dataclass(frozen=True, slots=True)
class ListResult:
    action: str
    action_id: str
    response: Response
    items: tuple[Event, ...]
    complete: Event | None  # None when the list failed (Response: Error)


@dataclass(slots=True)
class _Open:
    action: str
    action_id: str
    response: Response | None
    items: list[Event]


class ListCollector:
    """Claims the messages that belong to list actions registered with `expect`.

    `feed(msg)` returns (claimed, finished): `claimed` is False for messages the
    caller should treat as ordinary events; `finished` is a completed list.
    """

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}

    def expect(self, action: str, action_id: str) -> None:
        self._open[action_id] = _Open(action, action_id, None, [])

    def forget(self, action_id: str) -> None:
        self._open.pop(action_id, None)

    @property
    def pending(self) -> int:
        return len(self._open)

    def feed(self, msg: Message) -> tuple[bool, ListResult | None]:
        if not self._open:
            return False, None
        if isinstance(msg, Response):
            entry = self._open.get(msg.action_id or "")
            if entry is None:
                return False, None
            entry.response = msg
            if msg.status != "Success" or msg.fields.get("EventList") != "start":
                del self._open[entry.action_id]
                return True, ListResult(entry.action, entry.action_id, msg, (), None)
            return True, None
        if not isinstance(msg, Event):
            return False, None
        entry = self._find(msg)
        if entry is None or entry.response is None:
            return False, None
        if msg.fields.get("EventList") == "Complete":
            del self._open[entry.action_id]
            return True, ListResult(
                entry.action, entry.action_id, entry.response, tuple(entry.items), msg
            )
        entry.items.append(msg)
        return True, None

    def _find(self, event: Event) -> _Open | None:
        action_id = event.fields.get("ActionID")
        if action_id is not None:
            return self._open.get(action_id)
        for entry in self._open.values():
            if entry.response is not None and event.name in ITEM_EVENTS.get(entry.action, ()):
                return entry
        return None
