"""Customer web chat: anonymous customers, their one-conversation token, routing.

Strategy: a customer is nobody's user. `POST /api/webchat/start` (no login;
starts limited per client IP by the chat token bucket) creates a `customer`
conversation through the chat store and answers a customer token: the
conversation id and a random nonce, signed with HMAC-SHA256 under a key
derived from CTI_TOKEN_SECRET. Nothing about the token is stored: it is
checked by its signature, still valid after a restart, and it names exactly
one conversation, where the customer is the member `customer.<nonce>`. It is
not a login token, so every other route answers it 401; on another
conversation the chat service answers 403 not_member.

Every message goes through `ChatService` (stored before acknowledged,
numbered, rate-limited per sender). Agents get customer messages as
`chat_message` hub events like any chat; the customer's socket
(`/ws/webchat?token=`) reads its conversation from the store (the store is
the truth) when poked, by a delivery to the conversation (from this node or
relayed from another) or a change of the chat (cti.web.nudges), else every
`RECHECK_SECONDS`, and is told `chat_assigned` / `chat_ended`. Routing
(cti.chat.routing) is re-run on a start, an end, a transfer and every
`WAITING_RECHECK_SECONDS` while a customer waits, which is how an agent
freeing up gets the waiting chat. The chats'
state is stored before anyone is told (cti.web.webchat_service), and ended
chats are listed with their dispositions, scoped like call history.

    POST /api/webchat/start            {"queue", "name"?}      -> {token, conversation}
    GET  /api/webchat/messages?after=  Authorization: Bearer <customer token>
    POST /api/webchat/messages         {"text", "client_id"?}  customer token
    WS   /ws/webchat?token=&after=
    POST /api/webchat/{id}/transfer    {"agent"} | {"queue"}   the assigned agent, login token
    POST /api/webchat/{id}/end         {"disposition"}         the assigned agent, login token
    GET  /api/webchat/history?queue=&agent=&from=&to=&limit=&offset=   ended chats, login token
    /ws  webchat_transfer, webchat_end  the same, as WebSocket commands (WebchatCommands)
"""

# No `from __future__ import annotations`: FastAPI evaluates the route annotations.
import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Path, Query, Request, WebSocket, status
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from cti.agentstate.commands import LOGIN_PATTERN
from cti.chat import CLIENT_ID_PATTERN, ChatError
from cti.chat.routing import WebchatState
from cti.chat.webchats import WebchatFilter, WebchatScope
from cti.history import HistoryError
from cti.web.auth import AuthError, TokenAuth
from cti.web.ports import User
from cti.web.routes_history import parse_bound
from cti.web.webchat_service import CustomerToken, WebchatService, WebchatStore, customer_login

__all__ = [
    "RECHECK_SECONDS",
    "WAITING_RECHECK_SECONDS",
    "CustomerToken",
    "WebchatCommands",
    "WebchatService",
    "WebchatStore",
    "add_webchat_routes",
    "customer_login",
]

# A customer's socket reads its conversation when poked (a delivery to the
# conversation, a change of the chat: cti.web.nudges), else after these:
WAITING_RECHECK_SECONDS: Final = 1.0  # routing again: an agent may have freed up
RECHECK_SECONDS: Final = 5.0  # what only another node knows (several nodes)
CLOSE_UNAUTHORIZED: Final = 4401
_PREFIX = "/api/webchat"
# Embeddable (no frame-ancestors), but scripts only from here and no plugins.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
_bearer = HTTPBearer(auto_error=False, description="customer token from POST /api/webchat/start")


class WebchatCommands:
    """`webchat_transfer` / `webchat_end` on an agent's `/ws`, answered by an
    unnumbered `webchat_result` on that socket (same checks as the REST routes).

        -> {"type":"webchat_transfer","id":"t1","conversation":7,"agent":"bob"}  (or "queue")
        -> {"type":"webchat_end","id":"e1","conversation":7,"disposition":"resolved"}
        <- {"type":"webchat_result","id":"e1","ok":true,"conversation":7,"state":"ended",...}
        <- {"type":"webchat_result","id":"e1","ok":false,"code":"not_allowed","status":403,...}
    """

    TYPES: Final = frozenset({"webchat_transfer", "webchat_end"})

    def __init__(
        self,
        webchat: WebchatService | None,
        resolve_user: Callable[[], Awaitable[User]],
        send: Callable[[str], bool],
    ) -> None:
        self._webchat = webchat
        self._resolve_user = resolve_user
        self._send = send
        self._tasks: set[asyncio.Task[None]] = set()

    def feed(self, text: str) -> bool:
        """Claim and run a webchat command; False for any other frame."""
        if self._webchat is None or '"webchat_' not in text or len(text) > 4096:
            return False
        try:
            data = json.loads(text)
        except ValueError:
            return False
        if not isinstance(data, dict) or data.get("type") not in self.TYPES:
            return False
        task = asyncio.create_task(self._run(self._webchat, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(self, webchat: WebchatService, data: dict[str, Any]) -> None:
        ref = data.get("id") if isinstance(data.get("id"), str) else None
        cid = data.get("conversation")
        try:
            if not isinstance(cid, int) or isinstance(cid, bool) or cid < 1:
                raise ChatError(
                    "invalid", "conversation must be a positive integer", "conversation"
                )
            user = await self._resolve_user()
            if data["type"] == "webchat_end":
                disposition = data.get("disposition")
                if not isinstance(disposition, str):
                    raise ChatError("invalid", "disposition must be a string", "disposition")
                done = await webchat.end(user, cid, disposition)
            else:
                agent, queue = data.get("agent"), data.get("queue")
                if not (agent is None or isinstance(agent, str)) or not (
                    queue is None or isinstance(queue, str)
                ):
                    raise ChatError("invalid", "agent and queue must be strings", "agent")
                done = await webchat.transfer(user, cid, agent, queue)
            answer = {"ok": True, "conversation": cid, **_state_json(done, staff=True)}
        except ChatError as exc:
            answer = {
                "ok": False,
                "code": exc.code,
                "status": exc.http_status,
                "message": exc.message,
                "field": exc.field,
            }
        except AuthError as exc:
            answer = {"ok": False, "code": "unauthorized", "status": 401, "message": str(exc)}
        self._send(json.dumps({"type": "webchat_result", "id": ref, **answer}))

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class StartBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    queue: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=64)


class CustomerPost(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    text: str
    client_id: str | None = Field(default=None, pattern=CLIENT_ID_PATTERN)
    conversation: int | None = Field(default=None, description="if given, must be yours")


class TransferBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    agent: str | None = Field(default=None, pattern=LOGIN_PATTERN)
    queue: str | None = Field(default=None, min_length=1, max_length=64)


class EndBody(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    disposition: str = Field(min_length=1, max_length=64)


def _error(exc: ChatError) -> JSONResponse:
    body = {"code": exc.code, "message": exc.message, "field": exc.field}
    return JSONResponse(body, status_code=exc.http_status)


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        {"detail": "missing or invalid customer token"},
        status_code=status.HTTP_401_UNAUTHORIZED,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _state_json(chat: WebchatState | None, staff: bool = False) -> dict[str, Any]:
    """The chat's state; for staff also its queue and disposition (internal
    codes the customer is not shown)."""
    if chat is None:
        return {"state": "unknown"}
    state = "ended" if chat.ended else ("assigned" if chat.agent else "waiting")
    if not staff:
        return {"state": state, "agent": chat.agent_name}
    return {
        "state": state,
        "agent": chat.agent_name,
        "agent_login": chat.agent,
        "queue": chat.queue,
        "disposition": chat.disposition,
    }


def add_webchat_routes(
    app: FastAPI, current_user: Any, webchat: WebchatService | None, static_dir: Any
) -> None:
    """The customer routes, the agents' transfer/end, the customer socket and page."""
    Me = Annotated[User, current_user]  # noqa: N806 (a type alias)
    Customer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]  # noqa: N806
    ConversationId = Annotated[int, Path(ge=1)]  # noqa: N806

    auth: TokenAuth | None = getattr(app.state, "auth", None)

    def customer(credentials: HTTPAuthorizationCredentials | None) -> tuple[int, str] | Response:
        """The customer's (conversation, login); 401 without a customer token, 403
        for a valid login token (staff use the /api/chat routes)."""
        found = webchat.tokens.check(credentials.credentials) if webchat and credentials else None
        if found is not None:
            return found
        if credentials is not None and auth is not None:
            with contextlib.suppress(AuthError):
                auth.decode(credentials.credentials)
                return _error(ChatError("not_allowed", "a login token is not a customer token"))
        return _unauthorized()

    @app.post(f"{_PREFIX}/start", tags=["webchat"], status_code=status.HTTP_201_CREATED)
    async def start(body: StartBody, request: Request) -> Response:
        """Start a chat with `queue` (no login): the customer token for it."""
        if webchat is None:
            return _error(ChatError("unavailable", "chat is not available"))
        client = request.client.host if request.client else "unknown"
        try:
            token, cid = await webchat.start(client, body.queue, body.name)
        except ChatError as exc:
            return _error(exc)
        return JSONResponse({"token": token, "conversation": cid}, status_code=201)

    @app.get(f"{_PREFIX}/messages", tags=["webchat"])
    async def customer_history(
        credentials: Customer,
        after: Annotated[int | None, Query(ge=0)] = None,
        conversation: Annotated[int | None, Query(ge=1)] = None,
    ) -> Response:
        """The customer's messages after `after` (customer token), and the chat's state."""
        found = customer(credentials)
        if isinstance(found, Response) or webchat is None:
            return found if isinstance(found, Response) else _unauthorized()
        cid, login = found
        try:
            page = await webchat.chat.history(
                login, conversation or cid, after=after if after is not None else 0
            )
            chat = await webchat.state_of(cid)
        except ChatError as exc:
            return _error(exc)
        return JSONResponse(
            {
                "conversation": cid,
                "messages": [m.to_json() for m in page.messages],
                "more": page.more,
                **_state_json(chat),
            }
        )

    @app.post(f"{_PREFIX}/messages", tags=["webchat"], status_code=status.HTTP_201_CREATED)
    async def customer_post(body: CustomerPost, credentials: Customer) -> Response:
        """Send (customer token): 201 once stored."""
        found = customer(credentials)
        if isinstance(found, Response) or webchat is None:
            return found if isinstance(found, Response) else _unauthorized()
        cid, login = found
        try:
            chat = await webchat.state_of(cid)
            if chat is not None and chat.ended and (body.conversation or cid) == cid:
                raise ChatError("not_allowed", "this chat has ended")
            message = await webchat.chat.send(
                login, body.conversation or cid, body.text, body.client_id
            )
        except ChatError as exc:
            return _error(exc)
        return JSONResponse(
            {"conversation": cid, "seq": message.seq, "at": message.sent_at.isoformat()},
            status_code=201,
        )

    @app.post(f"{_PREFIX}/{{conversation_id}}/transfer", tags=["webchat"])
    async def transfer(conversation_id: ConversationId, body: TransferBody, user: Me) -> Response:
        """Hand the chat to another agent, or back to a queue (the agent who has it)."""
        if webchat is None:
            return _error(ChatError("unavailable", "chat is not available"))
        try:
            moved = await webchat.transfer(user, conversation_id, body.agent, body.queue)
        except ChatError as exc:
            return _error(exc)
        return JSONResponse({"conversation": conversation_id, **_state_json(moved, staff=True)})

    @app.post(f"{_PREFIX}/{{conversation_id}}/end", tags=["webchat"])
    async def end(conversation_id: ConversationId, body: EndBody, user: Me) -> Response:
        """End the chat with a disposition (CTI_DISPOSITIONS; the agent who has it)."""
        if webchat is None:
            return _error(ChatError("unavailable", "chat is not available"))
        try:
            ended = await webchat.end(user, conversation_id, body.disposition)
        except ChatError as exc:
            return _error(exc)
        return JSONResponse({"conversation": conversation_id, **_state_json(ended, staff=True)})

    @app.get(f"{_PREFIX}/history", tags=["webchat"])
    async def history(
        user: Me,
        queue: Annotated[str | None, Query(max_length=128)] = None,
        agent: Annotated[str | None, Query(max_length=64, description="the agent's login")] = None,
        start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
        limit: Annotated[int, Query(ge=0, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        """Ended web chats you may see, newest end first, with queue, agent,
        disposition and times: agents theirs, supervisors also their queues' and
        their teams' agents', admins all. `from`/`to` bound the end, as in
        /api/history."""
        if webchat is None:
            return _error(ChatError("unavailable", "chat is not available"))
        try:
            lower, upper = parse_bound(start, "from"), parse_bound(end, "to")
        except HistoryError as exc:
            return _error(ChatError("invalid", exc.message, exc.fields[0]))
        scope = WebchatScope.of(user.login, user.role, user.queues, user.team_interfaces)
        f = WebchatFilter(scope, queue or None, agent or None, lower, upper, limit, offset)
        try:
            found = await webchat.history(f)
        except ChatError as exc:
            return _error(exc)
        body = {"chats": [r.to_json() for r in found], "limit": limit, "offset": offset}
        return JSONResponse(body)

    @app.websocket("/ws/webchat")
    async def customer_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        found = webchat.tokens.check(websocket.query_params.get("token")) if webchat else None
        raw_after = websocket.query_params.get("after") or "0"
        if found is None or webchat is None or not raw_after.isdigit():
            await websocket.close(CLOSE_UNAUTHORIZED, "missing or invalid customer token")
            return
        await _serve_customer(websocket, webchat, found[0], found[1], int(raw_after))

    @app.get("/webchat", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(static_dir / "webchat.html", headers=_PAGE_HEADERS)


async def _serve_customer(
    websocket: WebSocket, webchat: WebchatService, cid: int, login: str, after: int
) -> None:
    """Push the conversation's new messages and state; take `chat_send`."""
    send_lock = asyncio.Lock()

    async def send(payload: dict[str, Any]) -> None:
        async with send_lock:
            await websocket.send_text(json.dumps(payload))

    async def reader() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if not isinstance(text, str) or len(text) > 65_536:
                continue
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if not isinstance(data, dict) or data.get("type") != "chat_send":
                continue
            ref = data.get("id")
            try:
                target = data.get("conversation", cid)
                if not isinstance(target, int) or isinstance(target, bool):
                    raise ChatError("invalid", "conversation must be an integer", "conversation")
                chat = await webchat.state_of(cid)
                if chat is not None and chat.ended and target == cid:
                    raise ChatError("not_allowed", "this chat has ended")
                sent = await webchat.chat.send(
                    login, target, data.get("text"), data.get("client_id")
                )
            except ChatError as exc:
                await send(
                    {
                        "type": "chat_error",
                        "id": ref,
                        "code": exc.code,
                        "status": exc.http_status,
                        "message": exc.message,
                        "field": exc.field,
                    }
                )
                continue
            await send(
                {
                    "type": "chat_ack",
                    "id": ref,
                    "conversation": cid,
                    "seq": sent.seq,
                    "at": sent.sent_at.isoformat(),
                }
            )

    async def pusher() -> None:
        last, told = after, None
        with webchat.nudges.watch(login) as poked:
            await send(
                {"type": "hello", "conversation": cid, **_state_json(await webchat.state_of(cid))}
            )
            while True:
                poked.clear()  # before reading: a poke from here on means read again
                chat = await webchat.state_of(cid)
                if chat is not None and chat.agent is None and not chat.ended:
                    await webchat.route()
                page = await webchat.chat.history(login, cid, after=last, limit=100)
                for message in page.messages:
                    await send({"type": "chat_message", "message": message.to_json()})
                    last = message.seq
                shown = _state_json(await webchat.state_of(cid))
                if shown != told:
                    told = shown
                    if shown["state"] == "assigned":
                        await send({"type": "chat_assigned", "agent": shown["agent"]})
                    elif shown["state"] == "ended":
                        await send({"type": "chat_ended"})
                    elif shown["state"] == "waiting":
                        await send({"type": "chat_waiting"})
                if page.more:
                    continue
                waiting = shown["state"] == "waiting"
                recheck = WAITING_RECHECK_SECONDS if waiting else RECHECK_SECONDS
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(recheck):
                        await poked.wait()

    tasks = [asyncio.create_task(reader()), asyncio.create_task(pusher())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await websocket.close()
