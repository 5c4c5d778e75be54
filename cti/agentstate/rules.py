"""Who may act on which agent, and which AMI actions a command becomes: pure.

Strategy: the decision needs three read-only facts: the `Actor` (role, phone,
supervised queues), the `AgentTarget` (the account acted on, from the store)
and the agent's live membership (`AgentNow`, from the model). So the rules
are two functions tested without a socket, and the shell asks them before it
sends anything.

Scope:
- everyone acts on themselves; an admin on anyone;
- a supervisor on an agent who is a member of one of their queues
  (`supervisor_queues`), and logs agents in/out of those queues only;
- a supervisor also acts on the agents of the teams they look after: the
  actor's `team_interfaces` (from `supervisor_teams`), or `team_logins`
  (the same agents by login, for callers that know logins);
- an agent acts on nobody else.

Actions: pause/unpause/end-wrap-up are one QueuePause without `Queue` (all of
the agent's queues: a pause is the agent's, not a queue's); log-in is one
QueueAdd per queue (Interface, MemberName, StateInterface); log-out one
QueueRemove per queue.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from cti.agentstate.commands import (
    AgentCommand,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentUnpause,
    EndWrapUp,
)
from cti.agentstate.results import AgentRefusal
from cti.control.authorize import Actor
from cti.control.plan import AmiAction

__all__ = ["AgentNow", "AgentTarget", "authorize", "in_scope", "plan"]

_WRAP_UP = "wrap_up"


@dataclass(frozen=True, slots=True)
class AgentTarget:
    """The account acted on (the web layer's User, reduced to what matters)."""

    login: str
    name: str
    interface: str | None


@dataclass(frozen=True, slots=True)
class AgentNow:
    """What the live model says about the agent now."""

    state: str
    queues: frozenset[str]


def in_scope(
    actor: Actor,
    target: AgentTarget,
    agent_queues: Iterable[str],
    team_logins: Collection[str] = (),
) -> bool:
    """May `actor` act on `target` at all (before looking at the command)?"""
    if actor.login == target.login or actor.role == "admin":
        return True
    if actor.role != "supervisor":
        return False
    if target.login in team_logins:
        return True
    if target.interface is not None and target.interface in actor.team_interfaces:
        return True
    return any(q in actor.queues for q in agent_queues)


def _queues_allowed(actor: Actor, target: AgentTarget, queues: Iterable[str]) -> list[str]:
    """The queues a supervisor may not log `target` in to or out of."""
    if actor.role != "supervisor" or actor.login == target.login:
        return []
    return [q for q in queues if q not in actor.queues]


def authorize(
    actor: Actor,
    command: AgentCommand,
    target: AgentTarget | None,
    now: AgentNow | None,
    team_logins: Collection[str] = (),
) -> AgentRefusal | None:
    """None when `actor` may run `command` on `target`, else why not."""
    if target is None:
        return AgentRefusal("not_found", f"no agent {command.agent!r}", ("agent",))
    member_of = now.queues if now is not None else frozenset()
    if isinstance(command, AgentLogin):
        # logging someone in: the queues asked for decide, not current membership
        if actor.login != target.login and actor.role == "agent":
            return AgentRefusal("not_allowed", "agents may only log themselves in")
        outside = _queues_allowed(actor, target, command.queues)
        if outside:
            return AgentRefusal("not_allowed", f"not your queue(s): {', '.join(outside)}")
        return None
    if not in_scope(actor, target, member_of, team_logins):
        if actor.role == "agent":
            return AgentRefusal("not_allowed", "agents may only act on themselves")
        return AgentRefusal("not_allowed", f"{target.login} is in none of your queues or teams")
    if isinstance(command, AgentLogout) and command.queues is not None:
        outside = _queues_allowed(actor, target, command.queues)
        if outside:
            return AgentRefusal("not_allowed", f"not your queue(s): {', '.join(outside)}")
    return None


def _pause(interface: str, paused: bool, reason: str = "") -> AmiAction:
    fields = [("Interface", interface), ("Paused", "true" if paused else "false")]
    if reason:
        fields.append(("Reason", reason))
    return AmiAction("QueuePause", tuple(fields))


def plan(
    actor: Actor,
    command: AgentCommand,
    target: AgentTarget,
    now: AgentNow | None,
    known_queues: Collection[str],
    pause_reasons: Collection[str],
) -> tuple[AmiAction, ...] | AgentRefusal:
    """The AMI actions for an authorized `command`, or why there are none."""
    interface = target.interface
    if interface is None:
        return AgentRefusal("invalid", f"{target.login} has no phone", ("agent",))
    member_of = now.queues if now is not None else frozenset()
    if isinstance(command, AgentLogin):
        unknown = [q for q in command.queues if q not in known_queues]
        if unknown:
            return AgentRefusal("not_found", f"no queue {', '.join(unknown)}", ("queues",))
        new = [q for q in dict.fromkeys(command.queues) if q not in member_of]
        if not new:
            return AgentRefusal("invalid", f"{target.login} is already in those queues")
        return tuple(
            AmiAction(
                "QueueAdd",
                (
                    ("Queue", q),
                    ("Interface", interface),
                    ("MemberName", target.name or target.login),
                    ("StateInterface", interface),
                ),
            )
            for q in new
        )
    if isinstance(command, AgentLogout):
        if command.queues is None:
            mine = actor.role != "supervisor" or actor.login == target.login
            leave = sorted(q for q in member_of if mine or q in actor.queues)
        else:
            leave = [q for q in dict.fromkeys(command.queues) if q in member_of]
        if not leave:
            return AgentRefusal("invalid", f"{target.login} is in none of those queues")
        return tuple(
            AmiAction("QueueRemove", (("Queue", q), ("Interface", interface))) for q in leave
        )
    if not member_of:
        return AgentRefusal("invalid", f"{target.login} is not logged in to any queue")
    if isinstance(command, AgentPause):
        if command.reason not in pause_reasons:
            allowed = ", ".join(pause_reasons)
            return AgentRefusal("invalid", f"reason must be one of: {allowed}", ("reason",))
        return (_pause(interface, True, command.reason),)
    if isinstance(command, EndWrapUp):
        if now is None or now.state != _WRAP_UP:
            return AgentRefusal("invalid", f"{target.login} is not in wrap-up")
        return (_pause(interface, False),)
    assert isinstance(command, AgentUnpause)
    return (_pause(interface, False),)
