"""The fake Asterisk's ARI: REST under /ari and the /ari/events WebSocket.

Strategy: a small starlette app on its own uvicorn, bound to loopback beside
the AMI server, sharing the fake's state and traffic engine. Nothing here
decides what a call does: REST requests become requests to the traffic engine
(cti.sim.traffic: answer, set a variable, continue, hang up), whose AMI frames
the fake then writes as usual, and the ARI events come from those frames
(cti.sim.ari_mirror) plus the few only ARI has (StasisStart/End, Playback*).

Ordering between the two streams, as recorded in ari_stasis_ivr.jsonl: ARI
trails AMI. Each tick the fake writes its AMI frames first, then flushes the
ARI events queued since the last tick, in order: mirrors of those frames and
what REST requests caused meanwhile (so StasisEnd, queued by ``continue``,
reaches the client after AMI already showed the call joining the queue and
ringing an agent, and before the ChannelVarset STASISSTATUS=SUCCESS mirror).

Errors answer as Asterisk does: 401 without valid credentials (Basic auth or
``api_key=user:pass``), 404 ``Channel not found``, 409 ``Channel not in Stasis
application``, 400 for a missing parameter. A WebSocket client that stops
reading is dropped once `MAX_QUEUED` events wait for it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from cti.sim.ari_mirror import ASTERISK_ID, AriMessage, AriMirror, ari_timestamp
from cti.sim.stasis import STASIS_DNIS
from cti.sim.traffic import Traffic

__all__ = ["MAX_QUEUED", "AriServer"]

log = logging.getLogger(__name__)

MAX_QUEUED = 100_000
_START_TIMEOUT = 5.0


@dataclass(eq=False, slots=True)
class _Subscriber:
    apps: tuple[str, ...]
    subscribe_all: bool
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


class AriServer:
    """Served by `FakeAsterisk`; `port` is known after `start()`."""

    def __init__(
        self,
        traffic: Callable[[], Traffic],
        clock: Callable[[], float],
        wake: Callable[[], None],
        *,
        epoch: float,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "cti",
        password: str = "cti-secret",
        playback_seconds: float = 0.8,
        asterisk_id: str = ASTERISK_ID,
    ) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.playback_seconds = playback_seconds
        self.apps: set[str] = set()  # registered Stasis apps (shared with the traffic)
        self.mirror = AriMirror(asterisk_id)
        self.events_sent = 0
        self._traffic, self._clock, self._wake = traffic, clock, wake
        self._epoch = epoch
        self._app_refs: Counter[str] = Counter()
        self._subs: set[_Subscriber] = set()
        self._outbox: list[AriMessage] = []
        self._listeners: list[Callable[[Sequence[AriMessage]], None]] = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self.app = Starlette(
            routes=[
                Route("/ari/asterisk/info", self._info, methods=["GET"]),
                Route("/ari/channels", self._channels, methods=["GET"]),
                Route("/ari/channels/{id}", self._hangup, methods=["DELETE"]),
                Route("/ari/channels/{id}/variable", self._variable, methods=["POST"]),
                Route("/ari/channels/{id}/continue", self._continue, methods=["POST"]),
                Route("/ari/channels/{id}/answer", self._answer, methods=["POST"]),
                Route("/ari/channels/{id}/hold", self._hold, methods=["POST", "DELETE"]),
                Route("/ari/channels/{id}/dtmf", self._dtmf, methods=["POST"]),
                Route("/ari/channels/{id}/play", self._play, methods=["POST"]),
                WebSocketRoute("/ari/events", self._events),
            ]
        )

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
            ws_ping_interval=None,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._sock = sock
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="fake-ari")
        async with asyncio.timeout(_START_TIMEOUT):
            while not self._server.started:  # uvicorn only offers a flag
                if self._task.done():
                    await self._task  # raises what failed
                await asyncio.sleep(0.005)

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for sub in list(self._subs):
            self._close(sub)
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 3.0)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._sock is not None:
            self._sock.close()
        self._server = self._task = self._sock = None

    def add_listener(self, listener: Callable[[Sequence[AriMessage]], None]) -> None:
        """Called with each flushed batch of ARI events (before they are sent)."""
        self._listeners.append(listener)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    # -- the stream ------------------------------------------------------------

    def _wall(self) -> float:
        return self._epoch + self._clock()

    def mirror_frames(self, frames: Sequence[bytes]) -> None:
        """The fake wrote these AMI frames: queue their ARI counterparts.

        Also announces the calls that entered a registered Stasis application
        meanwhile (StasisStart follows the frames that led there). Nothing is
        translated while no client listens.
        """
        if self._subs:
            wall = self._wall()
            for raw in frames:
                if raw.startswith(b"Event: "):
                    self._outbox += self.mirror.feed(raw, wall)
        traffic = self._traffic()
        for entry in traffic.take_stasis_started():
            channel = traffic.state.channels.get(entry.channel)
            if channel is None:
                continue
            start = self.mirror.stasis_start(channel.fields, entry.app, entry.args, self._wall())
            self._outbox.append(start)

    def flush(self) -> None:
        """Send every queued ARI event, in order (called after the AMI frames of a tick)."""
        if not self._outbox:
            return
        batch, self._outbox = self._outbox, []
        for listener in self._listeners:
            try:
                listener(batch)
            except Exception:  # a broken test hook must not stop the stream
                log.exception("fake asterisk: ARI listener failed")
        for sub in list(self._subs):
            for msg in batch:
                for app in sub.apps:
                    if sub.subscribe_all or app in msg.apps:
                        self._send(sub, {**msg.body, "application": app})

    def _send(self, sub: _Subscriber, body: dict[str, object]) -> None:
        try:
            sub.queue.put_nowait(json.dumps(body))
            self.events_sent += 1
        except asyncio.QueueFull:
            log.warning("fake asterisk: dropping an ARI client that stopped reading")
            self._close(sub)

    def _close(self, sub: _Subscriber) -> None:
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                sub.queue.get_nowait()
        sub.queue.put_nowait(None)  # the sender closes the socket
        self._forget(sub)

    def _forget(self, sub: _Subscriber) -> None:
        if sub not in self._subs:
            return
        self._subs.discard(sub)
        for app in sub.apps:
            self._app_refs[app] -= 1
            if self._app_refs[app] <= 0:
                del self._app_refs[app]
                self.apps.discard(app)

    # -- auth ------------------------------------------------------------------

    def _authorized(self, headers: dict[str, str] | None, api_key: str | None) -> bool:
        if api_key is not None:
            user, _, password = api_key.partition(":")
            return (user, password) == (self.username, self.password)
        auth = (headers or {}).get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (user, password) == (self.username, self.password)

    def _check(self, request: Request) -> JSONResponse | None:
        if not self._authorized(dict(request.headers), request.query_params.get("api_key")):
            return _error(401, "Authentication required")
        return None

    async def _events(self, ws: WebSocket) -> None:
        params = ws.query_params
        if not self._authorized(dict(ws.headers), params.get("api_key")):
            await ws.send_denial_response(_error(401, "Authentication required"))
            return
        apps = tuple(a for a in (params.get("app") or "").split(",") if a)
        if not apps:
            await ws.send_denial_response(_error(400, "Missing param app"))
            return
        subscribe_all = (params.get("subscribeAll") or "").lower() in ("true", "1", "yes")
        await ws.accept()
        sub = _Subscriber(apps, subscribe_all)
        self._subs.add(sub)
        for app in apps:
            self._app_refs[app] += 1
            self.apps.add(app)
        sender = asyncio.create_task(self._sender(ws, sub))
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
        except WebSocketDisconnect:
            pass
        finally:
            self._forget(sub)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _sender(self, ws: WebSocket, sub: _Subscriber) -> None:
        try:
            while True:
                text = await sub.queue.get()
                if text is None:
                    await ws.close(1000)
                    return
                await ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the reader notices the disconnect and cleans up

    # -- REST ----------------------------------------------------------------------

    async def _info(self, request: Request) -> Response:
        if (denied := self._check(request)) is not None:
            return denied
        started = ari_timestamp(self._epoch)
        return JSONResponse(
            {
                "build": {
                    "os": "Linux",
                    "kernel": "",
                    "machine": "x86_64",
                    "options": "",
                    "date": "",
                    "user": "",
                },
                "system": {"version": "22.0.0-cti-fake", "entity_id": self.mirror.asterisk_id},
                "config": {
                    "name": "",
                    "default_language": "en",
                    "setid": {"user": "", "group": ""},
                },
                "status": {"startup_time": started, "last_reload_time": started},
            }
        )

    async def _channels(self, request: Request) -> Response:
        if (denied := self._check(request)) is not None:
            return denied
        state = self._traffic().state
        out = [
            self.mirror.channel_from(
                ch.fields,
                ari_timestamp(state.epoch + ch.created),
                app=(ch.application, ch.app_data),
            )
            for ch in state.channels.values()
        ]
        return JSONResponse(out)

    def _find(self, request: Request, *, stasis: bool = True) -> tuple[str, Response | None]:
        """The channel name for the path's id, or the error answer."""
        if (denied := self._check(request)) is not None:
            return "", denied
        uid = request.path_params["id"]
        traffic = self._traffic()
        for name, ch in traffic.state.channels.items():
            if dict(ch.fields).get("Uniqueid") == uid:
                if stasis and not traffic.in_stasis(name):
                    return name, _error(409, "Channel not in Stasis application")
                return name, None
        return "", _error(404, "Channel not found")

    def _done(self) -> Response:
        self._wake()
        return Response(status_code=204)

    async def _variable(self, request: Request) -> Response:
        name, denied = self._find(request)
        if denied is not None:
            return denied
        variable = request.query_params.get("variable")
        if not variable:
            return _error(400, "Variable name is required")
        value = request.query_params.get("value", "")
        self._traffic().stasis_set_variable(name, variable, value, at=self._clock())
        return self._done()

    async def _continue(self, request: Request) -> Response:
        name, denied = self._find(request)
        if denied is not None:
            return denied
        q = request.query_params
        traffic = self._traffic()
        channel = traffic.state.channels[name]
        fields = channel.fields
        end = self.mirror.stasis_end(fields, self._wall())
        if end is not None:
            self._outbox.append(end)
        here = dict(fields)
        target = (q.get("context"), q.get("extension"), q.get("priority"), q.get("label"))
        default = (here.get("Context"), here.get("Exten"), "4", None)
        if (
            all(v is None or v == d for v, d in zip(target, default, strict=True))
            and here.get("Exten") == STASIS_DNIS
        ):
            traffic.stasis_continue(name, at=self._clock())
        else:
            # The fake knows one dialplan location after Stasis; elsewhere it
            # behaves as Asterisk at a missing extension: the channel hangs up.
            traffic.hangup(name)
        return self._done()

    async def _answer(self, request: Request) -> Response:
        name, denied = self._find(request)
        if denied is not None:
            return denied
        self._traffic().stasis_answer(name, at=self._clock())
        return self._done()

    async def _hangup(self, request: Request) -> Response:
        name, denied = self._find(request, stasis=False)
        if denied is not None:
            return denied
        if not self._traffic().hangup(name):
            return _error(501, "The fake Asterisk cannot hang up this channel")
        return self._done()

    async def _hold(self, request: Request) -> Response:
        name, denied = self._find(request)
        if denied is not None:
            return denied
        event = "Hold" if request.method == "POST" else "Unhold"
        self._traffic().stasis_channel_event(name, event, "call,all", at=self._clock())
        return self._done()

    async def _dtmf(self, request: Request) -> Response:
        name, denied = self._find(request)
        if denied is not None:
            return denied
        digits = request.query_params.get("dtmf")
        if not digits:
            return _error(400, "DTMF is required")
        traffic, at = self._traffic(), self._clock()
        for digit in digits:
            for kind, extra in (("DTMFBegin", ()), ("DTMFEnd", (("DurationMs", "100"),))):
                traffic.stasis_channel_event(
                    name, kind, "dtmf,all", ("Digit", digit), ("Direction", "Sent"), *extra, at=at
                )
            at += 0.1
        return self._done()

    async def _play(self, request: Request) -> Response:
        name, denied = self._find(request)
        if denied is not None:
            return denied
        media = request.query_params.get("media")
        if not media:
            return _error(400, "Missing param media")
        uid = request.path_params["id"]
        playback: dict[str, object] = {
            "id": request.query_params.get("playbackId") or str(uuid.uuid4()),
            "media_uri": media,
            "target_uri": f"channel:{uid}",
            "language": request.query_params.get("lang") or "en",
            "state": "playing",
        }
        app = self.mirror.in_stasis.get(name, "")
        self._outbox.append(
            self.mirror.playback("PlaybackStarted", dict(playback), app, self._wall())
        )
        self._wake()
        finished = {**playback, "state": "done"}

        def finish() -> None:
            self._timers.discard(timer)
            self._outbox.append(
                self.mirror.playback("PlaybackFinished", finished, app, self._wall())
            )
            self._wake()

        timer = asyncio.get_running_loop().call_later(self.playback_seconds, finish)
        self._timers.add(timer)
        return JSONResponse(playback, status_code=201)
