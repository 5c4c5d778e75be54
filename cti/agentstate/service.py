"""The agent-state shell: resolve, authorize, plan, send, report; and wrap-up effects.

Strategy: everything that decides is pure (`rules.py`); this class reads the
live model synchronously (same event loop, so the view cannot change under
us), asks the store who the target agent is, sends the planned actions one by
one through `AmiClient.send_action` with `action_timeout`, and maps the AMI
client's exceptions to the closed set of result codes (`results.py`).

It also carries out the model's `SetMemberPause` effects (wrap-up start and
end): the engine hands them over without waiting; each runs in a task of its
own, and a failure is logged (the model's state does not depend on it: the
wrap-up timer ends wrap-up anyway, and the QueueMemberPause events that do
arrive are followed).

After an unpause or an early end of wrap-up is accepted, `wrap_up_ended`
(wired to the engine) tells the model at once, rather than waiting for the
QueueMemberPause echo, so the timer cannot fire a second unpause.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Protocol

from cti.agentstate.commands import ME, AgentCommand, AgentUnpause, EndWrapUp
from cti.agentstate.results import AgentDone, AgentFailed, AgentRefusal, AgentResult
from cti.agentstate.rules import AgentNow, AgentTarget, authorize, plan
from cti.control.authorize import Actor
from cti.control.plan import AmiAction
from cti.control.service import ActionSender, SendFailure, send_planned
from cti.model.outputs import SetMemberPause
from cti.model.views import AgentView, QueueView

__all__ = ["AgentControl", "AgentLookup", "LiveAgents"]

log = logging.getLogger("cti.agentstate")

AgentLookup = Callable[[str], Awaitable[AgentTarget | None]]  # login -> account


class LiveAgents(Protocol):
    """What the service reads from the model (`cti.model.model.Model`)."""

    def agent(self, interface: str) -> AgentView | None: ...
    def queues(self) -> Sequence[QueueView]: ...


class AgentControl:
    """`await control.execute(actor, command)` -> AgentDone | AgentFailed."""

    def __init__(
        self,
        ami: ActionSender,
        live: LiveAgents,
        find_agent: AgentLookup,
        *,
        action_timeout: float,
        pause_reasons: Collection[str],
        wrap_up_ended: Callable[[str], Awaitable[None]] | None = None,
        team_logins: Callable[[Actor], Collection[str]] | None = None,
    ) -> None:
        self._ami = ami
        self._live = live
        self._find = find_agent
        self._timeout = action_timeout
        self.pause_reasons = tuple(pause_reasons)
        self._wrap_up_ended = wrap_up_ended
        self._teams = team_logins  # the teams hook (rules.py): None until teams exist
        self._effects: set[asyncio.Task[None]] = set()

    async def execute(self, actor: Actor, command: AgentCommand) -> AgentResult:
        name = command.command
        login = actor.login if command.agent == ME else command.agent
        target = await self._find(login)
        now = self._now(target)
        teams = self._teams(actor) if self._teams is not None else ()
        decided = authorize(actor, command, target, now, teams)
        if decided is not None:
            return _failed(name, decided)
        assert target is not None
        known = {q.queue for q in self._live.queues()}
        actions = plan(actor, command, target, now, known, self.pause_reasons)
        if isinstance(actions, AgentRefusal):
            return _failed(name, actions)
        if not self._ami.connected:
            return AgentFailed(name, "not_connected", "the CTI is not connected to Asterisk")
        sent, message = 0, ""
        for action in actions:
            failure = await self._send(name, action, sent)
            if isinstance(failure, AgentFailed):
                return failure
            sent, message = sent + 1, failure
        if isinstance(command, AgentUnpause | EndWrapUp) and self._wrap_up_ended is not None:
            assert target.interface is not None
            await self._wrap_up_ended(target.interface)
        log.info("%s ran %s on %s (%d action(s))", actor.login, name, target.login, sent)
        return AgentDone(name, target.login, sent, message)

    def _now(self, target: AgentTarget | None) -> AgentNow | None:
        if target is None or target.interface is None:
            return None
        view = self._live.agent(target.interface)
        if view is None:
            return None
        return AgentNow(view.state, frozenset(view.queues))

    async def _send(self, name: str, action: AmiAction, sent: int) -> str | AgentFailed:
        """Asterisk's Message, or the failure."""
        response = await send_planned(self._ami, action, self._timeout, log, "agent control")
        if isinstance(response, SendFailure):
            return AgentFailed(name, response.code, response.message, sent)
        return response.message

    # -- the model's effects ---------------------------------------------------

    def pause_effect(self, effect: SetMemberPause) -> None:
        """Carry out a wrap-up (un)pause in the background; never raises."""
        if not self._ami.connected:
            log.warning(
                "wrap-up %s of %s not sent: AMI not connected", _verb(effect), effect.interface
            )
            return
        task = asyncio.create_task(self._run_effect(effect), name="cti-wrapup-pause")
        self._effects.add(task)
        task.add_done_callback(self._effects.discard)

    async def _run_effect(self, effect: SetMemberPause) -> None:
        fields: list[tuple[str, str]] = [
            ("Interface", effect.interface),
            ("Paused", "true" if effect.paused else "false"),
        ]
        if effect.reason:
            fields.append(("Reason", effect.reason))
        outcome = await self._send("wrap_up", AmiAction("QueuePause", tuple(fields)), 0)
        if isinstance(outcome, AgentFailed):
            log.warning(
                "wrap-up %s of %s failed: %s", _verb(effect), effect.interface, outcome.message
            )

    async def drain(self) -> None:
        """Wait for the effects still running (tests, shutdown)."""
        await asyncio.gather(*self._effects, return_exceptions=True)


def _verb(effect: SetMemberPause) -> str:
    return "pause" if effect.paused else "unpause"


def _failed(name: str, refusal: AgentRefusal) -> AgentFailed:
    return AgentFailed(name, refusal.code, refusal.message, 0, refusal.fields)
