"""chat_watchers caches a login's watchers until membership changes or the TTL ends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cti.web.chat_presence import chat_watchers


@dataclass
class _Conversation:
    members: tuple[str, ...]

    def logins(self) -> list[str]:
        return list(self.members)


@dataclass
class _Chat:
    """Conversations by login, counting the reads the cache lets through."""

    rooms: list[tuple[str, ...]] = field(default_factory=list)
    membership_version: int = 0
    reads: int = 0

    async def conversations(self, login: str) -> Sequence[_Conversation]:
        self.reads += 1
        return [_Conversation(r) for r in self.rooms if login in r]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_repeated_lookups_read_the_store_once() -> None:
    chat = _Chat(rooms=[("alice", "bob")])
    watchers = chat_watchers(chat, ttl=60.0, clock=_Clock())
    for _ in range(5):
        assert await watchers("alice") == {"alice", "bob"}
    assert chat.reads == 1


async def test_a_membership_change_on_this_node_is_seen_at_once() -> None:
    chat = _Chat(rooms=[("alice", "bob")])
    watchers = chat_watchers(chat, ttl=60.0, clock=_Clock())
    assert await watchers("alice") == {"alice", "bob"}
    chat.rooms = [("alice", "carol")]  # bob left, carol joined
    chat.membership_version += 1
    assert await watchers("alice") == {"alice", "carol"}
    assert chat.reads == 2


async def test_a_change_made_elsewhere_is_seen_after_the_ttl() -> None:
    chat = _Chat(rooms=[("alice", "bob")])
    clock = _Clock()
    watchers = chat_watchers(chat, ttl=60.0, clock=clock)
    assert await watchers("alice") == {"alice", "bob"}
    chat.rooms = []  # another node removed alice: no version bump here
    clock.now += 59.0
    assert await watchers("alice") == {"alice", "bob"}
    clock.now += 1.0
    assert await watchers("alice") == set()
