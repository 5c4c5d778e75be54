"""Customer web chat routing: which agent gets a chat, pure.

Strategy: no I/O and no clock. `WebchatBook` holds the open customer chats
(queue, assigned agent or waiting, in arrival order) and `offers` matches
the waiting chats, oldest first, to agents given as `Candidate`s (the agent
states of the model, joined to the logins of connected users by the shell).
An agent is eligible for a queue's chat when they are a member of that queue,
their work state is `available` (an agent on a call, ringing, in wrap-up or
paused takes no new chat) and their open chats are fewer than
`max_per_agent`; among the eligible, the least loaded wins, ties by login.
The shell calls `offers` again whenever something may have freed an agent
(a chat ended or moved, a new chat, agent states polled).

The shell also stores every change (cti/store/webchats.py) and rebuilds the
book from the store at start-up with `put`, oldest first, which restores the
waiting line's order; `version` is the stored row's, so a change based on a
stale state (another node changed the chat) is refused by the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Candidate", "Offer", "WebchatBook", "WebchatState", "pick_agent"]


@dataclass(frozen=True, slots=True)
class Candidate:
    login: str
    display_name: str
    state: str  # the agent work state: available, on_call, paused...
    queues: tuple[str, ...]
    interface: str | None = None  # their device (supervisors see their teams' chats by it)


@dataclass(slots=True)
class WebchatState:
    conversation_id: int
    queue: str
    customer: str  # the customer's login in the conversation
    agent: str | None = None  # None: waiting for an agent
    agent_name: str | None = None
    ended: bool = False
    disposition: str | None = None
    exclude: tuple[str, ...] = ()  # agents it must not go to (transferred away from)
    agent_interface: str | None = None
    version: int = 0  # the stored row's version this state is based on


@dataclass(frozen=True, slots=True)
class Offer:
    conversation_id: int
    agent: Candidate


def pick_agent(
    queue: str,
    candidates: Iterable[Candidate],
    load: dict[str, int],
    max_per_agent: int,
    exclude: Sequence[str] = (),
) -> Candidate | None:
    """The least-loaded available member of `queue` under `max_per_agent`, or None."""
    eligible = [
        c
        for c in candidates
        if queue in c.queues
        and c.state == "available"
        and load.get(c.login, 0) < max_per_agent
        and c.login not in exclude
    ]
    if not eligible:
        return None
    return min(eligible, key=lambda c: (load.get(c.login, 0), c.login))


class WebchatBook:
    """The open customer chats and who has them; every change is a method."""

    def __init__(self, max_per_agent: int) -> None:
        if max_per_agent < 1:
            raise ValueError("max_per_agent must be >= 1")
        self.max_per_agent = max_per_agent
        self._chats: dict[int, WebchatState] = {}  # insertion order: arrival order

    def get(self, conversation_id: int) -> WebchatState | None:
        return self._chats.get(conversation_id)

    def put(self, chat: WebchatState) -> None:
        """Add a chat read from the store (after the others: give them oldest
        first), or put back an earlier copy of one (it keeps its place)."""
        self._chats[chat.conversation_id] = chat

    def open(self, conversation_id: int, queue: str, customer: str) -> WebchatState:
        chat = WebchatState(conversation_id, queue, customer)
        self._chats[conversation_id] = chat
        return chat

    def load(self) -> dict[str, int]:
        """Open chats per agent (counts toward their occupancy)."""
        counts: dict[str, int] = {}
        for chat in self._chats.values():
            if chat.agent is not None and not chat.ended:
                counts[chat.agent] = counts.get(chat.agent, 0) + 1
        return counts

    def waiting(self) -> list[WebchatState]:
        return [c for c in self._chats.values() if c.agent is None and not c.ended]

    def offers(self, candidates: Sequence[Candidate]) -> list[Offer]:
        """Assign waiting chats, oldest first, while agents are free; the assignments made."""
        made: list[Offer] = []
        load = self.load()
        for chat in self.waiting():
            agent = pick_agent(chat.queue, candidates, load, self.max_per_agent, chat.exclude)
            if agent is None:
                continue
            chat.agent, chat.agent_name = agent.login, agent.display_name
            chat.agent_interface = agent.interface
            load[agent.login] = load.get(agent.login, 0) + 1
            made.append(Offer(chat.conversation_id, agent))
        return made

    def transfer_to_queue(self, conversation_id: int, queue: str, by: str) -> WebchatState:
        chat = self._open_chat(conversation_id)
        chat.queue, chat.agent, chat.agent_name, chat.exclude = queue, None, None, (by,)
        chat.agent_interface = None
        return chat

    def transfer_to_agent(self, conversation_id: int, agent: Candidate) -> WebchatState:
        chat = self._open_chat(conversation_id)
        chat.agent, chat.agent_name, chat.exclude = agent.login, agent.display_name, ()
        chat.agent_interface = agent.interface
        return chat

    def end(self, conversation_id: int, disposition: str) -> WebchatState:
        chat = self._open_chat(conversation_id)
        chat.ended, chat.disposition = True, disposition
        return chat

    def _open_chat(self, conversation_id: int) -> WebchatState:
        chat = self._chats.get(conversation_id)
        if chat is None or chat.ended:
            raise KeyError(conversation_id)
        return chat
