"""The chat service: the asyncio shell around the pure core.

Strategy: every request is checked by the core first (text, limits,
membership), then done by one store call, then announced through a
`ChatDelivery`. A message is published only after `ChatStore.chat_append`
returned, that is after its transaction committed, and the sender's
acknowledgement (the returned `Message`) comes after that too: whatever a
client was told was sent is in the store, whatever the store holds can be
fetched again by seq (`history`). Live delivery is best effort on top of that
truth: a client that missed events asks for the seqs after its last one.

`ChatDelivery.publish_to_logins` is all this needs of the outside: the web
hub implements it on one node; an event bus (cti.bus) can carry it to the
members' sockets on other nodes. Store failures become `ChatError`
("unavailable", 503) so callers handle one error type.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from cti.chat.core import (
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
from cti.store.errors import StoreError  # a leaf module: no SQLAlchemy session here

__all__ = [
    "ChatDelivery",
    "ChatLimits",
    "ChatService",
    "ChatStore",
    "HistoryPage",
    "TeamLookup",
    "UserExists",
]

log = logging.getLogger("cti.chat")
_T = TypeVar("_T")


class ChatStore(Protocol):
    """What the service needs of the database (cti.store.Store has it)."""

    async def chat_conversation(self, conversation_id: int) -> Conversation | None: ...
    async def chat_conversations_for(self, login: str) -> list[Conversation]: ...
    async def chat_create_room(
        self, name: str, logins: Sequence[str], at: datetime
    ) -> Conversation: ...
    async def chat_open_keyed(
        self,
        key: str,
        kind: ConversationKind,
        name: str | None,
        logins: Sequence[str],
        at: datetime,
    ) -> Conversation: ...
    async def chat_add_members(
        self, conversation_id: int, logins: Sequence[str], at: datetime
    ) -> Conversation | None: ...
    async def chat_append(
        self,
        conversation_id: int,
        sender: str,
        text: str,
        at: datetime,
        client_id: str | None = None,
    ) -> Appended | None: ...
    async def chat_messages(
        self, conversation_id: int, *, after: int | None, before: int | None, limit: int
    ) -> list[Message]: ...
    async def chat_mark(
        self,
        conversation_id: int,
        login: str,
        *,
        read: int | None = None,
        delivered: int | None = None,
    ) -> Member | None: ...


class ChatDelivery(Protocol):
    def publish_to_logins(self, logins: Iterable[str], payload: Mapping[str, Any]) -> None:
        """Hand `payload` to every open socket of each of `logins`; never blocks."""
        ...


@dataclass(frozen=True, slots=True)
class ChatLimits:
    max_chars: int = MAX_TEXT_CHARS
    burst: int = 20  # messages a sender may send at once...
    per_second: float = 2.0  # ...then this many per second
    page_size: int = 100  # history page when no limit is given
    max_page: int = 500
    max_room_members: int = 500


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[Message]
    more: bool  # more messages exist beyond this page, in the direction asked


UserExists = Callable[[str], Awaitable[bool]]
# a team's (members, supervisors) logins, or None for no such team
TeamLookup = Callable[[str], Awaitable[tuple[Sequence[str], Sequence[str]] | None]]


class ChatService:
    def __init__(
        self,
        store: ChatStore,
        delivery: ChatDelivery,
        *,
        user_exists: UserExists,
        teams: TeamLookup | None = None,
        limits: ChatLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.delivery = delivery
        self.limits = limits or ChatLimits()
        self._user_exists = user_exists
        self._teams = teams
        self._clock = clock
        self._limiter = RateLimiter(self.limits.burst, self.limits.per_second)
        self._sends = 0
        # bumped after every membership write made through this node (done or
        # not): caches of who is in which conversation (chat presence) compare
        # it, so a read that overlapped a write is not kept
        self.membership_version = 0

    def membership_changed(self) -> None:
        self.membership_version += 1

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # -- conversations ---------------------------------------------------------

    async def conversations(self, login: str) -> list[Conversation]:
        return await _guard(self.store.chat_conversations_for(login))

    async def conversation(self, login: str, conversation_id: int) -> Conversation:
        """The conversation if `login` is a member; else ChatError not_member.

        A conversation that does not exist answers the same, so nobody learns
        which ids exist."""
        found = await _guard(self.store.chat_conversation(conversation_id))
        if found is None or found.member(login) is None:
            raise ChatError("not_member", "you are not a member of this conversation")
        return found

    async def open_direct(self, login: str, other: str) -> Conversation:
        key = direct_key(login, other)
        if not await self._user_exists(other):
            raise ChatError("not_found", "no such user", "login")
        try:
            return await _guard(
                self.store.chat_open_keyed(key, "direct", None, (login, other), self._now())
            )
        finally:
            self.membership_changed()

    async def team_room(self, login: str, is_admin: bool, team: str) -> Conversation:
        """The room of `team`: its members and supervisors, created the first time;
        whoever joined the team since is added. Only they (and admins, who then
        join) may open it."""
        if self._teams is None:
            raise ChatError("not_found", "teams are not available", "team")
        found = await self._teams(team)
        if found is None:
            raise ChatError("not_found", "no such team", "team")
        members, supervisors = found
        logins = list(dict.fromkeys([*members, *supervisors]))
        if login not in logins:
            if not is_admin:
                raise ChatError("not_allowed", "only the team's members and supervisors")
            logins.append(login)
        try:
            return await _guard(
                self.store.chat_open_keyed(team_key(team), "room", team, logins, self._now())
            )
        finally:
            self.membership_changed()

    async def create_room(self, creator: str, name: object, members: Sequence[str]) -> Conversation:
        """A room with `creator` and `members` (who may decide that is the web layer's job)."""
        room_name = check_room_name(name)
        logins = list(dict.fromkeys([creator, *members]))
        if len(logins) > self.limits.max_room_members:
            raise ChatError("invalid", f"at most {self.limits.max_room_members} members", "members")
        await self._check_users(logins)
        try:
            return await _guard(self.store.chat_create_room(room_name, logins, self._now()))
        finally:
            self.membership_changed()

    async def add_members(
        self, login: str, conversation_id: int, members: Sequence[str]
    ) -> Conversation:
        found = await self.conversation(login, conversation_id)
        if found.kind != "room":
            raise ChatError("invalid", "members can only be added to a room", "members")
        if len(set(found.logins()) | set(members)) > self.limits.max_room_members:
            raise ChatError("invalid", f"at most {self.limits.max_room_members} members", "members")
        await self._check_users(members)
        try:
            updated = await _guard(
                self.store.chat_add_members(conversation_id, members, self._now())
            )
        finally:
            self.membership_changed()
        if updated is None:
            raise ChatError("not_member", "you are not a member of this conversation")
        return updated

    async def _check_users(self, logins: Iterable[str]) -> None:
        for login in logins:
            if not await self._user_exists(login):
                raise ChatError("not_found", f"no such user: {login}", "members")

    # -- messages --------------------------------------------------------------

    async def send(
        self, sender: str, conversation_id: int, text: object, client_id: object = None
    ) -> Message:
        """Store the message, then publish it to the members; returns it once
        committed (the sender's acknowledgement).

        With a `client_id` (the sender's own id for the message) a retried send
        returns the message stored the first time, and publishes nothing again.
        """
        body = check_text(text, self.limits.max_chars)
        ref = check_client_id(client_id)
        now = self._clock()
        if not self._limiter.allow(sender, now):
            wait = self._limiter.retry_after(sender, now)
            raise ChatError("rate_limited", f"too many messages: retry in {wait:.1f} s")
        self._sends += 1
        if self._sends % 1000 == 0:
            self._limiter.prune(now)
        stored = await _guard(
            self.store.chat_append(
                conversation_id, sender, body, datetime.fromtimestamp(now, UTC), ref
            )
        )
        if stored is None:
            raise ChatError("not_member", "you are not a member of this conversation")
        if stored.created:
            self._publish(stored.members, stored.message.to_event())
        return stored.message

    async def history(
        self,
        login: str,
        conversation_id: int,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> HistoryPage:
        """Messages from the store: the first `limit` after `after`, or the last
        `limit` before `before` (or the newest); oldest first."""
        for name, value in (("after", after), ("before", before)):
            if value is not None and value < 0:
                raise ChatError("invalid", f"{name} must not be negative", name)
        size = self.limits.page_size if limit is None else limit
        if not 1 <= size <= self.limits.max_page:
            raise ChatError("invalid", f"limit must be 1-{self.limits.max_page}", "limit")
        await self.conversation(login, conversation_id)
        found = await _guard(
            self.store.chat_messages(conversation_id, after=after, before=before, limit=size + 1)
        )
        if len(found) <= size:
            return HistoryPage(found, more=False)
        # one extra row tells there is more; drop it on the far side of the page
        page = found[:size] if after is not None else found[1:]
        return HistoryPage(page, more=True)

    async def mark_read(self, login: str, conversation_id: int, seq: int) -> Member:
        return await self._mark(login, conversation_id, read=seq)

    async def mark_delivered(self, login: str, conversation_id: int, seq: int) -> Member:
        return await self._mark(login, conversation_id, delivered=seq)

    async def _mark(
        self,
        login: str,
        conversation_id: int,
        *,
        read: int | None = None,
        delivered: int | None = None,
    ) -> Member:
        seq = read if read is not None else delivered
        if seq is None or seq < 0:
            raise ChatError("invalid", "seq must not be negative", "seq")
        conversation = await self.conversation(login, conversation_id)
        before = conversation.member(login)
        member = await _guard(
            self.store.chat_mark(conversation_id, login, read=read, delivered=delivered)
        )
        if member is None:
            raise ChatError("not_member", "you are not a member of this conversation")
        others = [m for m in conversation.logins() if m != login]
        if before is not None and member.last_read_seq > before.last_read_seq:
            self._publish(
                others,
                {
                    "type": "chat_read",
                    "conversation": conversation_id,
                    "login": login,
                    "read_seq": member.last_read_seq,
                },
            )
        elif before is not None and member.last_delivered_seq > before.last_delivered_seq:
            self._publish(
                others,
                {
                    "type": "chat_delivered",
                    "conversation": conversation_id,
                    "login": login,
                    "delivered_seq": member.last_delivered_seq,
                },
            )
        return member

    async def typing(self, login: str, conversation_id: int) -> None:
        """Tell the other members `login` is typing (not stored)."""
        conversation = await self.conversation(login, conversation_id)
        others = [m for m in conversation.logins() if m != login]
        self._publish(
            others, {"type": "chat_typing", "conversation": conversation_id, "from": login}
        )

    def _publish(self, logins: Sequence[str], payload: Mapping[str, Any]) -> None:
        try:
            self.delivery.publish_to_logins(logins, payload)
        except Exception:  # the message is stored: a client fetches it by seq
            log.exception("chat delivery failed for %s", payload.get("type"))


async def _guard(work: Awaitable[_T]) -> _T:
    """Await a store call; its failures become ChatError unavailable (503)."""
    try:
        return await work
    except StoreError as exc:
        log.warning("chat store failed: %s", exc)
        raise ChatError("unavailable", "chat is unavailable: the database failed") from exc
