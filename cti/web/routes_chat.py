"""Chat over REST: conversations, history, posting, read marks.

Strategy: one `APIRouter` over `cti.chat.ChatService`, which does every check
(membership, text, rate limit) and every write; the routes only parse, map a
`ChatError` to its status with the body `{code, message, field}`, and add
each member's presence. A post is answered 201 only after the message is
committed, exactly like the WebSocket `chat_ack` (cti.web.chat_socket).
Someone who is not a member of a conversation gets 403 not_member for it,
whether it exists or not.

    GET  /api/chat/conversations                        mine, with unread counts
    POST /api/chat/direct                    {"login": "bob"}  open (or find) a direct chat
    POST /api/chat/rooms           {"name": "...", "members": [...]}  supervisors, admins
    POST /api/chat/rooms/{id}/members        {"members": [...]}  supervisors, admins
    POST /api/chat/teams/{team}/room         the team's room (its members, supervisors)
    GET  /api/chat/conversations/{id}
    GET  /api/chat/conversations/{id}/messages?after=&before=&limit=
    POST /api/chat/conversations/{id}/messages  {"text": "..."}
    POST /api/chat/conversations/{id}/read      {"seq": 12}

Presence comes from the agent state: `offline` without an open socket, else
the agent's work state (available, on_call, paused, ...) or `online` for a
user without a device.
"""

# No `from __future__ import annotations`: FastAPI evaluates the route annotations.
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cti.agentstate.commands import LOGIN_PATTERN
from cti.chat import CLIENT_ID_PATTERN, ChatError, ChatService, Conversation, Message
from cti.web.hub import Hub
from cti.web.ports import StateView, User

__all__ = [
    "ChatErrorBody",
    "ConversationSchema",
    "HistorySchema",
    "Presence",
    "chat_router",
    "hub_presence",
]

_PREFIX = "/api/chat"
_TAGS: list[str | Enum] = ["chat"]

Presence = Callable[[Iterable[str]], dict[str, str]]
Login = Annotated[str, Field(pattern=LOGIN_PATTERN)]
ConversationId = Annotated[int, Path(ge=1, description="the conversation")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChatErrorBody(_Frozen):
    code: str = Field(description="not_member, not_allowed, not_found, invalid, too_long, ...")
    message: str
    field: str | None = None


class ChatMemberSchema(_Frozen):
    login: str
    presence: str = Field(description="offline, online, or the agent's work state")
    last_read_seq: int
    last_delivered_seq: int


class ConversationSchema(_Frozen):
    id: int
    kind: str = Field(description="direct or room")
    name: str | None
    last_seq: int = Field(description="seq of the newest message (0: none)")
    unread: int = Field(description="messages after your last read mark")
    members: list[ChatMemberSchema]


class ChatMessageSchema(_Frozen):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    conversation: int
    seq: int
    sender: str = Field(alias="from")
    text: str = Field(description="plain text, exactly as sent: render it as text")
    at: str
    client_id: str | None = Field(default=None, description="the sender's id for it, if given")


class HistorySchema(_Frozen):
    conversation: int
    messages: list[ChatMessageSchema]
    more: bool = Field(description="more messages beyond this page, in the direction asked")


class PostedSchema(_Frozen):
    conversation: int
    seq: int
    at: str


class ReadSchema(_Frozen):
    conversation: int
    last_read_seq: int


class DirectBody(_Body):
    login: Login


class RoomBody(_Body):
    name: str = Field(min_length=1, max_length=128)
    members: list[Login] = Field(default_factory=list, max_length=500)


class MembersBody(_Body):
    members: list[Login] = Field(min_length=1, max_length=500)


class PostBody(_Body):
    text: str
    client_id: str | None = Field(
        default=None,
        pattern=CLIENT_ID_PATTERN,
        description="your own id for the message: a retry with it stores nothing twice",
    )


class ReadBody(_Body):
    seq: int = Field(ge=0)


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid or expired token"},
    403: {"model": ChatErrorBody, "description": "not_member / not_allowed"},
    422: {"model": ChatErrorBody, "description": "invalid / too_long"},
    503: {"model": ChatErrorBody, "description": "chat is not available"},
}


def hub_presence(hub: Hub, state: StateView) -> Presence:
    """Presence from open sockets (the hub) and agent states (the model)."""

    def presence(logins: Iterable[str]) -> dict[str, str]:
        states: dict[str, str] | None = None
        out: dict[str, str] = {}
        for login in logins:
            user = hub.online(login)
            if user is None:
                out[login] = "offline"
                continue
            if states is None:
                states = {a.interface: a.state for a in state.agents()}
            found = states.get(user.interface) if user.interface else None
            out[login] = found or "online"
        return out

    return presence


def _error(exc: ChatError) -> JSONResponse:
    body = ChatErrorBody(code=exc.code, message=exc.message, field=exc.field)
    return JSONResponse(body.model_dump(), status_code=exc.http_status)


def _unavailable() -> JSONResponse:
    return _error(ChatError("unavailable", "chat is not available"))


def _message(message: Message) -> ChatMessageSchema:
    return ChatMessageSchema.model_validate(
        {
            "conversation": message.conversation_id,
            "seq": message.seq,
            "from": message.sender,
            "text": message.text,
            "at": message.sent_at.isoformat(),
            "client_id": message.client_id,
        }
    )


def _schema(conversation: Conversation, login: str, presence: dict[str, str]) -> ConversationSchema:
    return ConversationSchema(
        id=conversation.id,
        kind=conversation.kind,
        name=conversation.name,
        last_seq=conversation.last_seq,
        unread=conversation.unread_for(login),
        members=[
            ChatMemberSchema(
                login=m.login,
                presence=presence.get(m.login, "offline"),
                last_read_seq=m.last_read_seq,
                last_delivered_seq=m.last_delivered_seq,
            )
            for m in conversation.members
        ],
    )


def _json(model: BaseModel, code: int = status.HTTP_200_OK) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json", by_alias=True), status_code=code)


def chat_router(current_user: Any, chat: ChatService | None, presence: Presence) -> APIRouter:
    """The chat routes; without `chat` they answer 503."""
    router = APIRouter(prefix=_PREFIX, tags=_TAGS, responses=_ERRORS)
    Me = Annotated[User, current_user]  # noqa: N806 (a type alias)

    def shaped(conversations: list[Conversation], login: str) -> list[ConversationSchema]:
        everyone = {m for c in conversations for m in c.logins()}
        seen = presence(sorted(everyone))
        return [_schema(c, login, seen) for c in conversations]

    @router.get("/conversations", response_model=list[ConversationSchema])
    async def conversations(user: Me) -> Response:
        """Your conversations with their members' presence and your unread counts."""
        if chat is None:
            return _unavailable()
        try:
            found = await chat.conversations(user.login)
        except ChatError as exc:
            return _error(exc)
        body = [s.model_dump(mode="json") for s in shaped(found, user.login)]
        return JSONResponse(body)

    @router.post("/direct", response_model=ConversationSchema)
    async def open_direct(body: DirectBody, user: Me) -> Response:
        """The direct conversation between you and `login` (created the first time)."""
        if chat is None:
            return _unavailable()
        try:
            found = await chat.open_direct(user.login, body.login)
        except ChatError as exc:
            return _error(exc)
        return _json(shaped([found], user.login)[0])

    @router.post("/rooms", response_model=ConversationSchema, status_code=status.HTTP_201_CREATED)
    async def create_room(body: RoomBody, user: Me) -> Response:
        """A room with you and `members` (supervisors and admins only)."""
        if chat is None:
            return _unavailable()
        try:
            if user.role == "agent":
                raise ChatError("not_allowed", "only supervisors and admins create rooms")
            room = await chat.create_room(user.login, body.name, body.members)
        except ChatError as exc:
            return _error(exc)
        return _json(shaped([room], user.login)[0], status.HTTP_201_CREATED)

    @router.post("/rooms/{conversation_id}/members", response_model=ConversationSchema)
    async def add_members(conversation_id: ConversationId, body: MembersBody, user: Me) -> Response:
        """Add members to a room you are in (supervisors and admins only)."""
        if chat is None:
            return _unavailable()
        try:
            if user.role == "agent":
                raise ChatError("not_allowed", "only supervisors and admins add room members")
            room = await chat.add_members(user.login, conversation_id, body.members)
        except ChatError as exc:
            return _error(exc)
        return _json(shaped([room], user.login)[0])

    @router.post("/teams/{team}/room", response_model=ConversationSchema)
    async def team_room(
        team: Annotated[str, Path(min_length=1, max_length=64, description="team name")],
        user: Me,
    ) -> Response:
        """Your team's room: the team's agents and supervisors (created the first
        time; new team members are added when it is opened)."""
        if chat is None:
            return _unavailable()
        try:
            room = await chat.team_room(user.login, user.role == "admin", team)
        except ChatError as exc:
            return _error(exc)
        return _json(shaped([room], user.login)[0])

    @router.get("/conversations/{conversation_id}", response_model=ConversationSchema)
    async def conversation(conversation_id: ConversationId, user: Me) -> Response:
        if chat is None:
            return _unavailable()
        try:
            found = await chat.conversation(user.login, conversation_id)
        except ChatError as exc:
            return _error(exc)
        return _json(shaped([found], user.login)[0])

    @router.get("/conversations/{conversation_id}/messages", response_model=HistorySchema)
    async def history(
        conversation_id: ConversationId,
        user: Me,
        after: Annotated[int | None, Query(ge=0, description="messages with seq > after")] = None,
        before: Annotated[
            int | None, Query(ge=0, description="messages with seq < before (newest first page)")
        ] = None,
        limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    ) -> Response:
        """A page of messages, oldest first: after `after`, or the newest before `before`."""
        if chat is None:
            return _unavailable()
        try:
            page = await chat.history(
                user.login, conversation_id, after=after, before=before, limit=limit
            )
        except ChatError as exc:
            return _error(exc)
        body = HistorySchema(
            conversation=conversation_id,
            messages=[_message(m) for m in page.messages],
            more=page.more,
        )
        return _json(body)

    @router.post(
        "/conversations/{conversation_id}/messages",
        response_model=PostedSchema,
        status_code=status.HTTP_201_CREATED,
    )
    async def post(conversation_id: ConversationId, body: PostBody, user: Me) -> Response:
        """Send a message: 201 once it is stored, with its seq."""
        if chat is None:
            return _unavailable()
        try:
            message = await chat.send(user.login, conversation_id, body.text, body.client_id)
        except ChatError as exc:
            return _error(exc)
        posted = PostedSchema(
            conversation=conversation_id, seq=message.seq, at=message.sent_at.isoformat()
        )
        return _json(posted, status.HTTP_201_CREATED)

    @router.post("/conversations/{conversation_id}/read", response_model=ReadSchema)
    async def read(conversation_id: ConversationId, body: ReadBody, user: Me) -> Response:
        """Mark the messages up to `seq` read (the other members are told)."""
        if chat is None:
            return _unavailable()
        try:
            member = await chat.mark_read(user.login, conversation_id, body.seq)
        except ChatError as exc:
            return _error(exc)
        return _json(ReadSchema(conversation=conversation_id, last_read_seq=member.last_read_seq))

    return router
