"""What a signed-in user may see: queues, agents and calls. Pure, no I/O.

Strategy: one frozen `Scope` per user, built from the `User` the directory
resolved at request time (role, own device, supervised queues, devices of
the agents of supervised teams), answers three questions used by the REST
snapshots and mirrored by the hub's indexes (cti.web.hub) for live events:

- admin: everything;
- supervisor: a queue if it is one of theirs (`supervisor_queues`); an agent
  if it is themselves, in one of their teams, or a member of one of their
  queues; a call if its queue is theirs or one of its parties is an agent in
  scope (their team, or themselves);
- agent: only themselves and the calls their own device is on; queues: only
  the ones they are a member of (`member_of`), for their own queue buttons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cti.web.ports import User

__all__ = ["Scope"]


@dataclass(frozen=True, slots=True)
class Scope:
    everything: bool
    interface: str | None  # the user's own device
    queues: frozenset[str]  # queues they supervise
    team_interfaces: frozenset[str]  # devices of the agents of the teams they look after

    @classmethod
    def of(cls, user: User) -> Scope:
        if user.role == "admin":
            return cls(True, user.interface, frozenset(), frozenset())
        if user.role == "supervisor":
            return cls(
                False, user.interface, frozenset(user.queues), frozenset(user.team_interfaces)
            )
        return cls(False, user.interface, frozenset(), frozenset())  # an agent

    def sees_queue(self, queue: str | None, member_of: Iterable[str] = ()) -> bool:
        """Queue `queue`; `member_of`: the queues the user's own device is a member of."""
        if self.everything:
            return True
        return queue is not None and (queue in self.queues or queue in member_of)

    def sees_agent(self, interface: str | None, queues: Iterable[str] = ()) -> bool:
        """The agent at `interface`, a member of `queues`."""
        if self.everything:
            return True
        if interface is not None and (
            interface == self.interface or interface in self.team_interfaces
        ):
            return True
        return any(q in self.queues for q in queues)

    def sees_call(self, queue: str | None, parties: Iterable[str]) -> bool:
        """A call of `queue` (None: not queued) whose devices are `parties`."""
        if self.everything or (queue is not None and queue in self.queues):
            return True
        mine, team = self.interface, self.team_interfaces
        return any(p == mine or p in team for p in parties)
