"""The FastAPI application: login, REST snapshots, the event WebSocket, the agent page.

Strategy: `create_app` only wires things it is given (a `UserDirectory`, a
`StateView`, a `Hub`, `Settings`), so tests build it around in-memory fakes
and the engine around the real store and model. Routes are thin: they check
who is asking, filter, and return the schemas.

WebSocket `/ws?token=<jwt>[&since=<seq>&stream_id=<id>]`: the handshake is
always accepted, then a refused client is closed at once with a code a
browser can read (a handshake rejected with HTTP 401/403 reaches browser
JavaScript only as an opaque 1006):
  4401  missing, invalid or expired token, or unknown user (reason says which);
        also sent when the token expires during the session
  4400  malformed `since`
  4429  the client was too slow to read its events; reconnect with since
  1001  server shutting down
Client messages of type `command` are call controls (cti.web.control), answered
on the same socket by an unnumbered `command_result`; `chat_*` messages are chat
(cti.web.chat_socket, docs/chat.md); other messages are ignored.
The call-control REST routes live in cti.web.control too.
"""

# No `from __future__ import annotations` here: FastAPI must evaluate the route
# annotations, which name the local `current_user` dependency.
import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, WebSocket, status
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Lifespan

from cti.chat import ChatService
from cti.config import Settings
from cti.history import HistoryService
from cti.metrics import QueueMetrics
from cti.web.auth import AuthError, TokenAuth, bearer_user
from cti.web.chat_presence import PresenceNotifier, chat_watchers
from cti.web.chat_socket import ChatSocket
from cti.web.control import CommandSocket, add_control_routes
from cti.web.hub import CLOSE_TOO_SLOW, Connection, Hub, user_schema
from cti.web.ports import CallControl, StateView, User, UserDirectory
from cti.web.routes_agents import AgentControlPort, agent_router
from cti.web.routes_chat import chat_router, hub_presence
from cti.web.routes_history import history_router
from cti.web.routes_metrics import metrics_router
from cti.web.schemas import (
    AgentSchema,
    CallSchema,
    HealthResponse,
    LoginRequest,
    LoginResponse,
    MeResponse,
    QueueSchema,
    StreamPosition,
)
from cti.web.scope import Scope
from cti.web.webchat import WebchatCommands, WebchatService, WebchatStore, add_webchat_routes

__all__ = ["CLOSE_BAD_REQUEST", "CLOSE_UNAUTHORIZED", "STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"
CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_REQUEST = 4400
_CLOSE_TIMEOUT = 2.0
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _calls_for(user: User, calls: Sequence[CallSchema]) -> list[CallSchema]:
    scope = Scope.of(user)
    if scope.everything:
        return list(calls)
    return [
        c
        for c in calls
        if scope.sees_call(c.queue, [*c.parties, c.agent] if c.agent else c.parties)
    ]


def _agents_for(user: User, agents: Sequence[AgentSchema]) -> list[AgentSchema]:
    scope = Scope.of(user)
    return [a for a in agents if scope.sees_agent(a.interface, a.queues)]


def _queues_for(user: User, queues: Sequence[QueueSchema]) -> list[QueueSchema]:
    scope = Scope.of(user)
    mine = user.interface
    return [q for q in queues if scope.sees_queue(q.name, [q.name] if mine in q.members else ())]


def create_app(
    *,
    users: UserDirectory,
    state: StateView,
    hub: Hub,
    settings: Settings,
    lifespan: Lifespan[Any] | None = None,
    control: CallControl | None = None,
    agent_control: AgentControlPort | None = None,
    chat: ChatService | None = None,
    metrics: QueueMetrics | None = None,
    history: HistoryService | None = None,
    webchat_store: WebchatStore | None = None,
) -> FastAPI:
    """`control`: the call controls, `agent_control`: the agent-state commands,
    `chat`: chat (cti.web.routes_chat), `webchat_store` (with `chat`): customer
    web chat (cti.web.webchat); without them their routes answer 503."""
    auth = TokenAuth(users, settings)
    app = FastAPI(
        title="CTI",
        summary="Live calls, queues and agents from Asterisk; screen-pops over WebSocket",
        description="WebSocket events on /ws are documented in docs/events.md.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.auth = auth
    current_user = Depends(bearer_user(auth))
    presence_of = hub_presence(hub, state)
    # chat presence pushed live (docs/chat.md); cti.app feeds it the agent states
    presence: PresenceNotifier | None = None
    if chat is not None:
        watchers = chat_watchers(chat)
        presence = PresenceNotifier(
            presence_of, watchers, chat.delivery, hub, known_watchers=watchers.cached
        )
    app.state.presence = presence

    def position(user: User) -> StreamPosition:
        stream_id, seq = hub.register(user)
        return StreamPosition(stream_id=stream_id, seq=seq)

    @app.post(
        "/api/login",
        responses={401: {"description": "invalid login or password"}},
        tags=["auth"],
    )
    async def login(body: LoginRequest) -> LoginResponse:
        """Exchange a password for a token. Starts the user's event stream."""
        try:
            issued = await auth.login(body.login, body.password)
        except AuthError as exc:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=str(exc)) from exc
        return LoginResponse(
            token=issued.token,
            expires_at=issued.expires_at,
            user=user_schema(issued.user),
            stream=position(issued.user),
        )

    @app.get("/api/me", tags=["auth"])
    async def me(user: Annotated[User, current_user]) -> MeResponse:
        """Who the token belongs to, and where their event stream stands."""
        return MeResponse(user=user_schema(user), stream=position(user))

    @app.get("/api/calls", tags=["snapshots"])
    async def calls(user: Annotated[User, current_user]) -> list[CallSchema]:
        """Live calls. Agents see only calls ringing or connected to their interface;
        supervisors the calls of their queues and of their teams' agents (cti.web.scope)."""
        return _calls_for(user, state.calls())

    @app.get("/api/queues", tags=["snapshots"])
    async def queues(user: Annotated[User, current_user]) -> list[QueueSchema]:
        """Queues. Agents see the queues they are a member of; supervisors their own."""
        return _queues_for(user, state.queues())

    @app.get("/api/agents", tags=["snapshots"])
    async def agents(user: Annotated[User, current_user]) -> list[AgentSchema]:
        """Agent states. Agents see only themselves; supervisors the agents of their
        teams and queues (and themselves)."""
        return _agents_for(user, state.agents())

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> HealthResponse:
        return HealthResponse(stream_id=hub.stream_id, connections=hub.connection_count)

    @app.websocket("/ws")
    async def events(websocket: WebSocket) -> None:
        params = websocket.query_params
        await websocket.accept()
        try:
            user, expires = await auth.user_for_token(params.get("token"))
        except AuthError as exc:
            await websocket.close(CLOSE_UNAUTHORIZED, str(exc))
            return
        raw_since = params.get("since")
        if raw_since is not None and not (raw_since.isascii() and raw_since.isdigit()):
            await websocket.close(CLOSE_BAD_REQUEST, "since must be a non-negative integer")
            return
        since = int(raw_since) if raw_since else None
        conn = hub.attach(user, since, params.get("stream_id") or None)
        if presence is not None:
            presence.sockets_changed(user.login)
        token = params.get("token")

        async def resolve_user() -> User:
            return (await auth.user_for_token(token))[0]

        def send(text: str) -> bool:
            if conn.push(text):
                return True
            conn.kill(CLOSE_TOO_SLOW, "too slow: reconnect with since")
            return False

        commands = CommandSocket(control, resolve_user, send, agent_control, history)
        chat_socket = ChatSocket(chat, user.login, send) if chat is not None else None
        webchat_commands = WebchatCommands(webchat, resolve_user, send)

        def feed(text: str) -> None:
            if chat_socket is not None and chat_socket.feed(text):
                return
            if not webchat_commands.feed(text):
                commands.feed(text)

        try:
            await _serve(websocket, conn, expires, feed)
        finally:
            await commands.aclose()
            if chat_socket is not None:
                await chat_socket.aclose()
            await webchat_commands.aclose()
            hub.detach(conn)
            if presence is not None:
                presence.sockets_changed(user.login)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers=_PAGE_HEADERS)

    add_control_routes(app, current_user, control)
    app.include_router(agent_router(current_user, agent_control))
    app.include_router(chat_router(current_user, chat, presence_of))
    app.include_router(metrics_router(current_user, metrics))
    app.include_router(history_router(current_user, history))
    webchat = (
        WebchatService(chat, webchat_store, state, hub, settings)
        if chat is not None and webchat_store is not None
        else None
    )
    app.state.webchat = webchat
    add_webchat_routes(app, current_user, webchat, STATIC_DIR)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


async def _read_until_disconnect(websocket: WebSocket, feed: Callable[[str], None]) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if isinstance(text, str):
            feed(text)


async def _serve(
    websocket: WebSocket, conn: Connection, expires: float, feed: Callable[[str], None]
) -> None:
    """Pump frames until the client leaves, the hub kills `conn`, or the token expires."""
    pump = asyncio.create_task(conn.pump(websocket.send_text))
    reader = asyncio.create_task(_read_until_disconnect(websocket, feed))
    killed = asyncio.create_task(conn.closed.wait())
    tasks = (pump, reader, killed)
    try:
        done, _ = await asyncio.wait(
            tasks, timeout=max(0.0, expires - time.time()), return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if reader in done or pump in done:
        return  # the client went away (a send failed or it said goodbye)
    if killed in done and conn.close_code is not None:
        code, reason = conn.close_code, conn.close_reason
    else:
        code, reason = CLOSE_UNAUTHORIZED, "token expired"
    # A client too slow to read may not read the close frame either: don't wait on it forever.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await websocket.close(code, reason)
