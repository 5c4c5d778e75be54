"""Chat: direct conversations and rooms between users, persisted, never lost.

`cti.chat.core` is pure (records, validation, errors), `cti.chat.limits` the
per-sender token bucket, `cti.chat.service` the thin asyncio shell that runs
each request against a `ChatStore` (cti.store) and hands events to a
`ChatDelivery` (the web hub, or an event bus). Protocol: docs/chat.md.
"""

from cti.chat.core import (
    CHAT_HTTP_STATUS,
    CLIENT_ID_PATTERN,
    MAX_TEXT_CHARS,
    Appended,
    ChatError,
    Conversation,
    ConversationKind,
    Member,
    Message,
    check_client_id,
    check_room_name,
    check_text,
    direct_key,
    team_key,
)
from cti.chat.limits import RateLimiter
from cti.chat.service import ChatDelivery, ChatLimits, ChatService, ChatStore

__all__ = [
    "CHAT_HTTP_STATUS",
    "CLIENT_ID_PATTERN",
    "MAX_TEXT_CHARS",
    "Appended",
    "ChatDelivery",
    "ChatError",
    "ChatLimits",
    "ChatService",
    "ChatStore",
    "Conversation",
    "ConversationKind",
    "Member",
    "Message",
    "RateLimiter",
    "check_client_id",
    "check_room_name",
    "check_text",
    "direct_key",
    "team_key",
]
