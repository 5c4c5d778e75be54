"""Who may act on which call: pure rules over a user and a call view.

Strategy: the decision needs only two facts, both read-only copies: the
`Actor` (role, phone, supervised queues, from the store at request time) and
the `CallView` (the live model's frozen view). So the rules are one function,
tested without a socket, and the shell asks before it sends anything.

- An agent acts only on calls where their own phone has a channel.
- A supervisor acts on their own calls, on every call of their queues
  (`supervisor_queues` table) and on every call one of their teams' agents
  is on (`supervisor_teams`: `team_interfaces`); an admin on every call.
- Listen, whisper and barge are for supervisors and admins only, and need the
  actor's phone (ChanSpy rings it).
- Click-to-dial needs the actor's phone; there is no call to check yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cti.control.commands import SPY_COMMANDS, CallCommand, Dial
from cti.control.results import Refusal
from cti.model.interfaces import device_key, interface_of_channel
from cti.model.views import CallView, ChannelView

__all__ = ["Actor", "authorize", "channels_of", "device_of"]


@dataclass(frozen=True, slots=True)
class Actor:
    login: str
    role: str  # agent, supervisor, admin
    interface: str | None  # the user's phone, e.g. "PJSIP/1001"
    queues: frozenset[str] = frozenset()  # queues a supervisor looks after
    team_interfaces: frozenset[str] = frozenset()  # devices of their teams' agents


def device_of(channel: ChannelView) -> str:
    """The device a channel belongs to, as a registry key ("PJSIP/1001")."""
    return device_key(channel.interface or interface_of_channel(channel.name))


def channels_of(call: CallView, interface: str) -> list[ChannelView]:
    """The call's channels on `interface`'s device, oldest first."""
    key = device_key(interface)
    return [c for c in call.channels if device_of(c) == key]


def _on_call(actor: Actor, call: CallView) -> bool:
    return actor.interface is not None and bool(channels_of(call, actor.interface))


def _supervises(actor: Actor, queues: Iterable[str | None]) -> bool:
    if actor.role == "admin":
        return True
    return actor.role == "supervisor" and any(q in actor.queues for q in queues if q)


def _team_on(actor: Actor, call: CallView) -> bool:
    """A supervisor's team agent has a channel on `call`."""
    if actor.role != "supervisor" or not actor.team_interfaces:
        return False
    team = {device_key(i) for i in actor.team_interfaces}
    return any(device_of(c) in team for c in call.channels)


def _call_queues(call: CallView) -> list[str | None]:
    # The call's queue, and the queue of each agent leg (a transfer may have
    # taken the call through a second queue).
    return [call.queue, *(c.queue for c in call.channels)]


def authorize(actor: Actor, command: Dial | CallCommand, call: CallView | None) -> Refusal | None:
    """None when `actor` may run `command` on `call`, else why not."""
    if isinstance(command, Dial):
        if actor.interface is None:
            return Refusal("invalid", "your account has no phone to dial from")
        return None
    if call is None:
        return Refusal("call_gone", f"call {command.call_id} is not (or no longer) live")
    if command.command in SPY_COMMANDS:
        if actor.role == "agent":
            return Refusal("not_your_call", "agents may not listen, whisper or barge")
        if actor.interface is None:
            return Refusal("invalid", "your account has no phone to listen with")
        if _supervises(actor, _call_queues(call)) or _team_on(actor, call):
            return None
        return Refusal(
            "not_your_call", f"call {call.call_id} is neither in your queues nor your teams'"
        )
    if _on_call(actor, call) or _supervises(actor, _call_queues(call)) or _team_on(actor, call):
        return None
    if actor.role == "agent":
        return Refusal("not_your_call", f"your phone is not on call {call.call_id}")
    return Refusal(
        "not_your_call", f"call {call.call_id} is neither yours nor in one of your queues"
    )
