"""Chat presence pushed live: `chat_presence` events to whoever may see the person.

Strategy: presence is the one REST already shows (`routes_chat.hub_presence`):
`offline` without an open `/ws` socket, else the agent work state of the
user's phone in the model, or `online` for a user without one. It changes on
two edges only, and both call in here synchronously: the engine's agent-state
outputs (`agent_changed`, wired next to the supervisor feed in cti.app) and a
user's first socket opening or last one closing (`sockets_changed`, from the
`/ws` handler). Each call records the login's current presence, and a push
happens only when it differs from the last one pushed for that login.

Who may see a person is the rule of REST: the members of the conversations
they are in (direct partners, rooms, team rooms, customer chats), never
wider. Finding them takes a store read, so a push runs in a small task, one
per login at a time: a change arriving while it runs marks the login dirty
and the task goes round again, sending only the latest presence. The
compare-and-publish step has no await in it, so the events of one login leave
in the order of the changes, each different from the one before; watchers get
them as numbered hub events (through the chat delivery: the hub, or the
relay with several nodes). A lost push is repaired by the next
`GET /api/chat/conversations`, which the page does on every reconnect.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

from cti.chat import ChatDelivery, ChatError
from cti.web.ports import User

__all__ = [
    "PRESENCE_EVENT",
    "AgentChanged",
    "PresenceNotifier",
    "Watchers",
    "chat_watchers",
    "presence_event",
    "with_presence",
]

log = logging.getLogger("cti.web.chat_presence")

PRESENCE_EVENT: Final = "chat_presence"
OFFLINE: Final = "offline"
ONLINE: Final = "online"

# the logins who may see `login`'s presence (may include `login` itself)
Watchers = Callable[[str], Awaitable[Iterable[str]]]
# logins -> presence, as REST computes it (routes_chat.Presence)
PresenceOf = Callable[[Iterable[str]], dict[str, str]]
# the engine's on_agent_changed: (interface, queues, agent_state payload)
AgentChanged = Callable[[str, Sequence[str], Mapping[str, Any]], None]


class _OnlineAt(Protocol):
    def online_at(self, interface: str) -> list[User]: ...


def presence_event(login: str, presence: str) -> dict[str, Any]:
    """The `chat_presence` payload (the hub adds `seq` and `stream_id`)."""
    return {"type": PRESENCE_EVENT, "login": login, "presence": presence}


class PresenceNotifier:
    def __init__(
        self,
        presence: PresenceOf,
        watchers: Watchers,
        delivery: ChatDelivery,
        hub: _OnlineAt,
        *,
        known_watchers: Callable[[str], frozenset[str] | None] | None = None,
    ) -> None:
        """`known_watchers`: the watchers of a login if known without a store read
        (CachedWatchers.cached), else None."""
        self._presence = presence
        self._watchers = watchers
        self._known = known_watchers
        self._delivery = delivery
        self._hub = hub
        self._current: dict[str, str] = {}  # login -> presence now (absent: offline)
        self._pushed: dict[str, str] = {}  # login -> last presence pushed (absent: offline)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._closed = False
        self.pushed = 0  # events published (tests, stats)

    # -- the two edges (synchronous: called from the engine and the socket handler) --

    def agent_changed(self, interface: str, state: str) -> None:
        """The model's agent at `interface` is now in `state`: its online users changed."""
        for user in self._hub.online_at(interface):
            self._set(user.login, state)

    def sockets_changed(self, login: str) -> None:
        """A socket of `login` opened or closed: recompute their presence."""
        self._set(login, self._presence([login]).get(login, OFFLINE))

    def current(self, login: str) -> str:
        return self._current.get(login, OFFLINE)

    def _set(self, login: str, presence: str) -> None:
        if presence == OFFLINE:
            self._current.pop(login, None)
        else:
            self._current[login] = presence
        if self._closed:
            return  # shutting down: the sockets closing now need no news
        if login in self._running:
            self._dirty.add(login)
        elif presence != self._pushed.get(login, OFFLINE):
            known = self._known(login) if self._known is not None else None
            if known is not None and not known - {login}:
                # Nobody to tell (most agents have no chats): no task, no store
                # read; a watcher added later hears the next change.
                self._record_pushed(login, presence)
                return
            task = asyncio.get_running_loop().create_task(
                self._push(login), name=f"cti-presence-{login}"
            )
            self._running[login] = task

    # -- the push -------------------------------------------------------------

    async def _push(self, login: str) -> None:
        try:
            while True:
                self._dirty.discard(login)
                if self.current(login) != self._pushed.get(login, OFFLINE):
                    await self._push_once(login)
                if login not in self._dirty:
                    return
        except Exception:  # presence is best effort: REST shows it on the next load
            log.exception("presence push for %s failed", login)
        finally:
            self._running.pop(login, None)

    async def _push_once(self, login: str) -> None:
        try:
            watchers = [w for w in dict.fromkeys(await self._watchers(login)) if w != login]
        except ChatError as exc:  # the store failed: forget nothing, the next change retries
            log.warning("presence of %s not pushed: %s", login, exc.message)
            return
        # No await from here on: what is compared is what is sent.
        now = self.current(login)
        if now == self._pushed.get(login, OFFLINE):
            return  # changed and changed back while we read the store
        self._record_pushed(login, now)
        if watchers:
            self._delivery.publish_to_logins(watchers, presence_event(login, now))
            self.pushed += 1

    def _record_pushed(self, login: str, presence: str) -> None:
        if presence == OFFLINE:
            self._pushed.pop(login, None)
        else:
            self._pushed[login] = presence

    async def aclose(self) -> None:
        """Cancel the pushes in flight and start no more (shutdown)."""
        self._closed = True
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def with_presence(forward: AgentChanged, presence: PresenceNotifier | None) -> AgentChanged:
    """The engine's `on_agent_changed`: `forward` (the supervisor feed) as before,
    then the agent's chat presence."""
    if presence is None:
        return forward

    def changed(interface: str, queues: Sequence[str], payload: Mapping[str, Any]) -> None:
        forward(interface, queues, payload)
        state = payload.get("state")
        if isinstance(state, str):
            presence.agent_changed(interface, state)

    return changed


class _Conversations(Protocol):
    membership_version: int

    async def conversations(self, login: str) -> Sequence[Any]: ...


# How long a login's watchers are reused when no membership changed on this
# node. Changes made through another node (several CTI nodes) are seen after
# at most this long; everything made here is seen at once.
WATCHERS_TTL: Final = 60.0


class CachedWatchers:
    """Who may see a login's presence: the members of their conversations (as REST).

    Cached per login: agent states change several times a call, and reading
    a login's conversations each time cost the CTI more CPU than the calls
    themselves (1,000 agents at 50 calls/s). An entry holds while
    `chat.membership_version` is the one read before the store was asked and
    for at most `ttl` seconds.
    """

    def __init__(
        self,
        chat: _Conversations,
        *,
        ttl: float = WATCHERS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._chat = chat
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[int, float, frozenset[str]]] = {}

    def cached(self, login: str) -> frozenset[str] | None:
        """The watchers if known and still valid, without a store read; else None."""
        hit = self._cache.get(login)
        if (
            hit is not None
            and hit[0] == self._chat.membership_version
            and self._clock() - hit[1] < self._ttl
        ):
            return hit[2]
        return None

    async def __call__(self, login: str) -> frozenset[str]:
        known = self.cached(login)
        if known is not None:
            return known
        version, now = self._chat.membership_version, self._clock()
        found = frozenset(m for c in await self._chat.conversations(login) for m in c.logins())
        if len(self._cache) > 100_000:  # logins come and go: bound the cache
            self._cache.clear()
        self._cache[login] = (version, now, found)
        return found


def chat_watchers(
    chat: _Conversations,
    *,
    ttl: float = WATCHERS_TTL,
    clock: Callable[[], float] = time.monotonic,
) -> CachedWatchers:
    """`CachedWatchers` of `chat` (see there)."""
    return CachedWatchers(chat, ttl=ttl, clock=clock)
