"""The WebSocket hub: numbered per-user event streams with a replay window.

Strategy: every user (not every socket) owns a `_Stream`: a sequence counter
and a ring buffer of the last `replay_window` events, kept while the user is
offline, so a pop published while an agent's socket is reconnecting is not
lost. Publishing is synchronous and never awaits: the payload is serialised
once, then for each recipient stream the hub stamps the next `seq` (by string
splicing, not re-encoding), appends to the ring and pushes the frame onto each
open connection's bounded queue. A connection whose queue overflows is killed
(close code 4429) rather than allowed to slow anyone else; its client comes
back with `since=<last seq>` and the ring fills the gap.

`attach()` is also synchronous: the hello, the replay (or a `resync`) and the
registration for live frames happen with no await in between, so the
hand-over from replay to live can neither skip nor repeat an event. Every
frame carries `stream_id`, an epoch drawn at start-up, so a client holding a
`seq` from a previous server run is told to resync instead of being fed the
wrong events.

Role feeds: a user receives `publish_to_role(r)` when their role is `r` or
ranks above it (agent < supervisor < admin).

Scoped feeds (cti.web.scope says the same for REST): `publish_about_queue`,
`publish_about_agent` and `publish_about_call` reach every admin and only the
supervisors whose scope holds the queue, agent or call. Supervisors' streams
are indexed by supervised queue and by the devices of their teams' agents,
so a publish costs a few dict look-ups, not a scan of every supervisor.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from cti.web.ports import ROLES, User
from cti.web.schemas import HelloEvent, ResyncEvent, UserSchema

__all__ = [
    "CLOSE_SHUTDOWN",
    "CLOSE_TOO_SLOW",
    "Connection",
    "Hub",
    "HubStats",
    "frame",
    "user_schema",
]

log = logging.getLogger("cti.web.hub")

CLOSE_TOO_SLOW: Final = 4429  # the client fell behind; reconnect with since=<last seq>
CLOSE_SHUTDOWN: Final = 1001  # going away
_RESERVED = ("seq", "stream_id")
_ResyncReason = Literal["since_too_old", "stream_changed", "since_ahead"]


def _unencodable(value: object) -> Any:
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# msgspec (already decoding ARI): 8x faster than json's encoder on our payloads
# (1.3 vs 11 us for a queue board), the same compact UTF-8 text; every
# payload of the web and e2e tests encoded byte for byte as json did. It
# encodes tuples and sets as arrays itself; a datetime (none is published
# today: payloads carry ISO strings) would end in "Z", not "+00:00".
_ENCODER = msgspec.json.Encoder(enc_hook=_unencodable)


def encode(payload: Mapping[str, Any]) -> str:
    """Compact JSON for one payload; UTF-8 text is kept as is ("José")."""
    return _ENCODER.encode(payload).decode()


def frame(seq: int, stream_id: str, body: str) -> str:
    """Prefix an encoded JSON object with its envelope, without re-encoding it."""
    head = f'{{"seq":{seq},"stream_id":"{stream_id}"'
    return head + "}" if body == "{}" else head + "," + body[1:]


def user_schema(user: User) -> UserSchema:
    return UserSchema(
        login=user.login, display_name=user.display_name, role=user.role, interface=user.interface
    )


@dataclass(slots=True)
class HubStats:
    published: int = 0  # publish_* calls
    delivered: int = 0  # frames put on a connection's queue
    undelivered: int = 0  # publishes that matched no known user
    slow_disconnects: int = 0
    replays: int = 0
    resyncs: int = 0


class Connection:
    """One open socket of one user: a bounded queue of frames and its pump."""

    __slots__ = (
        "_limit",
        "_pending",
        "_wake",
        "close_code",
        "close_reason",
        "closed",
        "sent",
        "user",
    )

    def __init__(self, user: User, limit: int) -> None:
        self.user = user
        self._limit = limit
        self._pending: deque[str] = deque()
        self._wake = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.sent = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def push(self, text: str) -> bool:
        """Queue a frame; False (and nothing queued) if the queue is full."""
        if len(self._pending) >= self._limit:
            return False
        self._pending.append(text)
        self._wake.set()
        return True

    def kill(self, code: int, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_code = code
        self.close_reason = reason
        self._pending.clear()
        self.closed.set()
        self._wake.set()

    async def pump(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send queued frames in order until the connection is killed."""
        pending = self._pending
        while not self.closed.is_set():
            if not pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            await send(pending.popleft())
            self.sent += 1


class _Stream:
    __slots__ = ("connections", "ring", "seq", "user")

    def __init__(self, user: User, window: int) -> None:
        self.user = user
        self.seq = 0
        self.ring: deque[tuple[int, str]] = deque(maxlen=window)  # (seq, encoded body)
        self.connections: list[Connection] = []

    def oldest_replayable(self) -> int:
        """Smallest `since` the ring can still honour."""
        return self.seq - len(self.ring)


def _feeds(role: str) -> tuple[str, ...]:
    """The role feeds a user with `role` receives: its own and every lower one."""
    for rank, name in enumerate(ROLES):
        if name == role:
            return ROLES[: rank + 1]
    return ()


class Hub:
    def __init__(
        self, replay_window: int = 1000, send_queue: int = 1000, stream_id: str | None = None
    ) -> None:
        if replay_window < 1 or send_queue < 1:
            raise ValueError("replay_window and send_queue must be >= 1")
        self.replay_window = replay_window
        self.send_queue = send_queue
        self.stream_id = stream_id or secrets.token_hex(6)
        self.stats = HubStats()
        # told the logins of every publish_to_logins (chat deliveries): wakes
        # the web chat sockets of customers, who have no stream (cti.web.nudges)
        self.on_logins: Callable[[Iterable[str]], None] | None = None
        self._streams: dict[str, _Stream] = {}  # by login
        self._by_interface: dict[str, list[_Stream]] = {}
        self._by_feed: dict[str, list[_Stream]] = {role: [] for role in ROLES}
        # supervisors only (admins get every scoped publish through _by_feed["admin"])
        self._by_queue: dict[str, list[_Stream]] = {}
        self._by_team_interface: dict[str, list[_Stream]] = {}

    # -- users ---------------------------------------------------------------

    def register(self, user: User) -> tuple[str, int]:
        """Start (or refresh) the user's stream; returns (stream_id, current seq).

        Called at login so events published before the socket opens are kept.
        """
        stream = self._streams.get(user.login)
        if stream is None:
            stream = self._streams[user.login] = _Stream(user, self.replay_window)
            self._index(stream)
        elif stream.user != user:  # interface or role changed since last time
            self._unindex(stream)
            stream.user = user
            self._index(stream)
        return self.stream_id, stream.seq

    def position(self, login: str) -> int:
        stream = self._streams.get(login)
        return stream.seq if stream is not None else 0

    def _index(self, stream: _Stream) -> None:
        if stream.user.interface:
            self._by_interface.setdefault(stream.user.interface, []).append(stream)
        for feed in _feeds(stream.user.role):
            self._by_feed[feed].append(stream)
        if stream.user.role == "supervisor":
            for queue in dict.fromkeys(stream.user.queues):
                self._by_queue.setdefault(queue, []).append(stream)
            for device in dict.fromkeys(stream.user.team_interfaces):
                self._by_team_interface.setdefault(device, []).append(stream)

    def _unindex(self, stream: _Stream) -> None:
        if stream.user.interface:
            peers = self._by_interface.get(stream.user.interface, [])
            if stream in peers:
                peers.remove(stream)
            if not peers:
                self._by_interface.pop(stream.user.interface, None)
        for feed in _feeds(stream.user.role):
            if stream in self._by_feed[feed]:
                self._by_feed[feed].remove(stream)
        for index, keys in (
            (self._by_queue, stream.user.queues),
            (self._by_team_interface, stream.user.team_interfaces),
        ):
            for key in keys:
                group = index.get(key)
                if group is not None and stream in group:
                    group.remove(stream)
                    if not group:
                        del index[key]

    # -- publishing (the hot path) ---------------------------------------------

    def publish_to_interface(self, interface: str, payload: Mapping[str, Any]) -> None:
        """Deliver to every user whose device is `interface` (all their tabs)."""
        self._publish(self._by_interface.get(interface), payload)

    def publish_to_interfaces(self, interfaces: Iterable[str], payload: Mapping[str, Any]) -> None:
        """`publish_to_interface` for several devices, encoding the payload once."""
        streams: dict[int, _Stream] = {}
        for interface in interfaces:
            for stream in self._by_interface.get(interface) or ():
                streams.setdefault(id(stream), stream)
        self._publish(list(streams.values()), payload)

    def publish_to_role(self, role: str, payload: Mapping[str, Any]) -> None:
        """Deliver to every user whose role is `role` or above it."""
        self._publish(self._by_feed.get(role), payload)

    def publish_to_logins(self, logins: Iterable[str], payload: Mapping[str, Any]) -> None:
        """Deliver to each of `logins` (all their tabs), encoding the payload once.

        Users who have not logged in since start-up have no stream and are
        skipped (chat: the store holds the message; they fetch it by seq)."""
        streams = self._streams
        unique = dict.fromkeys(logins)
        found = [s for s in (streams.get(login) for login in unique) if s]
        self._publish(found, payload)
        if self.on_logins is not None:
            self.on_logins(unique)

    def online(self, login: str) -> User | None:
        """The user if they have at least one open socket, else None."""
        stream = self._streams.get(login)
        return stream.user if stream is not None and stream.connections else None

    def online_at(self, interface: str) -> list[User]:
        """The users of device `interface` with at least one open socket (chat presence)."""
        return [s.user for s in self._by_interface.get(interface) or () if s.connections]

    def publish_about_queue(self, queue: str, payload: Mapping[str, Any]) -> None:
        """Deliver news of `queue` (its state, board, metrics) to admins and to the
        supervisors of that queue."""
        admins = self._by_feed["admin"]
        supervisors = self._by_queue.get(queue)
        self._publish(admins + supervisors if supervisors else admins, payload)

    def has_audience_for_queue(self, queue: str) -> bool:
        """Would `publish_about_queue(queue, ...)` reach any stream (online or not)?"""
        return bool(self._by_feed["admin"] or self._by_queue.get(queue))

    def publish_about_agent(
        self, interface: str, queues: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        """Deliver news of the agent at `interface` (member of `queues`) to admins
        and to the supervisors whose scope holds that agent (their team, or one of
        `queues`)."""
        by_queue = self._by_queue
        groups = [self._by_team_interface.get(interface), *(by_queue.get(q) for q in queues)]
        self._publish(self._admins_and(groups), payload)

    def publish_about_call(
        self, queue: str | None, parties: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        """Deliver news of a call (of `queue`, with devices `parties`) to admins and to
        the supervisors of its queue or of a team one of its parties is in. The
        parties themselves are not included: they get their own copy by device."""
        team = self._by_team_interface
        groups = [self._by_queue.get(queue) if queue else None, *(team.get(p) for p in parties)]
        self._publish(self._admins_and(groups), payload)

    def _admins_and(self, groups: Iterable[list[_Stream] | None]) -> list[_Stream]:
        """Admins plus the supervisors of `groups`, each once (admins are in no group)."""
        found = [g for g in groups if g]
        admins = self._by_feed["admin"]
        if not found:
            return admins
        if len(found) == 1:
            return admins + found[0]
        unique = {id(s): s for group in found for s in group}
        return admins + list(unique.values())

    def _publish(self, streams: list[_Stream] | None, payload: Mapping[str, Any]) -> None:
        for key in _RESERVED:
            if key in payload:
                raise ValueError(f"payload key {key!r} is reserved for the hub")
        self.stats.published += 1
        if not streams:
            self.stats.undelivered += 1
            return
        body = encode(payload)
        if not body.startswith("{"):
            raise ValueError("payload must encode to a JSON object")
        stream_id = self.stream_id
        for stream in streams:
            stream.seq += 1
            stream.ring.append((stream.seq, body))
            if stream.connections:
                text = frame(stream.seq, stream_id, body)
                for conn in tuple(stream.connections):
                    if conn.push(text):
                        self.stats.delivered += 1
                    else:
                        self._drop_slow(stream, conn)

    def _drop_slow(self, stream: _Stream, conn: Connection) -> None:
        self.stats.slow_disconnects += 1
        log.warning("closing slow WebSocket of %s (queue full)", stream.user.login)
        stream.connections.remove(conn)
        conn.kill(CLOSE_TOO_SLOW, "too slow: reconnect with since")

    # -- connections -----------------------------------------------------------

    def attach(
        self, user: User, since: int | None = None, stream_id: str | None = None
    ) -> Connection:
        """Open a connection: hello, then the replay after `since` (or a resync), then live.

        `since` is the last seq the client processed; `stream_id` the epoch it
        came from (omit both for a fresh client that only wants live events).
        """
        self.register(user)
        stream = self._streams[user.login]
        backlog, resync = self._backlog(stream, since, stream_id)
        conn = Connection(user, self.send_queue + len(backlog) + 2)  # + hello, resync
        hello = HelloEvent(
            user=user_schema(user), stream_id=self.stream_id, seq=stream.seq, replaying=len(backlog)
        )
        conn.push(hello.model_dump_json())
        if resync is not None:
            self.stats.resyncs += 1
            event = ResyncEvent(stream_id=self.stream_id, seq=stream.seq, reason=resync)
            conn.push(event.model_dump_json())
        elif backlog:
            self.stats.replays += 1
        for seq, body in backlog:
            conn.push(frame(seq, self.stream_id, body))
        stream.connections.append(conn)
        return conn

    def _backlog(
        self, stream: _Stream, since: int | None, stream_id: str | None
    ) -> tuple[list[tuple[int, str]], _ResyncReason | None]:
        if since is None:
            return [], None
        if stream_id is not None and stream_id != self.stream_id:
            return [], "stream_changed"
        if since > stream.seq:
            return [], "since_ahead"
        if since < stream.oldest_replayable():
            return [], "since_too_old"
        return [item for item in stream.ring if item[0] > since], None

    def detach(self, conn: Connection) -> None:
        stream = self._streams.get(conn.user.login)
        if stream is not None and conn in stream.connections:
            stream.connections.remove(conn)
        conn.kill(conn.close_code or 1000, conn.close_reason)

    def connections(self) -> Iterator[Connection]:
        for stream in self._streams.values():
            yield from stream.connections

    @property
    def connection_count(self) -> int:
        return sum(len(s.connections) for s in self._streams.values())

    def shutdown(self) -> None:
        """Ask every open connection to close (server going away)."""
        for stream in self._streams.values():
            for conn in stream.connections:
                conn.kill(CLOSE_SHUTDOWN, "server shutting down")
            stream.connections.clear()
