"""Ready-made implementations of the web ports over the store and the model.

Strategy: the web layer defines what it needs (`cti.web.ports`); these thin
adapters satisfy it from the real parts without the web layer importing the
store: `AccountDirectory` wraps anything with `authenticate(login, password)`
and `agent_by_login(login)` returning account records (the store's
`AgentRecord` fits) and, when it has one, `team_scope(login)` for the teams
a supervisor looks after (the `Store` fits), `ModelStateView` turns the pure model's read views
into API schemas, and `ControlAdapter` hands web users to cti.control as
actors. All are pure translation, so tests need no database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from cti.control.authorize import Actor
from cti.control.commands import CallCommand, Dial
from cti.control.results import CommandResult
from cti.control.service import CallControl
from cti.model.views import AgentView, CallView, QueueView
from cti.web.ports import ROLES, Role, User
from cti.web.schemas import AgentSchema, CallSchema, IvrStepSchema, QueueSchema

__all__ = [
    "AccountDirectory",
    "ControlAdapter",
    "ModelStateView",
    "actor_of",
    "agent_schema",
    "call_schema",
    "queue_schema",
    "user_from_account",
]


class _Account(Protocol):
    @property
    def login(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def interface(self) -> str | None: ...


class _Accounts(Protocol):
    async def authenticate(self, login: str, password: str) -> _Account | None: ...
    async def agent_by_login(self, login: str) -> _Account | None: ...


class _TeamScope(Protocol):
    @property
    def teams(self) -> tuple[str, ...]: ...
    @property
    def interfaces(self) -> tuple[str, ...]: ...


class _Teams(Protocol):
    async def team_scope(self, login: str) -> _TeamScope: ...


class _Views(Protocol):
    def calls(self) -> Sequence[CallView]: ...
    def queues(self) -> Sequence[QueueView]: ...
    def agents(self) -> Sequence[AgentView]: ...


def _role(value: str) -> Role:
    for role in ROLES:
        if role == value:
            return role
    return "agent"  # an unknown role gets the least privilege


def user_from_account(account: _Account, teams: _TeamScope | None = None) -> User:
    # `queues` (supervisor_queues) is optional: an account shape without it
    # supervises nothing. Teams count for supervisors only (an agent's own
    # team grants them nothing); admins see everything anyway.
    queues: tuple[str, ...] = tuple(getattr(account, "queues", ()))
    role = _role(account.role)
    if teams is None or role != "supervisor":
        return User(account.login, account.display_name, role, account.interface, queues)
    return User(
        account.login,
        account.display_name,
        role,
        account.interface,
        queues,
        tuple(teams.teams),
        tuple(teams.interfaces),
    )


class AccountDirectory:
    """`UserDirectory` over the store (or anything shaped like it)."""

    def __init__(self, accounts: _Accounts, teams: _Teams | None = None) -> None:
        """`teams`: where supervisors' teams come from; by default `accounts`
        itself if it has `team_scope`, else nobody has a team."""
        self._accounts = accounts
        if teams is None and hasattr(accounts, "team_scope"):
            teams = cast(_Teams, accounts)  # the Store is both
        self._teams = teams

    async def authenticate(self, login: str, password: str) -> User | None:
        account = await self._accounts.authenticate(login, password)
        return await self._user(account) if account is not None else None

    async def get_user(self, login: str) -> User | None:
        account = await self._accounts.agent_by_login(login)
        return await self._user(account) if account is not None else None

    async def _user(self, account: _Account) -> User:
        if self._teams is None or account.role != "supervisor":
            return user_from_account(account)
        return user_from_account(account, await self._teams.team_scope(account.login))


def call_schema(call: CallView) -> CallSchema:
    devices = [c.interface for c in call.channels if c.interface is not None]
    ringing = [c.interface for c in call.channels if c.role == "agent" and c.interface]
    agent = call.answered_by or (ringing[-1] if ringing else None)
    return CallSchema(
        call_id=call.call_id,
        caller_number=call.caller_number,
        caller_name=call.caller_name,
        dialed_number=call.dialed_number,
        queue=call.queue,
        state=call.state,
        agent=agent,
        parties=list(dict.fromkeys(devices)),
        started_at=call.started_at,
        answered_at=call.answered_at,
        ivr_path=[
            IvrStepSchema(step=s.step, values=dict(s.values), at=s.at) for s in call.ivr_path
        ],
        variables=dict(call.variables),
        account=call.account,
    )


def queue_schema(queue: QueueView, now: float) -> QueueSchema:
    oldest = min((w.joined_at for w in queue.waiting), default=None)
    return QueueSchema(
        name=queue.queue,
        waiting=len(queue.waiting),
        longest_wait_seconds=max(0.0, now - oldest) if oldest is not None else None,
        members=[m.interface for m in queue.members],
    )


def agent_schema(agent: AgentView) -> AgentSchema:
    return AgentSchema(
        interface=agent.interface,
        name=agent.name,
        state=agent.state,
        reason=agent.reason,
        queues=list(agent.queues),
        since=agent.since,
        wrap_up_until=agent.wrap_up_until,
    )


class ModelStateView:
    """`StateView` over the model's read views (`Model.calls()`, `.queues()`, `.agents()`)."""

    def __init__(self, views: _Views, clock: Callable[[], float] = time.time) -> None:
        self._views = views
        self._clock = clock

    def calls(self) -> Sequence[CallSchema]:
        return [call_schema(c) for c in self._views.calls()]

    def queues(self) -> Sequence[QueueSchema]:
        now = self._clock()
        return [queue_schema(q, now) for q in self._views.queues()]

    def agents(self) -> Sequence[AgentSchema]:
        return [agent_schema(a) for a in self._views.agents()]


def actor_of(user: User) -> Actor:
    return Actor(
        user.login,
        user.role,
        user.interface,
        frozenset(user.queues),
        frozenset(user.team_interfaces),
    )


class ControlAdapter:
    """The web port `CallControl` over `cti.control.CallControl`."""

    def __init__(self, control: CallControl) -> None:
        self._control = control

    async def execute(self, user: User, command: Dial | CallCommand) -> CommandResult:
        return await self._control.execute(actor_of(user), command)
