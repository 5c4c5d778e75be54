"""The ARI events WebSocket as one ordered, bounded queue of typed items.

Strategy: one task (`run()`) owns the connection. It connects to
`/ari/events?app=...&subscribeAll=...&api_key=user:pass`, puts
`AriConnected`, then every decoded event, then `AriDisconnected(reason)` into
one bounded `asyncio.Queue`, in that order, and connects again. The
subscription lives in the URL, so every reconnect resubscribes. Delays
between attempts grow exponentially, with jitter (so a restarted Asterisk is
not hit by every CTI at the same instant), up to `backoff_max`; a
connection that lived long enough resets them and the next attempt is
immediate, to lose as few events as possible.

The consumer is decoupled by the queue: its exceptions happen in its own
task and can neither close the socket nor lose queued items (`serve()` runs a
handler per item and logs what it raises). A full queue stops reading, which
backs Asterisk off through TCP rather than dropping events. A dead peer is
found by websockets' keepalive pings (`ping_interval`, `ping_timeout`). Junk
from Asterisk is logged and counted (`decoder.stats.errors`) and the stream
goes on. ARI does not replay what was sent while we were away: a consumer
reads `AriConnected` as "state may have moved, resync" (GET /channels).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from cti.ari.errors import AriDecodeError
from cti.ari.events import AriEvent, EventDecoder

__all__ = ["AriConnected", "AriDisconnected", "AriEventStream", "StreamItem", "StreamStats"]

log = logging.getLogger("cti.ari")

_APP = re.compile(r"[A-Za-z0-9._-]{1,80}")
_LONG_LIVED = 10.0  # seconds: a connection that lasted this long resets the backoff


@dataclass(frozen=True, slots=True)
class AriConnected:
    """Subscribed; `at` is wall-clock time (time.time())."""

    at: float
    url: str  # without the credentials


@dataclass(frozen=True, slots=True)
class AriDisconnected:
    reason: str
    at: float


StreamItem = AriConnected | AriEvent | AriDisconnected


@dataclass(slots=True)
class StreamStats:
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    frames: int = 0
    handler_errors: int = 0  # exceptions `serve()`'s handler raised
    last_error: str = ""


def events_url(url: str, apps: Sequence[str], subscribe_all: bool, api_key: str = "") -> str:
    """`http://host:8088` (or ws://..., .../ari, .../ari/events) -> the events URL."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"bad ARI url {url!r}: expected http(s):// or ws(s)://host:port")
    path = parts.path.rstrip("/")
    if not path.endswith("/ari/events"):
        path += "/events" if path.endswith("/ari") else "/ari/events"
    query = {"app": ",".join(apps), "subscribeAll": "true" if subscribe_all else "false"}
    if api_key:
        query["api_key"] = api_key
    # ":" and "," stay readable: Asterisk splits api_key at ":" and app at ",".
    return urlunsplit(
        (scheme, parts.netloc, path, urlencode(query, safe=":,", quote_via=quote), "")
    )


class AriEventStream:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        apps: Sequence[str] = ("cti-ivr",),
        subscribe_all: bool = True,
        *,
        queue_size: int = 10_000,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float = 10.0,
        close_timeout: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        if not apps or any(not _APP.fullmatch(app) for app in apps):
            raise ValueError(f"bad ARI application names {list(apps)!r}: [A-Za-z0-9._-]+")
        if ":" in username:
            raise ValueError("an ARI username cannot contain ':'")
        api_key = f"{username}:{password}"  # events_url percent-encodes it
        self.url = events_url(url, apps, subscribe_all)  # safe to log
        self._url = events_url(url, apps, subscribe_all, api_key)
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self.queue: asyncio.Queue[StreamItem] = asyncio.Queue(queue_size)
        self.decoder = EventDecoder()
        self.stats = StreamStats()
        self._backoff = (backoff_min, backoff_max)
        self._ping = (ping_interval, ping_timeout)
        self._open_timeout = open_timeout
        self._close_timeout = close_timeout
        self._rng = rng or random.Random()
        self._closing = asyncio.Event()
        self._ws: ClientConnection | None = None

    def backoff(self, failures: int) -> float:
        """Seconds to wait after `failures` failed attempts in a row: exponential,
        capped, and drawn from its upper half so that it always grows a little."""
        if failures <= 0:
            return 0.0
        low, high = self._backoff
        ceiling = min(high, low * 2.0 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    async def run(self) -> None:
        """Connect, read, reconnect: until `close()` or cancellation."""
        failures = 0
        while not self._closing.is_set():
            await self._sleep(self.backoff(failures))
            if self._closing.is_set():
                break
            try:
                ws = await connect(
                    self._url,
                    additional_headers=self._headers,
                    open_timeout=self._open_timeout,
                    # A dead peer never answers our close frame either: this
                    # bounds how long detecting it takes after the ping timeout.
                    close_timeout=self._close_timeout,
                    ping_interval=self._ping[0],
                    ping_timeout=self._ping[1],
                    compression=None,  # Asterisk does not negotiate it
                    proxy=None,  # Asterisk is reached directly, whatever the environment says
                    max_size=16 * 1024 * 1024,
                )
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                failures += 1
                self.stats.connect_failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("ARI events: cannot connect to %s: %s", self.url, self.stats.last_error)
                continue
            started = time.monotonic()
            try:
                await self._session(ws)
            finally:
                self._ws = None
                await ws.close()
            lived = time.monotonic() - started
            failures = 0 if lived >= _LONG_LIVED else failures + 1

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.stats.connects += 1
        log.info("ARI events: connected to %s", self.url)
        await self.queue.put(AriConnected(time.time(), self.url))
        reason = await self._drain(ws)
        self.stats.disconnects += 1
        self.stats.last_error = reason
        log.warning("ARI events: disconnected from %s: %s", self.url, reason)
        item = AriDisconnected(reason, time.time())
        if self._closing.is_set():
            # Shutting down: nobody may be reading any more, never block on it.
            if not self.queue.full():
                self.queue.put_nowait(item)
        else:
            await self.queue.put(item)

    async def _drain(self, ws: ClientConnection) -> str:
        decode, stats = self.decoder.decode, self.stats
        put, put_nowait = self.queue.put, self.queue.put_nowait
        try:
            async for message in ws:
                stats.frames += 1
                try:
                    event = decode(message)
                except AriDecodeError as exc:
                    log.warning("ARI events: skipped junk: %s", exc)
                    continue
                # put_nowait unless full: the same order, without a coroutine
                # per event; a full queue still waits (backpressure, no loss).
                try:
                    put_nowait(event)
                except asyncio.QueueFull:
                    await put(event)
        except ConnectionClosed as exc:  # an abnormal close (ping timeout, reset...)
            return "closed" if self._closing.is_set() else str(exc)
        if self._closing.is_set():
            return "closed"
        return f"closed by Asterisk: {ws.close_code} {ws.close_reason}".rstrip()

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            try:
                async with asyncio.timeout(seconds):
                    await self._closing.wait()
            except TimeoutError:
                pass

    async def close(self) -> None:
        """Stop reconnecting and close the socket; `run()` then returns."""
        self._closing.set()
        if self._ws is not None:
            await self._ws.close()

    async def serve(self, handler: Callable[[StreamItem], Awaitable[None]]) -> None:
        """Hand every item to `handler`, in order, until cancelled. What the
        handler raises is logged and counted; the next item is still served."""
        while True:
            item = await self.queue.get()
            try:
                await handler(item)
            except Exception:
                self.stats.handler_errors += 1
                log.exception("ARI events: handler failed on %s", type(item).__name__)
            finally:
                self.queue.task_done()  # `queue.join()`: everything read was served
