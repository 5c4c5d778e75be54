"""SQLAlchemy 2 declarative tables: agents (and the queues supervisors look after),
customers and their phones, call records.

Strategy: the ORM classes stay inside `cti.store`; repositories turn rows into
frozen records before anything leaves the package. Constraint names follow one
naming convention so Alembic migrations name them identically on SQLite and
PostgreSQL. Timestamps go through `UtcDateTime`: stored as UTC (SQLite keeps
no offset, PostgreSQL uses timestamptz) and always read back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Agent",
    "AgentStateRow",
    "Base",
    "CallDispositionRow",
    "CallRecordRow",
    "ChatMemberRow",
    "ChatMessageRow",
    "ConversationRow",
    "Customer",
    "CustomerPhone",
    "QueueIntervalRow",
    "SupervisorQueue",
    "SupervisorTeamRow",
    "TeamMemberRow",
    "TeamRow",
    "UtcDateTime",
    "WebchatRow",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive input is refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:  # SQLite stores the UTC wall time without an offset
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (CheckConstraint("role IN ('agent', 'supervisor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # None for desk-less users (an admin without a phone)
    interface: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    supervised: Mapped[list[SupervisorQueue]] = relationship(
        cascade="all, delete-orphan", order_by="SupervisorQueue.queue", lazy="selectin"
    )


class SupervisorQueue(Base):
    """A queue whose calls a supervisor may act on (listen, whisper, barge, ...)."""

    __tablename__ = "supervisor_queues"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    queue: Mapped[str] = mapped_column(String(128), primary_key=True)


class TeamRow(Base):
    """A named group of agents (migration 0006)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class TeamMemberRow(Base):
    """An agent's team: keyed by the agent, so an agent is in at most one team."""

    __tablename__ = "team_members"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)


class SupervisorTeamRow(Base):
    """A team a supervisor looks after (sees and acts on its agents' calls)."""

    __tablename__ = "supervisor_teams"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    account: Mapped[str | None] = mapped_column(String(64), unique=True)
    notes: Mapped[str] = mapped_column(Text, default="")

    phones: Mapped[list[CustomerPhone]] = relationship(
        back_populates="customer",
        cascade="all, delete-orphan",
        order_by="CustomerPhone.id",
        lazy="selectin",
    )


class CustomerPhone(Base):
    __tablename__ = "customer_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    # digits only, as normalized by cti.store.phones.normalize_phone
    number: Mapped[str] = mapped_column(String(32), unique=True, index=True)

    customer: Mapped[Customer] = relationship(back_populates="phones")


class CallRecordRow(Base):
    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # the Linkedid
    caller_number: Mapped[str] = mapped_column(String(64))
    caller_name: Mapped[str] = mapped_column(String(200))
    dialed_number: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(128))
    answered_by: Mapped[str | None] = mapped_column(String(128), index=True)
    outcome: Mapped[str] = mapped_column(String(32))
    # {"path": [{"step", "values", "at"}...], "variables": {CTI_*: value}}
    ivr: Mapped[dict[str, Any]] = mapped_column(JSON)
    account: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    # a record found ended by a resync may be replaced by a real hang-up
    ended_by_resync: Mapped[bool] = mapped_column(Boolean, default=False)
    # call history (migration 0005, cti/store/history.py): "|PJSIP/1001|PJSIP/1002|",
    # every interface that took part or was rung, searched with LIKE '%|x|%'
    involved: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    legs: Mapped[list[Any] | None] = mapped_column(JSON)
    ring_attempts: Mapped[list[Any] | None] = mapped_column(JSON)
    transfers: Mapped[list[Any] | None] = mapped_column(JSON)


class CallDispositionRow(Base):
    """A call's disposition code and notes (migration 0005), keyed by call id and
    not tied to call_records: set during the call or its wrap-up, before the
    record exists, it is joined when the history is read."""

    __tablename__ = "call_dispositions"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    notes: Mapped[str] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AgentStateRow(Base):
    """One spell of an agent in one work state (migration 0003).

    `ended_at` is None while the agent is still in it: the open rows tell a
    restarted CTI since when each agent is in their state.
    """

    __tablename__ = "agent_state_changes"
    __table_args__ = (
        Index("ix_agent_state_changes_interface_started_at", "interface", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interface: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class QueueIntervalRow(Base):
    """One queue's metric counters for one minute (migration 0004, cti/metrics).

    Columns are `cti.metrics.buckets.FIELDS`; a row is rewritten in full
    (upsert) whenever the CTI changes its bucket.
    """

    __tablename__ = "queue_intervals"

    queue: Mapped[str] = mapped_column(String(128), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True, index=True)
    offered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    short_abandoned: Mapped[int] = mapped_column(Integer)
    unanswered: Mapped[int] = mapped_column(Integer)
    answered_within_sl: Mapped[int] = mapped_column(Integer)
    abandoned_within_sl: Mapped[int] = mapped_column(Integer)
    answered_timed: Mapped[int] = mapped_column(Integer)
    handled: Mapped[int] = mapped_column(Integer)
    acw_count: Mapped[int] = mapped_column(Integer)
    ring_no_answer: Mapped[int] = mapped_column(Integer)
    lost_by_resync: Mapped[int] = mapped_column(Integer)
    wait_answered_sum: Mapped[float] = mapped_column(Float)
    wait_abandoned_sum: Mapped[float] = mapped_column(Float)
    talk_sum: Mapped[float] = mapped_column(Float)
    acw_sum: Mapped[float] = mapped_column(Float)
    contact_seconds: Mapped[float] = mapped_column(Float)
    idle_seconds: Mapped[float] = mapped_column(Float)
    ring_no_answer_by_agent: Mapped[dict[str, int]] = mapped_column(JSON)


class ConversationRow(Base):
    """A chat conversation (migration 0007); `last_seq` numbers its messages."""

    __tablename__ = "conversations"
    __table_args__ = (CheckConstraint("kind IN ('direct', 'room', 'customer')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(128))
    # "alice bob" (a direct conversation's logins, sorted), "team:<name>" (a team's
    # room): at most one conversation each
    unique_key: Mapped[str | None] = mapped_column(String(140), unique=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ChatMemberRow(Base):
    """A user in a conversation, with how far they have read and received."""

    __tablename__ = "conversation_members"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    login: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_delivered_seq: Mapped[int] = mapped_column(Integer, default=0)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ChatMessageRow(Base):
    """One chat message, numbered by `seq` within its conversation.

    `client_id` is the sender's own id for the message, if they gave one: a
    send retried with it finds the stored message instead of adding another.
    """

    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_id_seq"),
        UniqueConstraint(
            "conversation_id", "sender", "client_id", name="uq_chat_messages_client_id"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    client_id: Mapped[str | None] = mapped_column(String(64))


class WebchatRow(Base):
    """A customer web chat's state (migration 0008): queue, agent or waiting,
    ended and disposition; `version` grows with each change (cti/store/webchats.py)."""

    __tablename__ = "webchats"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    queue: Mapped[str] = mapped_column(String(128))
    customer: Mapped[str] = mapped_column(String(64))  # the customer's member login
    agent: Mapped[str | None] = mapped_column(String(64))  # None: waiting
    agent_name: Mapped[str | None] = mapped_column(String(128))
    agent_interface: Mapped[str | None] = mapped_column(String(128))
    # logins it must not be routed to again (who sent it back to the queue)
    exclude: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    disposition: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=0)
