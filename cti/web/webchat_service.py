"""Customer web chat service: the customer token, and the book of chats kept in
the store.

Strategy: `WebchatService` is the asyncio shell around `WebchatBook`
(cti.chat.routing, pure). Every change of a chat (start, assignment,
transfer, end) is written to the store (`WebchatStore`, cti/store/webchats.py)
before anyone is told: the customer's start answer, the agent's `chat_offer`,
the transfer or end answer. A change is made in the book, stored over the
version the book had (`webchat_save`), and undone in the book if the store
failed (503 `unavailable`) or the stored chat had moved on meanwhile (another
node: the book takes the stored state, 403 `not_allowed`). The members of the
conversation follow in the same transaction: an agent joins when the chat is
theirs and leaves when it is transferred away from them. At its first use the
service reads the open chats back, oldest first, so a restarted CTI keeps who
has which chat and the waiting line's order; a chat missing from the book
(ended before the restart, or started on another node) is read on demand.
All changes take one lock, so routing and an agent's end or transfer do not
interleave.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from cti.chat import ChatError, ChatService, Conversation, RateLimiter
from cti.chat.routing import Candidate, WebchatBook, WebchatState
from cti.chat.webchats import WebchatChange, WebchatFilter, WebchatRecord
from cti.config import Settings
from cti.store.errors import StoreError  # a leaf module: no SQLAlchemy here
from cti.web.hub import Hub
from cti.web.nudges import Nudges
from cti.web.ports import StateView, User

__all__ = ["CustomerToken", "WebchatService", "WebchatStore", "customer_login"]

log = logging.getLogger("cti.webchat")
_T = TypeVar("_T")


class WebchatStore(Protocol):
    """What the service needs of the database (cti.store.Store has it)."""

    async def webchat_open(
        self, key: str, name: str | None, customer: str, queue: str, at: datetime
    ) -> tuple[Conversation, WebchatRecord]: ...
    async def webchat_save(
        self,
        chat: WebchatState,
        change: WebchatChange,
        at: datetime,
        *,
        join: Sequence[str] = (),
        leave: Sequence[str] = (),
    ) -> bool: ...
    async def webchat(self, conversation_id: int) -> WebchatRecord | None: ...
    async def webchats_open(self) -> list[WebchatRecord]: ...
    async def webchats_ended(self, f: WebchatFilter) -> list[WebchatRecord]: ...


class CustomerToken:
    """Signs and checks `wc1.<conversation>.<nonce>.<signature>`."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"cti-webchat:" + secret.encode()).digest()

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def issue(self, conversation_id: int, nonce: str) -> str:
        body = f"wc1.{conversation_id}.{nonce}"
        return f"{body}.{self._sign(body)}"

    def check(self, token: str | None) -> tuple[int, str] | None:
        """(conversation id, customer login) of a valid token, else None."""
        if not token or len(token) > 200:
            return None
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != "wc1" or not parts[1].isdigit():
            return None
        body = ".".join(parts[:3])
        if not hmac.compare_digest(self._sign(body), parts[3]):
            return None
        return int(parts[1]), customer_login(parts[2])


def customer_login(nonce: str) -> str:
    return f"customer.{nonce}"


async def _guard(work: Awaitable[_T]) -> _T:
    """Await a store call; its failures become ChatError unavailable (503)."""
    try:
        return await work
    except StoreError as exc:
        log.warning("web chat store failed: %s", exc)
        raise ChatError("unavailable", "web chat is unavailable: the database failed") from exc


class WebchatService:
    def __init__(
        self,
        chat: ChatService,
        store: WebchatStore,
        state: StateView,
        hub: Hub,
        settings: Settings,
    ) -> None:
        self.chat = chat
        self.store = store
        self.tokens = CustomerToken(settings.token_secret)
        self.book = WebchatBook(settings.chat_max_per_agent)
        self.dispositions = settings.dispositions
        self._state = state
        self._hub = hub
        self._starts = RateLimiter(capacity=5, per_second=0.1)  # per client IP
        self._changes = asyncio.Lock()
        self._loading = asyncio.Lock()
        self._restored = False
        # told every chat's state once stored, and the open ones restored (cti.app:
        # the chat load that counts toward occupancy, cti.metrics.chat_load)
        self.on_change: Callable[[WebchatState], None] | None = None
        # customers' sockets wait on these (the hub pokes chat deliveries too)
        self.nudges = Nudges()
        hub.on_logins = self.nudges.poke

    def queues(self) -> set[str]:
        return {q.name for q in self._state.queues()}

    def candidates(self) -> list[Candidate]:
        """Connected users whose phone is an agent of the model, with its state."""
        agents = {a.interface: a for a in self._state.agents()}
        found: dict[str, Candidate] = {}
        for conn in self._hub.connections():
            user = conn.user
            agent = agents.get(user.interface) if user.interface else None
            if agent is not None and user.login not in found:
                found[user.login] = Candidate(
                    user.login, user.display_name, agent.state, tuple(agent.queues), user.interface
                )
        return list(found.values())

    # -- the store -------------------------------------------------------------

    async def restore(self) -> None:
        """Read the open chats into the book, oldest first (once; every other
        method does it first)."""
        if self._restored:
            return
        async with self._loading:
            if self._restored:
                return
            for record in await _guard(self.store.webchats_open()):
                if self.book.get(record.conversation_id) is None:
                    self.book.put(record.state())
                    if self.on_change is not None:
                        self.on_change(record.state())
            self._restored = True

    async def state_of(self, conversation_id: int) -> WebchatState | None:
        """The chat from the book, else from the store (ended before a restart,
        or started on another node)."""
        await self.restore()
        found = self.book.get(conversation_id)
        if found is None:
            record = await _guard(self.store.webchat(conversation_id))
            if record is not None and self.book.get(conversation_id) is None:
                found = record.state()
                self.book.put(found)
        return found

    async def _save(
        self,
        chat: WebchatState,
        before: WebchatState,
        change: WebchatChange,
        *,
        join: Sequence[str] = (),
        leave: Sequence[str] = (),
    ) -> None:
        """Store the book's changed `chat`; else put `before` back and raise."""
        try:
            saved = await self.store.webchat_save(
                chat, change, datetime.now(UTC), join=join, leave=leave
            )
        except StoreError as exc:
            self.book.put(before)
            log.warning("web chat store failed: %s", exc)
            raise ChatError("unavailable", "web chat is unavailable: the database failed") from exc
        finally:
            self.chat.membership_changed()  # agents join and leave with the chat
        if not saved:
            self.book.put(before)
            with_store = await _guard(self.store.webchat(chat.conversation_id))
            if with_store is not None:
                self.book.put(with_store.state())  # the stored truth, in its place
            raise ChatError("not_allowed", "the chat changed meanwhile: look again")
        chat.version += 1
        self.nudges.poke([chat.customer])  # its socket tells the customer
        if self.on_change is not None:
            self.on_change(chat)

    # -- changes -----------------------------------------------------------------

    async def start(self, client: str, queue: str, name: str | None) -> tuple[str, int]:
        if not self._starts.allow(client, time.time()):
            raise ChatError("rate_limited", "too many chats started: retry later")
        if queue not in self.queues():
            raise ChatError("not_found", "no such queue", "queue")
        await self.restore()
        nonce = secrets.token_hex(12)
        login = customer_login(nonce)
        try:
            conversation, record = await _guard(
                self.store.webchat_open(
                    f"webchat:{nonce}", name or "Customer", login, queue, datetime.now(UTC)
                )
            )
        finally:
            self.chat.membership_changed()
        async with self._changes:
            self.book.put(record.state())
            await self._route()
        return self.tokens.issue(conversation.id, nonce), conversation.id

    async def route(self) -> None:
        """Give waiting chats to free agents: they join the conversation and get
        `chat_offer`."""
        await self.restore()
        if not self.book.waiting():
            return
        async with self._changes:
            await self._route()

    async def _route(self) -> None:
        waiting = self.book.waiting()
        if not waiting:
            return
        before = {c.conversation_id: dataclasses.replace(c) for c in waiting}
        for offer in self.book.offers(self.candidates()):
            chat = self.book.get(offer.conversation_id)
            assert chat is not None
            try:
                await self._save(
                    chat, before[chat.conversation_id], "assigned", join=[offer.agent.login]
                )
            except ChatError as exc:  # stays waiting (or as stored): the next round retries
                log.warning("web chat %s not assigned: %s", chat.conversation_id, exc.message)
                continue
            self._offer(chat, offer.agent.login)

    def _offer(self, chat: WebchatState, agent: str) -> None:
        offer = {"type": "chat_offer", "conversation": chat.conversation_id, "queue": chat.queue}
        self._hub.publish_to_logins([agent], offer)

    def assigned(self, user: User, conversation_id: int) -> WebchatState:
        chat = self.book.get(conversation_id)
        if chat is None or chat.ended:
            raise ChatError("not_found", "no such open customer chat")
        if chat.agent != user.login and user.role != "admin":
            raise ChatError("not_allowed", "only the agent who has the chat")
        return chat

    async def transfer(
        self, user: User, conversation_id: int, agent: str | None, queue: str | None
    ) -> WebchatState:
        await self.restore()
        async with self._changes:
            chat = self.assigned(user, conversation_id)
            if (agent is None) == (queue is None):
                raise ChatError("invalid", "give either agent or queue", "agent")
            before = dataclasses.replace(chat)
            away = [chat.agent] if chat.agent else []  # they lose the conversation
            if queue is not None:
                if queue not in self.queues():
                    raise ChatError("not_found", "no such queue", "queue")
                # not back to whoever had it, even when an admin moves it
                moved = self.book.transfer_to_queue(
                    conversation_id, queue, chat.agent or user.login
                )
                await self._save(moved, before, "waiting", leave=away)
                await self._route()
                return moved
            target = next((c for c in self.candidates() if c.login == agent), None)
            if target is None or target.login == chat.agent:
                raise ChatError("not_found", "no such agent online", "agent")
            if self.book.load().get(target.login, 0) >= self.book.max_per_agent:
                raise ChatError("not_allowed", "that agent has all the chats they can take")
            moved = self.book.transfer_to_agent(conversation_id, target)
            await self._save(moved, before, "assigned", join=[target.login], leave=away)
            self._offer(moved, target.login)
            return moved

    async def end(self, user: User, conversation_id: int, disposition: str) -> WebchatState:
        await self.restore()
        async with self._changes:
            chat = self.assigned(user, conversation_id)
            if disposition not in self.dispositions:
                raise ChatError("invalid", "unknown disposition", "disposition")
            before = dataclasses.replace(chat)
            ended = self.book.end(conversation_id, disposition)
            await self._save(ended, before, "ended")
            await self._route()
            return ended

    async def history(self, f: WebchatFilter) -> list[WebchatRecord]:
        """Ended chats (`f` carries the asker's scope)."""
        return await _guard(self.store.webchats_ended(f))
