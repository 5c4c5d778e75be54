"""Helpers for the end-to-end tests: the real stack on loopback, a recording publisher.

Strategy: an `AmiRig` is the CTI's intake path as it runs in production (a
`FakeAsterisk` on 127.0.0.1:0, a real `AmiClient` and a real `Engine`), with
the WebSocket hub replaced by `RecordingPublisher`, a fake that keeps every
(target, payload) it is given. Tests step the fake Asterisk frame by frame and
wait, with a timeout, until the engine has consumed what was sent; nothing
here sleeps for a fixed time to "let things settle".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trace_paths import TRACES

from cti.ami.client import AmiClient
from cti.ami.protocol import AmiParser, Event
from cti.ami.stream import Snapshot, StreamItem
from cti.engine import Engine
from cti.model.model import Model
from cti.sim import FakeAsterisk

__all__ = [
    "TRACES",
    "AmiRig",
    "RecordingPublisher",
    "TracingEngine",
    "open_rig",
    "parse_frames",
    "wait_for",
]


BANNER = b"Asterisk Call Manager/11.0.0\r\n"
WAIT = 5.0  # seconds: every wait in these tests gives up after this


@dataclass(slots=True)
class RecordingPublisher:
    """The engine's Publisher as a list: ("iface:PJSIP/1001" | "role:supervisor" |
    "about:call" | "about:queue" | "about:agent", payload)."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_on: Callable[[str, Mapping[str, Any]], bool] | None = None
    raised: int = 0

    def _record(self, target: str, payload: Mapping[str, Any]) -> None:
        if self.fail_on is not None and self.fail_on(target, payload):
            self.raised += 1
            raise RuntimeError(f"publisher refused {payload.get('type')} for {target}")
        self.sent.append((target, dict(payload)))

    def publish_to_interface(self, interface: str, payload: Mapping[str, Any]) -> None:
        self._record(f"iface:{interface}", payload)

    def publish_to_interfaces(self, interfaces: Iterable[str], payload: Mapping[str, Any]) -> None:
        for interface in interfaces:
            self.publish_to_interface(interface, payload)

    def publish_to_role(self, role: str, payload: Mapping[str, Any]) -> None:
        self._record(f"role:{role}", payload)

    def publish_about_queue(self, queue: str, payload: Mapping[str, Any]) -> None:
        self._record("about:queue", payload)

    def publish_about_agent(
        self, interface: str, queues: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        self._record("about:agent", payload)

    def publish_about_call(
        self, queue: str | None, parties: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        self._record("about:call", payload)

    def of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(t, p) for t, p in self.sent if p.get("type") == kind]


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:  # noqa: ASYNC109
    """Poll `condition` on every loop turn (and every ms) until true; fail after `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            # the conditions are counters of other parts: there is no event to await
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.001)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


class TracingEngine(Engine):
    """The real Engine, also noting the kind of each stream item it handles."""

    def __init__(self, *, model: Model, publisher: RecordingPublisher) -> None:
        super().__init__(model=model, publisher=publisher)
        self.kinds: list[str] = []

    async def handle(self, item: StreamItem) -> None:
        if isinstance(item, Snapshot) and not item.complete:
            self.kinds.append("SnapshotPart")
        elif not isinstance(item, Event):
            self.kinds.append(type(item).__name__)
        await super().handle(item)


@dataclass(slots=True)
class AmiRig:
    fake: FakeAsterisk
    client: AmiClient
    engine: TracingEngine
    publisher: RecordingPublisher

    def idle(self) -> bool:
        """Every event the client queued has been handled by the engine."""
        return self.client.stream.empty() and self.engine.stats.events == self.client.stats.events

    async def step(self, n: int) -> list[bytes]:
        """Send the next `n` frames and wait until the engine has applied them.

        Only valid while the client is connected and not resyncing: each frame
        the fake sends is then exactly one event in the client's stream.
        """
        base = self.client.stats.events
        frames = await self.fake.step(n)
        want = base + len(frames)
        await wait_for(
            lambda: self.client.stats.events >= want and self.idle(),
            f"the engine to apply {len(frames)} frames",
        )
        return frames

    def resynced(self) -> bool:
        """The latest login's Snapshot is applied and nothing is left to handle."""
        kinds = self.engine.kinds
        return (
            self.client.connected
            and kinds.count("Connected") == self.client.stats.connects
            and bool(kinds)
            and kinds[-1] == "Snapshot"
            and self.idle()
        )

    async def wait_snapshots(self, count: int) -> None:
        await wait_for(
            lambda: self.engine.stats.snapshots >= count and self.idle(),
            f"resync snapshot #{count} applied",
        )


@contextlib.asynccontextmanager
async def open_rig(
    publisher: RecordingPublisher | None = None,
    *,
    devices: Iterable[str] = ("PJSIP/1001", "PJSIP/1002"),
    epoch: float = 1_795_860_134.0,
) -> AsyncIterator[AmiRig]:
    """Fake Asterisk (stepped, no calls yet) + AmiClient + Engine, connected and resynced."""
    publisher = publisher if publisher is not None else RecordingPublisher()
    async with FakeAsterisk(epoch=epoch) as fake:
        fake.start_traffic(stepped=True)
        client = AmiClient(
            "127.0.0.1",
            fake.port,
            "cti",
            "cti-secret",
            reconnect_min=0.01,
            reconnect_max=0.05,
            action_timeout=2.0,
            connect_timeout=2.0,
        )
        engine = TracingEngine(model=Model(devices=devices), publisher=publisher)
        ami_task = asyncio.create_task(client.run(), name="e2e-ami")
        engine_task = asyncio.create_task(engine.run(client.stream), name="e2e-engine")
        rig = AmiRig(fake, client, engine, publisher)
        try:
            await rig.wait_snapshots(1)
            yield rig
        finally:
            await client.close()
            engine_task.cancel()
            for task in (ami_task, engine_task):
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, WAIT)


def parse_frames(frames: Iterable[bytes]) -> list[Event]:
    """The events in `frames` (one per frame, as the fake Asterisk sends them)."""
    parser = AmiParser()
    parser.feed(BANNER)
    out: list[Event] = []
    for data in frames:
        msgs = parser.feed(data)
        assert len(msgs) == 1, msgs
        (msg,) = msgs
        assert isinstance(msg, Event), msg
        out.append(msg)
    return out
