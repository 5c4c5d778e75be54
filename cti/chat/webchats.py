"""Customer web chats as stored and listed: records, changes, who sees which. Pure.

Strategy: `WebchatRecord` is one `webchats` row (migration 0008) as the store
hands it out: the routing state (`state()`, what `WebchatBook` holds) plus its
times. A stored change is one of three `WebchatChange`s, which say which time
the store stamps: `assigned` (an agent has it), `waiting` (back to a queue),
`ended` (with its disposition). Ended chats are the web chat history;
`WebchatScope` says whose a user may list, as for call history: an agent the
chats they had, a supervisor also the chats of their queues and of their
teams' agents (by device), an admin all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cti.chat.routing import WebchatState

__all__ = ["WebchatChange", "WebchatFilter", "WebchatRecord", "WebchatScope"]

WebchatChange = Literal["assigned", "waiting", "ended"]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@dataclass(frozen=True, slots=True)
class WebchatRecord:
    conversation_id: int
    queue: str
    customer: str  # the customer's member login
    customer_name: str | None  # the name they gave (the conversation's name)
    agent: str | None
    agent_name: str | None
    agent_interface: str | None
    exclude: tuple[str, ...]
    created_at: datetime
    waiting_since: datetime | None
    assigned_at: datetime | None
    ended: bool
    ended_at: datetime | None
    disposition: str | None
    version: int

    def state(self) -> WebchatState:
        return WebchatState(
            conversation_id=self.conversation_id,
            queue=self.queue,
            customer=self.customer,
            agent=self.agent,
            agent_name=self.agent_name,
            ended=self.ended,
            disposition=self.disposition,
            exclude=self.exclude,
            agent_interface=self.agent_interface,
            version=self.version,
        )

    def to_json(self) -> dict[str, Any]:
        """For staff (the history list): no customer login, which names their token's nonce."""
        return {
            "conversation": self.conversation_id,
            "queue": self.queue,
            "customer_name": self.customer_name,
            "agent": self.agent,
            "agent_name": self.agent_name,
            "state": "ended" if self.ended else ("assigned" if self.agent else "waiting"),
            "disposition": self.disposition,
            "created_at": _iso(self.created_at),
            "assigned_at": _iso(self.assigned_at),
            "ended_at": _iso(self.ended_at),
        }


@dataclass(frozen=True, slots=True)
class WebchatScope:
    """Chats whose agent is one of `logins` or at one of `interfaces`, or of `queues`."""

    everything: bool = False
    logins: tuple[str, ...] = ()
    interfaces: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        login: str,
        role: str,
        queues: Iterable[str] = (),
        team_interfaces: Iterable[str] = (),
    ) -> WebchatScope:
        if role == "admin":
            return cls(everything=True)
        if role != "supervisor":
            return cls(logins=(login,))
        return cls(
            logins=(login,),
            interfaces=tuple(sorted(set(team_interfaces))),
            queues=tuple(sorted(set(queues))),
        )

    def sees(self, record: WebchatRecord) -> bool:
        if self.everything or record.queue in self.queues:
            return True
        return record.agent in self.logins or (
            record.agent_interface is not None and record.agent_interface in self.interfaces
        )


@dataclass(frozen=True, slots=True)
class WebchatFilter:
    """Ended chats in `scope`, narrowed by queue, agent login and [start, end) of
    their end, newest first."""

    scope: WebchatScope
    queue: str | None = None
    agent: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 100
    offset: int = 0
