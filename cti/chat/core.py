"""The pure chat core: conversations, members, messages, validation, errors.

Strategy: no I/O here. Records are frozen dataclasses the store builds and
the web layer serialises; every check a request must pass before anything is
written (the text, a room name, membership) is a plain function raising
`ChatError`, whose `code` maps to one HTTP status (`CHAT_HTTP_STATUS`) and to
the `code` of a WebSocket `chat_error`. Error messages never echo the
client's text back.

A message's `seq` numbers it within its conversation (1, 2, 3... no gaps):
the store assigns it in the transaction that inserts the message. A member's
`last_read_seq` / `last_delivered_seq` only ever grow, so unread counts are
`last_seq - last_read_seq` (a sender has read what they sent).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple, get_args

__all__ = [
    "CHAT_HTTP_STATUS",
    "CLIENT_ID_PATTERN",
    "CONVERSATION_KINDS",
    "MAX_ROOM_NAME_CHARS",
    "MAX_TEXT_CHARS",
    "Appended",
    "ChatError",
    "ChatErrorCode",
    "Conversation",
    "ConversationKind",
    "Member",
    "Message",
    "check_client_id",
    "check_room_name",
    "check_text",
    "direct_key",
    "team_key",
]

MAX_TEXT_CHARS: Final = 4000
MAX_ROOM_NAME_CHARS: Final = 128
CLIENT_ID_PATTERN: Final = r"^[A-Za-z0-9_.:-]{1,64}$"
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)

ConversationKind = Literal["direct", "room", "customer"]  # customer: web chat
CONVERSATION_KINDS: tuple[ConversationKind, ...] = get_args(ConversationKind)

ChatErrorCode = Literal[
    "invalid", "too_long", "not_member", "not_allowed", "not_found", "rate_limited", "unavailable"
]
CHAT_HTTP_STATUS: Final[dict[str, int]] = {
    "invalid": 422,
    "too_long": 422,
    "not_member": 403,
    "not_allowed": 403,
    "not_found": 404,
    "rate_limited": 429,
    "unavailable": 503,
}
# Text may hold line breaks and tabs; no other control character (PostgreSQL
# refuses NUL in text, and the rest only serve to confuse a display).
_ALLOWED_CONTROLS = frozenset("\n\r\t")


class ChatError(Exception):
    """A chat request refused: `code` (see CHAT_HTTP_STATUS), a message, the field."""

    def __init__(self, code: ChatErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code: ChatErrorCode = code
        self.message = message
        self.field = field

    @property
    def http_status(self) -> int:
        return CHAT_HTTP_STATUS[self.code]


@dataclass(frozen=True, slots=True)
class Member:
    login: str
    last_read_seq: int = 0
    last_delivered_seq: int = 0


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    kind: ConversationKind
    name: str | None  # a room's name; None for a direct conversation
    last_seq: int  # the seq of its newest message (0: none yet)
    created_at: datetime
    members: tuple[Member, ...]

    def member(self, login: str) -> Member | None:
        for member in self.members:
            if member.login == login:
                return member
        return None

    def logins(self) -> tuple[str, ...]:
        return tuple(m.login for m in self.members)

    def unread_for(self, login: str) -> int:
        member = self.member(login)
        return 0 if member is None else max(0, self.last_seq - member.last_read_seq)


@dataclass(frozen=True, slots=True)
class Message:
    conversation_id: int
    seq: int
    sender: str
    text: str
    sent_at: datetime
    client_id: str | None = None  # the sender's own id for it, if they gave one

    def to_json(self) -> dict[str, Any]:
        """One message as history pages and `chat_message` events carry it."""
        return {
            "conversation": self.conversation_id,
            "seq": self.seq,
            "from": self.sender,
            "text": self.text,
            "at": self.sent_at.isoformat(),
            "client_id": self.client_id,
        }

    def to_event(self) -> dict[str, Any]:
        """The `chat_message` event. The message is nested: the hub's envelope
        owns the top-level `seq` (the user's stream position)."""
        return {"type": "chat_message", "message": self.to_json()}


class Appended(NamedTuple):
    """What storing a message gave: the message, every member's login, and
    whether it is new (False: a retried send found it by its client_id)."""

    message: Message
    members: tuple[str, ...]
    created: bool = True


def _bad_controls(text: str) -> bool:
    return any(
        unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS
        for ch in text
        if ch < " " or "\x7f" <= ch <= "\x9f"
    )


def check_text(text: object, max_chars: int = MAX_TEXT_CHARS) -> str:
    """The message text as stored (exactly as sent), or ChatError.

    Text only: a string, not blank, at most `max_chars` characters, no control
    characters but line breaks and tabs. Markup is not refused, nor changed:
    it is text, and every client renders it as text.
    """
    if not isinstance(text, str):
        raise ChatError("invalid", "text must be a string", "text")
    if not text.strip():
        raise ChatError("invalid", "text must not be empty", "text")
    if len(text) > max_chars:
        raise ChatError(
            "too_long", f"text is {len(text)} characters; at most {max_chars} allowed", "text"
        )
    if _bad_controls(text):
        raise ChatError(
            "invalid", "text must not contain control characters (but newline and tab)", "text"
        )
    return text


def check_room_name(name: object) -> str:
    """A room name, stripped: 1-128 characters, no control characters."""
    if not isinstance(name, str) or not name.strip():
        raise ChatError("invalid", "name must be a non-empty string", "name")
    name = name.strip()
    if len(name) > MAX_ROOM_NAME_CHARS:
        raise ChatError("too_long", f"name is longer than {MAX_ROOM_NAME_CHARS} characters", "name")
    if _bad_controls(name) or "\n" in name or "\t" in name or "\r" in name:
        raise ChatError("invalid", "name must not contain control characters", "name")
    return name


def check_client_id(value: object) -> str | None:
    """The sender's id for a message (1-64 of A-Za-z0-9_.:-), or None if not given."""
    if value is None:
        return None
    if not isinstance(value, str) or not _CLIENT_ID.fullmatch(value):
        raise ChatError("invalid", "client_id must be 1-64 letters, digits, _ . : -", "client_id")
    return value


def direct_key(a: str, b: str) -> str:
    """The one key of the direct conversation between `a` and `b` (either order)."""
    if a == b:
        raise ChatError("invalid", "a direct conversation needs two different users", "login")
    first, second = sorted((a, b))
    return f"{first} {second}"  # logins hold no spaces (LOGIN_PATTERN)


def team_key(team: str) -> str:
    """The one key of `team`'s room."""
    return f"team:{team}"
