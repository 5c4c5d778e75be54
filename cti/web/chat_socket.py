"""Chat over the event WebSocket: `chat_*` client messages, answered on the socket.

Strategy: `ChatSocket.feed` takes every client text frame first; it claims
the `chat_*` types and leaves the rest to `CommandSocket`. Requests of one
socket run one after another on one worker task, in the order received, so
two messages typed in a row are numbered in that order; a socket that queues
more than `MAX_QUEUED` unanswered requests gets `rate_limited` for the excess.
Answers (`chat_ack`, `chat_error`, `chat_history`) go on this socket only,
unnumbered, like `command_result`; messages and receipts reach members as
numbered hub events. The ack is sent only once the message is committed.

    -> {"type":"chat_send","id":"c1","conversation":7,"text":"hi"[,"client_id":"<uuid>"]}
    <- {"type":"chat_ack","id":"c1","conversation":7,"seq":12,"at":"..."}
    <- {"type":"chat_error","id":"c1","code":"not_member","status":403,"message":"..."}
    -> {"type":"chat_typing","conversation":7}
    -> {"type":"chat_read","conversation":7,"seq":12}      (chat_delivered alike)
    -> {"type":"chat_resume","id":"r1","conversation":7,"after_seq":9[,"limit":100]}
    <- {"type":"chat_history","id":"r1","conversation":7,"messages":[...],"more":false}
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any, Final

from cti.chat import ChatError, ChatService
from cti.web.hub import encode
from cti.web.schemas import COMMAND_ID_PATTERN

__all__ = ["CHAT_CLIENT_TYPES", "MAX_CHAT_FRAME", "MAX_QUEUED", "ChatSocket"]

log = logging.getLogger("cti.web.chat")

CHAT_CLIENT_TYPES: Final = frozenset(
    {"chat_send", "chat_typing", "chat_read", "chat_delivered", "chat_resume"}
)
MAX_CHAT_FRAME: Final = 65_536  # characters of one client frame (text is limited apart)
MAX_QUEUED: Final = 64
_ID = re.compile(COMMAND_ID_PATTERN)


def _positive_int(data: dict[str, Any], name: str, *, zero: bool = False) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero else 1):
        least = "a non-negative" if zero else "a positive"
        raise ChatError("invalid", f"{name} must be {least} integer", name)
    return value


class ChatSocket:
    def __init__(self, chat: ChatService, login: str, send: Callable[[str], bool]) -> None:
        self._chat = chat
        self._login = login
        self._send = send
        self._queue: asyncio.Queue[tuple[str, str | None, dict[str, Any]]] = asyncio.Queue(
            MAX_QUEUED
        )
        self._worker: asyncio.Task[None] | None = None

    def feed(self, text: str) -> bool:
        """Handle a client frame if it is a chat message; False leaves it to others."""
        if '"chat_' not in text:
            return False
        if len(text) > MAX_CHAT_FRAME:
            self._error(None, ChatError("too_long", f"frame over {MAX_CHAT_FRAME} characters"))
            return True
        try:
            data = json.loads(text)
        except ValueError:
            return False
        if not isinstance(data, dict) or data.get("type") not in CHAT_CLIENT_TYPES:
            return False
        kind = str(data["type"])
        ref = data.get("id")
        if ref is not None and not (isinstance(ref, str) and _ID.fullmatch(ref)):
            msg = "id must be 1-64 letters, digits, _ . : -"
            self._error(None, ChatError("invalid", msg, "id"))
            return True
        try:
            self._queue.put_nowait((kind, ref, data))
        except asyncio.QueueFull:
            msg = f"more than {MAX_QUEUED} chat requests waiting"
            self._error(ref, ChatError("rate_limited", msg))
            return True
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name=f"ws-chat-{self._login}")
        return True

    async def _work(self) -> None:
        while True:
            kind, ref, data = await self._queue.get()
            try:
                await self._handle(kind, ref, data)
            except ChatError as exc:
                self._error(ref, exc)
            except Exception:  # a bug must not kill the socket's chat
                log.exception("chat request %s failed", kind)
                self._error(ref, ChatError("unavailable", "internal error"))

    async def _handle(self, kind: str, ref: str | None, data: dict[str, Any]) -> None:
        conversation = _positive_int(data, "conversation")
        chat, login = self._chat, self._login
        if kind == "chat_send":
            if ref is None:
                raise ChatError("invalid", "id is required to acknowledge the message", "id")
            # shielded: a socket closing mid-send still commits and publishes it whole
            sending = chat.send(login, conversation, data.get("text"), data.get("client_id"))
            message = await asyncio.shield(sending)
            self._reply(
                {
                    "type": "chat_ack",
                    "id": ref,
                    "conversation": conversation,
                    "seq": message.seq,
                    "at": message.sent_at.isoformat(),
                }
            )
        elif kind == "chat_typing":
            await chat.typing(login, conversation)
        elif kind == "chat_read":
            await chat.mark_read(login, conversation, _positive_int(data, "seq", zero=True))
        elif kind == "chat_delivered":
            await chat.mark_delivered(login, conversation, _positive_int(data, "seq", zero=True))
        else:  # chat_resume
            after = _positive_int(data, "after_seq", zero=True)
            limit = data.get("limit")
            if limit is not None:
                limit = _positive_int(data, "limit")
            page = await chat.history(login, conversation, after=after, limit=limit)
            self._reply(
                {
                    "type": "chat_history",
                    "id": ref,
                    "conversation": conversation,
                    "messages": [m.to_json() for m in page.messages],
                    "more": page.more,
                }
            )

    def _error(self, ref: str | None, error: ChatError) -> None:
        body: dict[str, Any] = {
            "type": "chat_error",
            "id": ref,
            "code": error.code,
            "status": error.http_status,
            "message": error.message,
        }
        if error.field is not None:
            body["field"] = error.field
        self._reply(body)

    def _reply(self, body: dict[str, Any]) -> None:
        if not self._send(encode(body)):
            log.warning(
                "chat %s for %s dropped: the socket's queue is full", body["type"], self._login
            )

    async def aclose(self) -> None:
        """Stop the worker (the socket is gone); a request mid-store still commits
        or rolls back as a whole, and its sender resumes by seq."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
