"""The fake Asterisk: an AMI server on loopback for tests, the demo and benchmarks.

Strategy: a thin asyncio shell. Call generation (cti.sim.traffic), state and
list answers (cti.sim.state) are pure; this module accepts connections, parses
actions, writes the answers Asterisk 22 writes, and runs one ticker task that
asks the traffic engine for the frames now due and broadcasts them to every
logged-in session. Frame shapes come from the recorded traces: the login
answer, FullyBooted and SuccessfulAuth from the top of each trace, list
answers from snapshot_mid_call.jsonl, member events from agent_state.jsonl,
Originate from click_to_dial.jsonl.

Fault hooks for tests: `drop_connections()` aborts every client socket;
`set_silent(True)` stops all output and ignores input (a half-open peer);
stepped mode (`start_traffic(..., stepped=True)` then `await step(n)`) emits
exactly `n` frames on demand so a test can cut the connection at any point.
A client that stops reading is dropped once 16 MiB are buffered for it.

ARI (cti.sim.ari_server) runs on its own port (`ari_port`), started and
stopped with AMI; each tick writes the AMI frames, then flushes the ARI events
(their mirrors and what ARI requests caused), so ARI trails AMI as recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cti.ami.protocol import AmiParser, Event
from cti.sim.actions import first as _first
from cti.sim.actions import parse_action as _parse_action
from cti.sim.actions import truthy as _truthy
from cti.sim.ari_server import AriServer
from cti.sim.calls import LAB_AGENTS, LAB_QUEUES, AgentConfig, CallFlow, QueueConfig, Scenario
from cti.sim.control_actions import CONTROL_ACTIONS, answer_control_action
from cti.sim.state import SimState
from cti.sim.steps import Fields, render_frame, render_response
from cti.sim.trace import read_trace
from cti.sim.traffic import Traffic

__all__ = ["LAB_AGENTS", "LAB_QUEUES", "FakeAsterisk", "FrameListener"]

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
MAX_BUFFERED = 16 * 1024 * 1024

FrameListener = Callable[[Sequence[bytes], float], None]


@dataclass(eq=False, slots=True)
class _Session:
    writer: asyncio.StreamWriter
    session_id: int
    logged_in: bool = False
    events: bool = True
    buffer: bytearray = field(default_factory=bytearray)


class FakeAsterisk:
    """``fa = FakeAsterisk(); await fa.start(); ... fa.port ...; await fa.stop()``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "cti",
        secret: str = "cti-secret",
        *,
        agents: Sequence[AgentConfig] = LAB_AGENTS,
        queues: Sequence[QueueConfig] = LAB_QUEUES,
        epoch: float | None = None,
        seed: int = 1,
        bridge_item_action_id: bool = True,
        ari_port: int = 0,
        ari_username: str = "cti",
        ari_password: str = "cti-secret",
        playback_seconds: float = 0.8,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.secret = username, secret
        self.bridge_item_action_id = bridge_item_action_id
        self.connections_total = 0
        self.logins_total = 0
        self.failed_logins = 0
        self._epoch = time.time() if epoch is None else epoch
        self._seed = seed
        self._agents, self._queues = tuple(agents), tuple(queues)
        self.state = SimState(self._agents, self._queues, epoch=self._epoch)
        self.traffic = Traffic(self.state, self._agents, self._queues, seed=seed)
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._login_event = asyncio.Event()
        self._silent = False
        self._stepped = False
        self._t0 = 0.0
        self._next_session = 0x7F8DC8001A00
        self._listeners: list[FrameListener] = []
        # Test hooks for call control: every action received after login
        # (name, headers; Secret never kept), and how long a click-to-dial's far
        # end stays before hanging up (the lab dialplan waited 3 s).
        self.actions: deque[tuple[str, tuple[tuple[str, str], ...]]] = deque(maxlen=10_000)
        self.originate_hold_for = 3.0
        # Seconds before a list action's answer is written: a loaded Asterisk
        # answers CoreShowChannels & co. late, and fault tests use it to keep
        # a resync open long enough to cut it.
        self.list_reply_delay = 0.0
        self.ari = AriServer(
            lambda: self.traffic,
            self.now,
            self._wake.set,
            epoch=self._epoch,
            host=host,
            port=ari_port,
            username=ari_username,
            password=ari_password,
            playback_seconds=playback_seconds,
        )
        self.traffic.stasis_apps = self.ari.apps

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        self._t0 = asyncio.get_running_loop().time()
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick(), name="fake-asterisk-ticker")
        await self.ari.start()

    @property
    def ari_port(self) -> int:
        return self.ari.port

    async def stop(self) -> None:
        await self.ari.stop()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._server is not None:
            self._server.close()
        for s in list(self._sessions):
            s.writer.transport.abort()
        if self._tasks:
            # An aborted socket ends each session task; cancel only stragglers.
            _, pending = await asyncio.wait(set(self._tasks), timeout=1.0)
            for task in pending:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeAsterisk:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def now(self) -> float:
        """Seconds on the simulator's timeline (since start)."""
        if self._stepped:
            return self.traffic.now
        return asyncio.get_running_loop().time() - self._t0

    # -- test hooks --------------------------------------------------------------

    @property
    def sessions(self) -> int:
        """Connected sessions (logged in or not)."""
        return len(self._sessions)

    @property
    def logged_in(self) -> int:
        return sum(1 for s in self._sessions if s.logged_in)

    def drop_connections(self) -> None:
        """Abruptly close every client socket (RST, no Goodbye)."""
        for s in list(self._sessions):
            s.writer.transport.abort()

    def set_silent(self, silent: bool) -> None:
        """Stop answering and sending anything, keeping sockets open."""
        self._silent = silent

    def add_listener(self, listener: FrameListener) -> None:
        """Called with each batch of broadcast frames and the loop time it was written."""
        self._listeners.append(listener)

    async def wait_logged_in(self, count: int = 1) -> None:
        """Until `count` sessions are logged in (wrap it in asyncio.timeout)."""
        while self.logged_in < count:
            self._login_event.clear()
            await self._login_event.wait()

    # -- traffic -----------------------------------------------------------------

    def start_traffic(self, scenario: Scenario | None = None, *, stepped: bool = False) -> None:
        """Start generating calls. A scenario replaces agents, queues and state.

        `stepped`: nothing is sent by the clock; `await step(n)` sends frames.
        """
        self._stepped = stepped
        if scenario is not None:
            self._agents, self._queues = scenario.agents, scenario.queues
            self.state = SimState(self._agents, self._queues, epoch=self._epoch)
            self.traffic = Traffic(self.state, self._agents, self._queues, seed=scenario.seed)
            self.traffic.stasis_apps = self.ari.apps
            self.traffic.start_scenario(scenario, 0.0 if stepped else self.now())
        self._wake.set()

    def stop_traffic(self) -> None:
        """No new calls; calls in progress run to their end."""
        self.traffic.stop_scenario()

    def place_call(self, flow: CallFlow, delay: float = 0.0) -> str:
        """Schedule one call now (+delay); returns its Linkedid."""
        call = self.traffic.add_call(flow, self.now() + delay)
        self._wake.set()
        return call

    async def step(self, n: int = 1) -> list[bytes]:
        """Stepped mode: send the next `n` frames now; returns them."""
        frames = self.traffic.next_frames(n)
        if frames:
            await self._broadcast(frames)
        self.ari.flush()
        return frames

    async def _tick(self) -> None:
        while True:
            if not self._stepped:
                try:
                    frames = self.traffic.advance(self.now())
                except Exception:  # a simulator bug: say so, keep serving
                    log.exception("fake asterisk: traffic step failed")
                    frames = []
                if frames:
                    await self._broadcast(frames)
                due = self.traffic.next_due()
                delay = 0.05 if due is None else min(max(due - self.now(), 0.0), 0.05)
            else:
                delay = 0.05
            self.ari.flush()  # ARI trails the AMI frames of this tick
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    # -- trace replay ----------------------------------------------------------

    async def play_trace(self, path: Path | str, speed: float | None = 1.0) -> int:
        """Send a recorded trace's frames to every logged-in client.

        `speed` scales the recorded timing (2.0 = twice as fast); None sends as
        fast as possible. The frames also update the state, so list actions
        answer what the trace shows. Returns the number of frames sent.
        """
        frames = read_trace(path)
        if not frames:
            return 0
        loop = asyncio.get_running_loop()
        start, t_first = loop.time(), frames[0].t
        parser = AmiParser()
        parser.feed(BANNER)
        for i, frame in enumerate(frames):
            if speed is not None:
                delay = start + (frame.t - t_first) / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            for msg in parser.feed(frame.raw):
                if isinstance(msg, Event):
                    self.state.apply(msg.name, tuple(msg.fields.items()), self.now())
            await self._broadcast([frame.raw])
            if speed is None and i % 256 == 255:
                await asyncio.sleep(0)
        return len(frames)

    # -- sessions ----------------------------------------------------------------

    async def _broadcast(self, frames: Sequence[bytes]) -> None:
        self.ari.mirror_frames(frames)
        if self._silent:
            return
        data = b"".join(frames)
        for s in list(self._sessions):
            if s.logged_in and s.events:
                self._write(s, data)
        t = asyncio.get_running_loop().time()
        for listener in self._listeners:
            try:
                listener(frames, t)
            except Exception:  # a broken test hook must not stop the traffic
                log.exception("fake asterisk: frame listener failed")
        await asyncio.sleep(0)

    def _write(self, s: _Session, data: bytes) -> None:
        transport = s.writer.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_BUFFERED:
            log.warning("fake asterisk: dropping a client that stopped reading")
            transport.abort()
            return
        transport.write(data)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.connections_total += 1
        self._next_session += 0x1010
        session = _Session(writer, self._next_session)
        self._sessions.add(session)
        try:
            if not self._silent:
                writer.write(BANNER)
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self._silent:
                    continue
                session.buffer += data
                while True:
                    end = session.buffer.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    frame = bytes(session.buffer[:end])
                    del session.buffer[: end + 4]
                    if frame.strip() and not self._handle(session, _parse_action(frame)):
                        await writer.drain()
                        writer.close()
                        return
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels a session; ending quietly keeps asyncio's
            # stream callback from logging the cancellation as an error.
            pass
        finally:
            self._sessions.discard(session)
            if task is not None:
                self._tasks.discard(task)
            writer.transport.abort()

    def _reply(self, s: _Session, data: bytes | Sequence[bytes]) -> None:
        if self._silent:
            return
        self._write(s, data if isinstance(data, bytes) else b"".join(data))

    def _handle(self, s: _Session, pairs: list[tuple[str, str]]) -> bool:
        """Answer one action; False when the session must end (Logoff)."""
        action = (_first(pairs, "Action") or "").lower()
        aid = _first(pairs, "ActionID")
        if not s.logged_in and action not in ("login", "logoff", "challenge"):
            self._reply(s, render_response("Error", aid, ("Message", "Permission denied")))
            return True
        if s.logged_in:
            self.actions.append((action, tuple(pairs)))
        if action in CONTROL_ACTIONS:
            answer = answer_control_action(action, self.state, pairs, aid, self.now())
            self._reply(s, answer.response)
            self._after_reply(list(answer.events))
            if action in ("blindtransfer", "atxfer") and answer.ok:
                # the legs a transfer dials come from the traffic engine
                carry_out = (
                    self.traffic.blind_transfer
                    if action == "blindtransfer"
                    else self.traffic.attended_transfer
                )
                carry_out(
                    _first(pairs, "Channel") or "",
                    _first(pairs, "Context") or "",
                    _first(pairs, "Exten") or "",
                )
                self._wake.set()
            return True
        handler = _ACTIONS.get(action)
        if handler is None:
            msg = "Missing action in request" if not action else "Invalid/unknown command"
            self._reply(s, render_response("Error", aid, ("Message", msg)))
            return True
        return handler(self, s, pairs, aid)

    def _login(self, s: _Session, pairs: list[tuple[str, str]], aid: str | None) -> bool:
        if _first(pairs, "Username") != self.username or _first(pairs, "Secret") != self.secret:
            self.failed_logins += 1
            self._reply(s, render_response("Error", aid, ("Message", "Authentication failed")))
            return True
        self.logins_total += 1
        s.events = (_first(pairs, "Events") or "on").lower() != "off"
        uptime = str(int(self.now()) + 60)
        self._reply(
            s,
            [
                render_response("Success", aid, ("Message", "Authentication accepted")),
                render_frame(
                    "FullyBooted",
                    (
                        ("Privilege", "system,all"),
                        ("Uptime", uptime),
                        ("LastReload", uptime),
                        ("Status", "Fully Booted"),
                    ),
                ),
            ],
        )
        s.logged_in = True
        self._login_event.set()
        auth = render_frame("SuccessfulAuth", self._auth_fields(s))
        # Every logged-in session sees each login, as in agent_state.jsonl.
        for other in list(self._sessions):
            if other.logged_in and other.events and not self._silent:
                self._write(other, auth)
        return True

    def _auth_fields(self, s: _Session) -> Fields:
        tv = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        peer = s.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        return (
            ("Privilege", "security,all"),
            ("EventTV", tv),
            ("Severity", "Informational"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
            ("AccountID", self.username),
            ("SessionID", hex(s.session_id)),
            ("LocalAddress", f"IPV4/TCP/{self.host}/{self.port}"),
            ("RemoteAddress", f"IPV4/TCP/{peer[0]}/{peer[1]}"),
            ("UsingPassword", "0"),
            ("SessionTV", tv),
        )

    def _logoff(self, s: _Session, pairs: list[tuple[str, str]], aid: str | None) -> bool:
        self._reply(s, render_response("Goodbye", aid, ("Message", "Thanks for all the fish.")))
        return False

    def _ping(self, s: _Session, pairs: list[tuple[str, str]], aid: str | None) -> bool:
        ts = f"{time.time():.6f}"
        self._reply(s, render_response("Success", aid, ("Ping", "Pong"), ("Timestamp", ts)))
        return True

    def _list(self, s: _Session, message: str, aid: str | None, items: list[bytes]) -> None:
        start = render_response("Success", aid, ("EventList", "start"), ("Message", message))
        if self.list_reply_delay > 0:
            # the answer as of now, written later (to a socket that may be gone)
            data = b"".join([start, *items])
            asyncio.get_running_loop().call_later(self.list_reply_delay, self._reply, s, data)
        else:
            self._reply(s, [start, *items])

    def _core_show_channels(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        items = self.state.core_show_channels(aid or "", self.now())
        self._list(s, "Channels will follow", aid, items)
        return True

    def _queue_status(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        items = self.state.queue_status(
            aid or "", self.now(), _first(p, "Queue"), _first(p, "Member")
        )
        self._list(s, "Queue status will follow", aid, items)
        return True

    def _queue_summary(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        items = self.state.queue_summary(aid or "", self.now(), _first(p, "Queue"))
        self._list(s, "Queue summary will follow", aid, items)
        return True

    def _bridge_list(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        items = self.state.bridge_list(aid or "", item_action_id=self.bridge_item_action_id)
        self._list(s, "Bridge listing will follow", aid, items)
        return True

    def _device_state_list(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        self._list(
            s, "Device State Changes will follow", aid, self.state.device_state_list(aid or "")
        )
        return True

    def _after_reply(self, events: list[bytes]) -> None:
        """Events an action caused go to everyone, after the Response."""
        self.ari.mirror_frames(events)
        if events and not self._silent:
            data = b"".join(events)
            for other in list(self._sessions):
                if other.logged_in and other.events:
                    self._write(other, data)

    def _queue_pause(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        iface = _first(p, "Interface") or ""
        paused = _truthy(_first(p, "Paused"))
        events = self.state.pause(
            iface, paused, _first(p, "Queue"), _first(p, "Reason") or "", self.now()
        )
        if events is None:
            self._reply(s, render_response("Error", aid, ("Message", "Interface not found")))
            return True
        msg = "Interface paused successfully" if paused else "Interface unpaused successfully"
        self._reply(s, render_response("Success", aid, ("Message", msg)))
        self._after_reply(events)
        return True

    def _queue_add(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        queue, iface = _first(p, "Queue") or "", _first(p, "Interface") or ""
        if not queue or not iface:
            self._reply(
                s,
                render_response(
                    "Error", aid, ("Message", "'Queue' and 'Interface' not specified.")
                ),
            )
            return True
        if queue not in self.state.queues:
            msg = "Unable to add interface to queue: No such queue"
            self._reply(s, render_response("Error", aid, ("Message", msg)))
            return True
        events = self.state.add_member(
            queue,
            iface,
            _first(p, "MemberName") or iface,
            int(_first(p, "Penalty") or 0),
            _truthy(_first(p, "Paused")),
            _first(p, "Reason") or "",
            self.now(),
        )
        if events is None:
            msg = "Unable to add interface: Already there"
            self._reply(s, render_response("Error", aid, ("Message", msg)))
            return True
        self._reply(s, render_response("Success", aid, ("Message", "Added interface to queue")))
        self._after_reply(events)
        return True

    def _queue_remove(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        queue, iface = _first(p, "Queue") or "", _first(p, "Interface") or ""
        if queue not in self.state.queues:
            msg = "Unable to remove interface from queue: No such queue"
            self._reply(s, render_response("Error", aid, ("Message", msg)))
            return True
        events = self.state.remove_member(queue, iface)
        if events is None:
            msg = "Unable to remove interface: Not there"
            self._reply(s, render_response("Error", aid, ("Message", msg)))
            return True
        self._reply(s, render_response("Success", aid, ("Message", "Removed interface from queue")))
        self._after_reply(events)
        return True

    def _originate(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        channel = _first(p, "Channel")
        if not channel:
            self._reply(s, render_response("Error", aid, ("Message", "Channel not specified")))
            return True
        exten = _first(p, "Exten") or "s"
        variables: list[tuple[str, str]] = []
        for key, value in p:
            if key.lower() == "variable":
                for item in value.split(","):
                    name, _, val = item.partition("=")
                    if name:
                        variables.append((name.strip(), val))
        application = _first(p, "Application")
        if application is not None and not application:
            self._reply(s, render_response("Error", aid, ("Message", "Application not specified")))
            return True
        self._reply(
            s, render_response("Success", aid, ("Message", "Originate successfully queued"))
        )
        self.traffic.originate(
            channel,
            exten,
            aid or "",
            tuple(variables),
            at=self.now(),
            # ChanSpy and friends run until the spy hangs up
            hold_for=3600.0 if application else self.originate_hold_for,
            application=(application, _first(p, "Data") or "") if application else None,
        )
        self._wake.set()
        return True

    def _hangup(self, s: _Session, p: list[tuple[str, str]], aid: str | None) -> bool:
        channel = _first(p, "Channel") or ""
        if channel not in self.state.channels:
            self._reply(s, render_response("Error", aid, ("Message", "No such channel")))
            return True
        self.traffic.hangup(channel)
        self._reply(s, render_response("Success", aid, ("Message", "Channel Hungup")))
        self._wake.set()
        return True


_Handler = Callable[[FakeAsterisk, _Session, list[tuple[str, str]], str | None], bool]
_ACTIONS: dict[str, _Handler] = {
    "login": FakeAsterisk._login,
    "logoff": FakeAsterisk._logoff,
    "ping": FakeAsterisk._ping,
    "coreshowchannels": FakeAsterisk._core_show_channels,
    "queuestatus": FakeAsterisk._queue_status,
    "queuesummary": FakeAsterisk._queue_summary,
    "bridgelist": FakeAsterisk._bridge_list,
    "devicestatelist": FakeAsterisk._device_state_list,
    "queuepause": FakeAsterisk._queue_pause,
    "queueadd": FakeAsterisk._queue_add,
    "queueremove": FakeAsterisk._queue_remove,
    "originate": FakeAsterisk._originate,
    "hangup": FakeAsterisk._hangup,
}
