"""What the web layer needs from the rest of the CTI, as small Protocols.

Strategy: the web edge never imports the store or the model. It asks a
`UserDirectory` who someone is and a `StateView` what is happening now; the
engine wires the real store and model behind them, tests use in-memory fakes.
`User` is the web layer's own frozen view of an account: no password hash ever
crosses this boundary. `CallControl` carries out agent and supervisor commands
(cti.control behind it); the web layer only validates, asks and reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from cti.control.commands import CallCommand, Dial
from cti.control.results import CommandResult
from cti.web.schemas import AgentSchema, CallSchema, QueueSchema

__all__ = ["ROLES", "CallControl", "Role", "StateView", "User", "UserDirectory"]

Role = Literal["agent", "supervisor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True, slots=True)
class User:
    login: str
    display_name: str
    role: Role
    interface: str | None  # the agent's device, e.g. "PJSIP/1001"; None for desk-less users
    queues: tuple[str, ...] = ()  # queues whose calls a supervisor may act on
    teams: tuple[str, ...] = ()  # teams a supervisor looks after
    team_interfaces: tuple[str, ...] = ()  # the devices of the agents in those teams


class UserDirectory(Protocol):
    async def authenticate(self, login: str, password: str) -> User | None:
        """The user if the password is right, else None (never raises for bad input)."""
        ...

    async def get_user(self, login: str) -> User | None: ...


class StateView(Protocol):
    """Read-only snapshots of the live model, already shaped for the API."""

    def calls(self) -> Sequence[CallSchema]: ...
    def queues(self) -> Sequence[QueueSchema]: ...
    def agents(self) -> Sequence[AgentSchema]: ...


class CallControl(Protocol):
    async def execute(self, user: User, command: Dial | CallCommand) -> CommandResult:
        """Carry out `command` for `user`; never raises for a refused or failed command."""
        ...
