"""The call-control shell: resolve, authorize, plan, send, report.

Strategy: everything that decides is pure (`authorize.py`, `plan.py`); this
class only reads the live call (a synchronous look-up on the model, which
lives on the same event loop, so the view cannot change under us), sends the
planned actions one after the other through `AmiClient.send_action` with
`settings.action_timeout`, and translates the AMI client's exception tree into
the closed set of result codes (`results.py`). Nothing is sent when the
client is not connected, and nothing after the first action that fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from cti.ami.errors import AmiActionError, AmiError, AmiTimeout
from cti.ami.protocol import LocalProtocolError, Response
from cti.control.authorize import Actor, authorize
from cti.control.commands import CallCommand, Dial
from cti.control.plan import AmiAction, plan
from cti.control.results import CommandDone, CommandFailed, CommandResult, Refusal
from cti.ids import CallId
from cti.model.views import CallView

__all__ = ["ActionSender", "CallControl", "SendFailure", "calls_by_id", "send_planned"]

log = logging.getLogger("cti.control")


class ActionSender(Protocol):
    """What the service needs of `cti.ami.client.AmiClient`."""

    @property
    def connected(self) -> bool: ...

    async def send_action(
        self,
        action: str,
        fields: Iterable[tuple[str, str]] = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (the client's API)
    ) -> Response: ...


@dataclass(frozen=True, slots=True)
class SendFailure:
    """Why one planned action was not carried out, as a result code both
    call control and agent state have."""

    code: Literal["asterisk_refused", "timeout", "not_connected", "invalid"]
    message: str


async def send_planned(
    ami: ActionSender, action: AmiAction, action_timeout: float, logger: logging.Logger, who: str
) -> Response | SendFailure:
    """Send one planned action: Asterisk's response, or the AMI client's
    exception tree translated to a result code (one place for every shell
    that sends planned actions; `who` names it in the log)."""
    try:
        return await ami.send_action(action.name, action.fields, timeout=action_timeout)
    except AmiActionError as exc:
        text = exc.response.message or "Asterisk refused the action"
        return SendFailure("asterisk_refused", f"{action.name}: {text}")
    except AmiTimeout:
        text = f"{action.name}: no answer from Asterisk within {action_timeout:g}s"
        return SendFailure("timeout", text)
    except AmiError as exc:  # disconnected, or the link is otherwise unusable
        return SendFailure("not_connected", f"{action.name}: {exc}")
    except LocalProtocolError as exc:
        # commands.py whitelists every value, so this is a bug of ours:
        # say so loudly, and still tell the user nothing was done.
        logger.error("%s built an unsendable %s: %s", who, action.name, exc)
        return SendFailure("invalid", f"{action.name}: {exc}")


CallLookup = Callable[[CallId], CallView | None]


def calls_by_id(calls: Callable[[], Iterable[CallView]]) -> CallLookup:
    """A `CallLookup` over something listing every live call (`Model.calls`)."""

    def lookup(call_id: CallId) -> CallView | None:
        for view in calls():
            if view.call_id == call_id:
                return view
        return None

    return lookup


class CallControl:
    """`await control.execute(actor, command)` -> CommandDone | CommandFailed."""

    def __init__(self, ami: ActionSender, call: CallLookup, *, action_timeout: float) -> None:
        self._ami = ami
        self._call = call
        self._timeout = action_timeout

    async def execute(self, actor: Actor, command: Dial | CallCommand) -> CommandResult:
        name = command.command
        view = None if isinstance(command, Dial) else self._call(CallId(command.call_id))
        decided = authorize(actor, command, view)
        actions = decided if decided is not None else plan(actor, command, view)
        if isinstance(actions, Refusal):
            return CommandFailed(name, actions.code, actions.message)
        if not self._ami.connected:
            return CommandFailed(name, "not_connected", "the CTI is not connected to Asterisk")
        sent, message = 0, ""
        for action in actions:
            response = await send_planned(self._ami, action, self._timeout, log, "call control")
            if isinstance(response, SendFailure):
                return CommandFailed(name, response.code, response.message, sent)
            sent += 1
            message = response.message
        call_id = None if isinstance(command, Dial) else command.call_id
        log.info("%s ran %s on %s (%d action(s))", actor.login, name, call_id or "-", sent)
        return CommandDone(name, call_id, sent, message)
