"""AriEventStream against real loopback servers: a `websockets` fake ARI, and a
raw TCP one that completes the handshake and then plays dead."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
from trace_paths import TRACES
from websockets.asyncio.server import Server, ServerConnection, serve

from cti.ari.events import (
    AriEvent,
    ChannelCreated,
    ChannelVarset,
    StasisStart,
    UnknownEvent,
    decode_event,
)
from cti.ari.stream import (
    AriConnected,
    AriDisconnected,
    AriEventStream,
    StreamItem,
    events_url,
)


def _trace_frames() -> list[str]:
    with (TRACES / "ari_stasis_ivr.jsonl").open(encoding="utf-8") as fh:
        return [json.dumps(o["event"]) for o in map(json.loads, fh) if o["src"] == "ari"]


FRAMES = _trace_frames()


@dataclass
class FakeAriEvents:
    """Each connection gets the next script: frames to send, then close
    (or, for the last script, stay open)."""

    scripts: list[list[str]]
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path?query, auth)
    server: Server | None = None

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.requests.append((ws.request.path, ws.request.headers.get("Authorization", "")))
        n = len(self.requests) - 1
        script = self.scripts[min(n, len(self.scripts) - 1)]
        for frame in script:
            await ws.send(frame)
        if n < len(self.scripts) - 1:
            await ws.close(1000, "bye")
        else:
            await ws.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def fake_ari(*scripts: list[str]) -> AsyncIterator[FakeAriEvents]:
    fake = FakeAriEvents(list(scripts))
    async with serve(fake.handler, "127.0.0.1", 0) as server:
        fake.server = server
        yield fake


@contextlib.asynccontextmanager
async def running(stream: AriEventStream) -> AsyncIterator[AriEventStream]:
    task = asyncio.create_task(stream.run())
    try:
        yield stream
    finally:
        await stream.close()
        await asyncio.wait_for(task, 5)


def make_stream(url: str, **kwargs: object) -> AriEventStream:
    return AriEventStream(
        url,
        "cti",
        "cti-secret",
        ["cti-ivr"],
        backoff_min=0.01,
        backoff_max=0.05,
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


def events_of(items: list[StreamItem]) -> list[AriEvent]:
    """The events of `items`, connection items left out."""
    return [i for i in items if not isinstance(i, AriConnected | AriDisconnected)]


def decoded(frames: list[str]) -> list[AriEvent]:
    """What those frames must come out as: whole events, compared field by field."""
    return [decode_event(f) for f in frames]


async def take(stream: AriEventStream, n: int) -> list[StreamItem]:
    async with asyncio.timeout(5):
        return [await stream.queue.get() for _ in range(n)]


async def test_events_arrive_typed_and_in_order_after_connected() -> None:
    async with fake_ari(FRAMES) as fake, running(make_stream(fake.url)) as stream:
        items = await take(stream, 1 + len(FRAMES))
        assert isinstance(items[0], AriConnected)
        assert "api_key" not in items[0].url
        events = items[1:]
        assert events_of(items) == decoded(FRAMES)
        assert not any(isinstance(e, UnknownEvent) for e in events)
        start = next(e for e in events if isinstance(e, StasisStart))
        assert start.args == ("lookup",)
        assert start.channel.id == "1795860720.389"
        # subscription and credentials as Asterisk reads them
        path, auth = fake.requests[0]
        parts = urlsplit(path)
        assert parts.path == "/ari/events"
        assert parse_qs(parts.query) == {
            "app": ["cti-ivr"],
            "subscribeAll": ["true"],
            "api_key": ["cti:cti-secret"],
        }
        assert auth == "Basic " + base64.b64encode(b"cti:cti-secret").decode()
        assert stream.decoder.stats.decoded == len(FRAMES)


async def test_server_close_reconnects_and_resubscribes() -> None:
    first, second = FRAMES[:3], FRAMES[3:6]
    async with fake_ari(first, second) as fake, running(make_stream(fake.url)) as stream:
        items = await take(stream, 1 + 3 + 1 + 1 + 3)
        kinds = [type(i).__name__ for i in items]
        assert kinds[0] == "AriConnected"
        assert kinds[4:6] == ["AriDisconnected", "AriConnected"]
        gone = items[4]
        assert isinstance(gone, AriDisconnected)
        assert "1000" in gone.reason
        assert "bye" in gone.reason
        assert events_of(items) == decoded(first + second)
        assert len(fake.requests) == 2
        assert fake.requests[0][0] == fake.requests[1][0]  # same subscription again
        assert stream.stats.connects == 2
        assert stream.stats.disconnects == 1


async def test_junk_is_logged_counted_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    script = [FRAMES[0], "not json", '{"no": "type"}', '{"type": "Brand New"}', FRAMES[1]]
    async with fake_ari(script) as fake, running(make_stream(fake.url)) as stream:
        with caplog.at_level(logging.WARNING, "cti.ari"):
            items = await take(stream, 4)
        assert isinstance(items[0], AriConnected)
        assert isinstance(items[1], ChannelCreated)
        assert isinstance(items[2], UnknownEvent)
        assert items[2].type == "Brand New"
        assert isinstance(items[3], ChannelVarset)
        assert stream.decoder.stats.errors == 2
        assert stream.decoder.stats.unknown == 1
        assert stream.stats.frames == 5
        assert sum("skipped junk" in r.message for r in caplog.records) == 2


async def test_a_small_queue_and_a_slow_consumer_lose_nothing() -> None:
    frames = FRAMES * 5
    async with fake_ari(frames) as fake:
        stream = make_stream(fake.url, queue_size=2)
        async with running(stream):
            got: list[StreamItem] = []
            async with asyncio.timeout(10):
                while len(got) < 1 + len(frames):
                    got.append(await stream.queue.get())
                    if len(got) % 50 == 0:
                        await asyncio.sleep(0.01)  # the consumer lags behind
            assert events_of(got) == decoded(frames)


async def test_a_failing_consumer_drops_nothing(caplog: pytest.LogCaptureFixture) -> None:
    first, second = FRAMES[:4], FRAMES[4:8]
    seen: list[StreamItem] = []
    all_seen = asyncio.Event()

    async def handler(item: StreamItem) -> None:
        seen.append(item)
        if len(seen) == 1 + 4 + 1 + 1 + 4:
            all_seen.set()
        if len(seen) in (2, 3):
            raise RuntimeError("consumer bug")

    async with fake_ari(first, second) as fake, running(make_stream(fake.url)) as stream:
        consumer = asyncio.create_task(stream.serve(handler))
        try:
            await asyncio.wait_for(all_seen.wait(), 5)
        finally:
            consumer.cancel()
        assert stream.stats.handler_errors == 2
        assert stream.stats.connects == 2  # the failures did not touch the connection
        assert events_of(seen) == decoded(first + second)
        assert sum("handler failed" in r.message for r in caplog.records) == 2


async def test_refused_connections_back_off_and_close_stops_them() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    stream = make_stream(f"http://127.0.0.1:{port}")
    task = asyncio.create_task(stream.run())
    async with asyncio.timeout(5):
        while stream.stats.connect_failures < 3:  # noqa: ASYNC110 (a counter, no event to wait on)
            await asyncio.sleep(0.01)
    await stream.close()
    await asyncio.wait_for(task, 2)
    assert stream.queue.empty()  # no AriConnected, so no AriDisconnected either
    assert "ConnectionRefused" in stream.stats.last_error or "Errno" in stream.stats.last_error


async def test_close_ends_run_with_a_disconnected_item() -> None:
    async with fake_ari(FRAMES[:2]) as fake:
        stream = make_stream(fake.url)
        task = asyncio.create_task(stream.run())
        items = await take(stream, 3)
        assert isinstance(items[0], AriConnected)
        await stream.close()
        await asyncio.wait_for(task, 5)
        last = await take(stream, 1)
        assert isinstance(last[0], AriDisconnected)
        assert last[0].reason == "closed"
        assert len(fake.requests) == 1


async def _play_dead(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept the WebSocket handshake, then never answer a ping."""
    request = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    accept = base64.b64encode(hashlib.sha1(key + guid).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    await writer.drain()
    while await reader.read(4096):  # swallow pings and the close frame, answer nothing
        pass
    writer.close()


async def test_a_dead_peer_is_detected_by_pings() -> None:
    server = await asyncio.start_server(_play_dead, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stream = make_stream(
        f"http://127.0.0.1:{port}", ping_interval=0.05, ping_timeout=0.1, close_timeout=0.1
    )
    try:
        async with running(stream):
            items = await take(stream, 3)
    finally:
        server.close()
    assert isinstance(items[0], AriConnected)
    assert isinstance(items[1], AriDisconnected)
    assert "ping" in items[1].reason
    assert isinstance(items[2], AriConnected)  # and it tried again


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    stream = AriEventStream(
        "http://h:8088", "u", "p", ["a"], backoff_min=1.0, backoff_max=8.0, rng=random.Random(1)
    )
    assert stream.backoff(0) == 0.0
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        delays = {stream.backoff(failures) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 40  # jittered, not a fixed step


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://pbx:8088", "ws://pbx:8088/ari/events?app=a,b&subscribeAll=true"),
        ("https://pbx:8089/", "wss://pbx:8089/ari/events?app=a,b&subscribeAll=true"),
        ("ws://pbx:8088/ari", "ws://pbx:8088/ari/events?app=a,b&subscribeAll=true"),
        ("ws://pbx/ari/events", "ws://pbx/ari/events?app=a,b&subscribeAll=true"),
    ],
)
def test_events_url(url: str, expected: str) -> None:
    assert events_url(url, ["a", "b"], True) == expected


def test_credentials_are_encoded_and_bad_arguments_refused() -> None:
    assert events_url("http://h", ["a"], False, "u:p&x y") == (
        "ws://h/ari/events?app=a&subscribeAll=false&api_key=u:p%26x%20y"
    )
    with pytest.raises(ValueError, match="url"):
        events_url("ftp://h", ["a"], True)
    with pytest.raises(ValueError, match="application"):
        AriEventStream("http://h", "u", "p", ["a&b=c"])
    with pytest.raises(ValueError, match="application"):
        AriEventStream("http://h", "u", "p", [])
    with pytest.raises(ValueError, match="username"):
        AriEventStream("http://h", "u:x", "p", ["a"])
