"""chat_watchers caches a login's watchers until membership changes or the TTL ends;
the presence notifier uses the cache to skip logins nobody watches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cti.web.chat_presence import PresenceNotifier, chat_watchers
from cti.web.ports import User


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


@dataclass
class _Delivery:
    sent: list[tuple[list[str], dict[str, object]]] = field(default_factory=list)

    def publish_to_logins(self, logins: Iterable[str], payload: Mapping[str, Any]) -> None:
        self.sent.append((list(logins), dict(payload)))


class _OneAgentOnline:
    def online_at(self, interface: str) -> list[User]:
        return [User("alice", "Alice", "agent", interface)]


async def test_a_login_nobody_watches_costs_no_task_and_no_store_read() -> None:
    chat = _Chat(rooms=[])  # Alice is in no conversation
    watchers = chat_watchers(chat, ttl=60.0, clock=_Clock())
    delivery = _Delivery()
    notifier = PresenceNotifier(
        lambda logins: {}, watchers, delivery, _OneAgentOnline(), known_watchers=watchers.cached
    )
    notifier.agent_changed("PJSIP/1001", "available")  # unknown yet: one read
    await asyncio.sleep(0.01)
    assert chat.reads == 1
    for state in ("ringing", "on_call", "wrap_up", "available") * 5:
        notifier.agent_changed("PJSIP/1001", state)
        assert not notifier._running  # decided at once, no task
    assert (chat.reads, delivery.sent) == (1, [])
    chat.rooms = [("alice", "bob")]  # Bob opens a chat with her, on this node
    chat.membership_version += 1
    notifier.agent_changed("PJSIP/1001", "paused")
    await asyncio.sleep(0.01)
    assert delivery.sent == [
        (["bob"], {"type": "chat_presence", "login": "alice", "presence": "paused"})
    ]
