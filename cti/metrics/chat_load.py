"""Customer web chats as inputs of the queue metrics: who holds which chat, when.

Strategy: the metrics need only two facts from web chat: a chat became an
agent's (`ChatAssigned`, also a transfer to another agent: the chat moves)
and a chat stopped being anyone's (`ChatReleased`: ended, or sent back to a
queue). Both name the conversation, so repeating one is harmless and the core
keeps the count of open chats per agent device itself. The shell builds them
from the web chat book's states (`chat_load_event`) at the time it learns of
them; nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["ChatAssigned", "ChatLoadEvent", "ChatReleased", "chat_load_event"]


@dataclass(frozen=True, slots=True)
class ChatAssigned:
    conversation_id: int
    interface: str  # the device of the agent who has the chat now
    at: float


@dataclass(frozen=True, slots=True)
class ChatReleased:
    conversation_id: int
    at: float


ChatLoadEvent = ChatAssigned | ChatReleased


class _ChatState(Protocol):
    """What a web chat's state says (cti.chat.routing.WebchatState has it)."""

    @property
    def conversation_id(self) -> int: ...
    @property
    def agent(self) -> str | None: ...
    @property
    def agent_interface(self) -> str | None: ...
    @property
    def ended(self) -> bool: ...


def chat_load_event(chat: _ChatState, at: float) -> ChatLoadEvent:
    """The chat's load now: held by its agent's device, or by nobody (waiting,
    ended, or an agent without a phone, whose time the metrics do not track)."""
    if chat.agent is not None and chat.agent_interface and not chat.ended:
        return ChatAssigned(chat.conversation_id, chat.agent_interface, at)
    return ChatReleased(chat.conversation_id, at)
