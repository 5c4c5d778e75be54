"""Asyncio AMI client: connect, login, ActionID futures, lists, ping, reconnect.

Strategy: a thin shell over the sans-I/O codec (protocol.py) and the pure
list collector (lists.py). One reader task per connection feeds the parser
and routes every message, in wire order:

- list items and list replies go to the `ListCollector`, whose finished
  `ListResult` resolves that list action's future;
- a `Response` resolves the future registered under its ActionID;
- every other `Event` goes to `stream`, a bounded queue. The reader awaits the
  queue when it is full: a slow consumer slows the socket (TCP back-pressure)
  and nothing is dropped;
- the reader also puts `Connected` when the login reply arrives and one
  `Snapshot` when the last resync list of that login completes, so both sit
  at their exact place in the order.

A connection ends for one reason (`_drop`): EOF, a read error, nothing read
for twice ping_interval + ping_timeout, no answer to a Ping within ping_timeout
(a half-open socket), or a failed resync. Then every pending action fails
with `AmiDisconnected`, `Disconnected` goes to the stream, and `run()`
reconnects after an exponential backoff with jitter (the backoff only resets
after a successful login, so bad credentials are not retried in a hot loop).
A Ping left unanswered while our own consumer held the reader back does not
count as a dead peer. Every network await has a timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from cti.ami.errors import (
    AmiActionError,
    AmiConnectionError,
    AmiDisconnected,
    AmiError,
    AmiLoginError,
    AmiTimeout,
)
from cti.ami.lists import RESYNC_ACTIONS, ListCollector, ListResult
from cti.ami.protocol import AmiParser, BadFrame, Banner, Event, Message, Response, encode_action
from cti.ami.stream import Connected, Disconnected, Snapshot, StreamItem

__all__ = ["AmiClient", "ClientStats", "Connected", "Disconnected", "Snapshot", "StreamItem"]

log = logging.getLogger("cti.ami")

Fields = Mapping[str, str] | Iterable[tuple[str, str]]
_T = TypeVar("_T")
_READ_SIZE = 64 * 1024


@dataclass(slots=True)
class ClientStats:
    connects: int = 0  # successful logins
    disconnects: int = 0
    login_failures: int = 0
    events: int = 0  # events put in the stream
    bad_frames: int = 0
    stalls: int = 0  # times the reader waited for a full stream
    last_error: str | None = None


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        queue_size: int = 10_000,
        action_timeout: float = 5.0,
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        resync_actions: Sequence[str] = RESYNC_ACTIONS,
        connect_timeout: float = 5.0,
    ) -> None:
        self.host, self.port = host, port
        self._username, self._secret = username, secret
        self.action_timeout = action_timeout
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.resync_actions = tuple(resync_actions)
        self.connect_timeout = connect_timeout
        self.stream: asyncio.Queue[StreamItem] = asyncio.Queue(queue_size)
        self.stats = ClientStats()
        self.parser = AmiParser()
        self._ids = itertools.count(1)
        self._closing = asyncio.Event()
        self._connected = asyncio.Event()
        self._running = False
        self._stopped = asyncio.Event()
        # per connection
        self._writer: asyncio.StreamWriter | None = None
        self._end: asyncio.Future[str] | None = None
        self._pending: dict[str, asyncio.Future[Response]] = {}
        self._lists: dict[str, asyncio.Future[ListResult]] = {}
        self._collector = ListCollector()
        self._login_id = ""
        self._version = ""
        self._announced = False
        self._stalled = False
        self._resync: dict[str, ListResult | None] = {}

    # -- public API --------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def run(self) -> None:
        """Connect, log in, read; reconnect with backoff; return after `close()`."""
        if self._closing.is_set():
            return
        self._running = True
        self._stopped.clear()
        main = asyncio.create_task(self._reconnect_loop(), name="ami-reconnect")
        closing = asyncio.create_task(self._closing.wait(), name="ami-closing")
        try:
            await asyncio.wait({main, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (main, closing):
                task.cancel()
            await asyncio.gather(main, closing, return_exceptions=True)
            self._running = False
            self._stopped.set()
        if main.done() and not main.cancelled() and main.exception() is not None:
            raise main.exception()  # type: ignore[misc]  # a bug, not a network error

    async def close(self) -> None:
        """Stop `run()`: drop the connection, fail pending actions, no reconnect."""
        self._closing.set()
        self._drop("client closed")
        if self._running:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self._stopped.wait()
            except TimeoutError:
                log.warning("AMI client did not stop within %ss", self.connect_timeout)

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until logged in; AmiTimeout after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError as exc:
            raise AmiTimeout(f"not connected to AMI within {timeout}s") from exc

    async def send_action(
        self,
        action: str,
        fields: Fields = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (per-action timeout is the API)
    ) -> Response:
        """Send one action and return its Response.

        Raises AmiActionError ("Response: Error"), AmiTimeout, AmiDisconnected.
        """
        response = await self._action(action, fields, timeout, self._next_id())
        if response.status == "Error":
            raise AmiActionError(response)
        return response

    async def send_list_action(
        self,
        action: str,
        fields: Fields = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (per-action timeout is the API)
    ) -> ListResult:
        """Send a list action (EventList start ... Complete) and collect it whole.

        `timeout` covers the whole list. Raises like `send_action`.
        """
        result = await self._list_action(action, fields, timeout, self._next_id())
        if result.response.status == "Error":
            raise AmiActionError(result.response)
        return result

    # -- connection lifecycle ----------------------------------------------------

    async def _reconnect_loop(self) -> None:
        attempt = 0
        while not self._closing.is_set():
            try:
                await self._session()
            except AmiLoginError as exc:
                self.stats.login_failures += 1
                self.stats.last_error = f"login refused: {exc}"
                log.error("AMI login refused for %r: %s", self._username, exc)
            except AmiError as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("AMI connection to %s:%s failed: %s", self.host, self.port, exc)
            if self._announced:
                attempt = 0  # that connection worked: start the backoff again
            self._announced = False
            if self._closing.is_set():
                return
            delay = self._backoff(attempt)
            attempt += 1
            log.info("AMI reconnecting in %.2fs", delay)
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.reconnect_max, self.reconnect_min * 2.0 ** min(attempt, 30))
        return random.uniform(ceiling / 2, ceiling)

    async def _session(self) -> None:
        """One connection, from connect to its end; raises AmiError if setup fails."""
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError as exc:
            raise AmiTimeout(f"connect to {self.host}:{self.port} timed out") from exc
        except OSError as exc:
            raise AmiConnectionError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        loop = asyncio.get_running_loop()
        self._writer, self._end = writer, loop.create_future()
        self.parser = AmiParser()
        tasks: list[asyncio.Task[None]] = []
        reason = "connection setup failed"
        try:
            early = await self._read_banner(reader)
            tasks.append(asyncio.create_task(self._read_loop(reader, early), name="ami-reader"))
            await self._login()
            if self.ping_interval > 0:
                tasks.append(asyncio.create_task(self._keepalive(), name="ami-keepalive"))
            if self.resync_actions:
                tasks.append(asyncio.create_task(self._resync_all(), name="ami-resync"))
            reason = await self._end
        except asyncio.CancelledError:
            reason = "client closed"
            raise
        finally:
            await self._teardown(reason, tasks, writer)

    async def _read_banner(self, reader: asyncio.StreamReader) -> list[Message]:
        """Wait for the banner; return any messages that came right after it."""
        try:
            async with asyncio.timeout(self.connect_timeout):
                while True:
                    data = await reader.read(_READ_SIZE)
                    if not data:
                        raise AmiConnectionError("connection closed before the AMI banner")
                    msgs = self.parser.feed(data)
                    if msgs:
                        break
        except TimeoutError as exc:
            raise AmiTimeout("no AMI banner within the connect timeout") from exc
        except OSError as exc:
            raise AmiConnectionError(f"read failed: {exc}") from exc
        first = msgs[0]
        if not isinstance(first, Banner):
            raise AmiConnectionError(f"not an AMI server: {first!r}")
        self._version = first.version
        return msgs[1:]

    async def _login(self) -> None:
        self._login_id = self._next_id()
        creds = (("Username", self._username), ("Secret", self._secret))
        try:
            await self._action("Login", creds, self.connect_timeout, self._login_id, check=True)
        except AmiActionError as exc:
            raise AmiLoginError(exc.response.message or "login refused", exc.response) from exc

    async def _teardown(
        self, reason: str, tasks: list[asyncio.Task[None]], writer: asyncio.StreamWriter
    ) -> None:
        self._connected.clear()
        if self._end is not None and not self._end.done():
            self._end.set_result(reason)
        self._writer = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        failure = AmiDisconnected(f"AMI connection lost: {reason}")
        for future in self._pending.values():
            if not future.done():
                future.set_exception(failure)
        for list_future in self._lists.values():
            if not list_future.done():
                list_future.set_exception(failure)
        self._pending.clear()
        self._lists.clear()
        self._collector = ListCollector()
        self._resync = {}
        if self._announced:
            self.stats.disconnects += 1
            log.warning("AMI disconnected: %s", reason)
            item = Disconnected(reason, time.time())
            if self._closing.is_set():
                if not self.stream.full():
                    self.stream.put_nowait(item)
            else:
                await self._put(item)

    def _drop(self, reason: str) -> None:
        """End the current connection (idempotent)."""
        if self._end is not None and not self._end.done():
            self._end.set_result(reason)
        if self._writer is not None:
            self._writer.close()

    # -- reading -----------------------------------------------------------------

    async def _read_loop(self, reader: asyncio.StreamReader, early: list[Message]) -> None:
        # A backstop only: the keepalive Ping is what normally finds a dead peer.
        idle = 2 * (self.ping_interval + self.ping_timeout) if self.ping_interval > 0 else None
        parser = self.parser
        try:
            await self._dispatch(early)
            while True:
                try:
                    async with asyncio.timeout(idle):
                        data = await reader.read(_READ_SIZE)
                except TimeoutError:
                    self._drop(f"nothing received for {idle}s: dead peer")
                    return
                if not data:
                    await self._dispatch(parser.feed_eof())
                    self._drop("connection closed by Asterisk")
                    return
                await self._dispatch(parser.feed(data))
        except OSError as exc:
            self._drop(f"read failed: {exc}")
        except Exception as exc:  # a bug of ours: say so, and start a clean connection
            log.exception("AMI reader failed")
            self._drop(f"reader failed: {type(exc).__name__}: {exc}")

    async def _dispatch(self, msgs: list[Message]) -> None:
        collector, stream = self._collector, self.stream
        for msg in msgs:
            kind = type(msg)
            if kind is Event or kind is Response:
                if collector.pending:
                    claimed, finished = collector.feed(msg)
                    if finished is not None:
                        await self._list_finished(finished)
                    if claimed:
                        continue
                if kind is Event:
                    self.stats.events += 1
                    if stream.full():
                        await self._put(msg)  # type: ignore[arg-type]
                    else:
                        stream.put_nowait(msg)  # type: ignore[arg-type]
                else:
                    await self._response(msg)  # type: ignore[arg-type]
            elif kind is BadFrame:
                self.stats.bad_frames += 1
                log.warning("AMI bad frame: %s: %r", msg.reason, msg.raw[:120])  # type: ignore[union-attr]
            else:
                log.warning("AMI unexpected message: %r", msg)

    async def _response(self, response: Response) -> None:
        action_id = response.action_id or ""
        future = self._pending.get(action_id)
        if future is not None and not future.done():
            future.set_result(response)
        elif action_id:
            log.debug("AMI response for no pending action: %r", response)
        if action_id == self._login_id and response.status == "Success":
            self._announced = True
            self.stats.connects += 1
            self._connected.set()
            log.info("AMI logged in to %s:%s (AMI %s)", self.host, self.port, self._version)
            await self._put(Connected(time.time(), self._version))

    async def _list_finished(self, result: ListResult) -> None:
        future = self._lists.get(result.action_id)
        if future is not None and not future.done():
            future.set_result(result)
        resync = self._resync
        if result.action_id in resync:
            # Each list goes in the stream where it completed, not all of them
            # after the last: live events that came between two lists are
            # newer than the first and must be applied after it.
            resync[result.action_id] = result
            complete = all(r is not None for r in resync.values())
            if complete:
                self._resync = {}
            await self._put(Snapshot((result,), time.time(), complete))

    async def _put(self, item: StreamItem) -> None:
        if self.stream.full():
            self.stats.stalls += 1
            self._stalled = True
            try:
                await self.stream.put(item)
            finally:
                self._stalled = False
        else:
            self.stream.put_nowait(item)

    # -- actions -----------------------------------------------------------------

    def _next_id(self) -> str:
        return f"cti-{next(self._ids)}"

    async def _action(
        self,
        action: str,
        fields: Fields,
        limit: float | None,
        action_id: str,
        *,
        check: bool = False,
    ) -> Response:
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        try:
            response = await self._exchange(action, action_id, fields, limit, future)
        finally:
            self._pending.pop(action_id, None)
        if check and response.status == "Error":
            raise AmiActionError(response)
        return response

    async def _list_action(
        self, action: str, fields: Fields, limit: float | None, action_id: str
    ) -> ListResult:
        future: asyncio.Future[ListResult] = asyncio.get_running_loop().create_future()
        self._lists[action_id] = future
        self._collector.expect(action, action_id)
        try:
            return await self._exchange(action, action_id, fields, limit, future)
        finally:
            self._lists.pop(action_id, None)
            self._collector.forget(action_id)

    async def _exchange(
        self,
        action: str,
        action_id: str,
        fields: Fields,
        limit: float | None,
        future: asyncio.Future[_T],
    ) -> _T:
        data = encode_action(action, action_id, fields)  # LocalProtocolError: caller's bug
        writer = self._writer
        if writer is None or self._end is None or self._end.done():
            raise AmiDisconnected(f"{action}: not connected to AMI")
        if limit is None:
            limit = self.action_timeout
        try:
            async with asyncio.timeout(limit):
                writer.write(data)
                await writer.drain()
                return await future
        except TimeoutError as exc:
            raise AmiTimeout(f"{action} ({action_id}): no answer within {limit}s") from exc
        except OSError as exc:
            self._drop(f"write failed: {exc}")
            raise AmiDisconnected(f"{action}: write failed: {exc}") from exc

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            stalls = self.stats.stalls
            try:
                await self._action("Ping", (), self.ping_timeout, self._next_id())
            except AmiTimeout:
                if self._stalled or self.stats.stalls != stalls:
                    continue  # our consumer held the reader back, not the peer's fault
                self._drop(f"no answer to Ping within {self.ping_timeout}s: dead peer")
                return
            except AmiError:
                return

    async def _resync_all(self) -> None:
        ids = {self._next_id(): action for action in self.resync_actions}
        self._resync = dict.fromkeys(ids)
        try:
            await asyncio.gather(*(self._list_action(a, (), None, aid) for aid, a in ids.items()))
        except AmiError as exc:
            # A partial snapshot would make the model forget live calls: start over.
            self._drop(f"resync failed: {exc}")
