"""What a command comes back with: done, or one of six reasons why not.

Strategy: one closed set of error codes, each with its HTTP status, so the
REST routes, the WebSocket `command_result` and the docs say the same thing:

    code              HTTP  meaning
    invalid           422   a field failed validation, or the call is in no
                            state for this command (nothing to unhold, ...)
    not_your_call     403   the user may not act on this call
    call_gone         404   no such call (ended, or never existed)
    asterisk_refused  502   Asterisk answered "Response: Error"; `message` is its Message
    not_connected     503   the CTI has no AMI connection right now
    timeout           504   Asterisk did not answer within `action_timeout`

A refusal decided before any action is sent (`invalid`, `not_your_call`,
`call_gone`) guarantees nothing reached Asterisk. The later codes may follow
actions that did: a DTMF string stops at the first digit Asterisk refuses, and
`sent` says how many actions were accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "HTTP_STATUS",
    "CommandDone",
    "CommandFailed",
    "CommandResult",
    "ErrorCode",
    "Refusal",
]

ErrorCode = Literal[
    "invalid", "not_your_call", "call_gone", "asterisk_refused", "not_connected", "timeout"
]

HTTP_STATUS: Final[dict[str, int]] = {
    "invalid": 422,
    "not_your_call": 403,
    "call_gone": 404,
    "asterisk_refused": 502,
    "not_connected": 503,
    "timeout": 504,
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the core will not send anything (authorize.py, plan.py)."""

    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class CommandDone:
    """Asterisk accepted every action of the command."""

    command: str
    call_id: str | None  # None for click-to-dial: the call does not exist yet
    sent: int  # AMI actions sent and accepted
    message: str  # Asterisk's Message of the last response

    ok: Literal[True] = True


@dataclass(frozen=True, slots=True)
class CommandFailed:
    command: str
    code: ErrorCode
    message: str
    sent: int = 0  # actions Asterisk had accepted before the failure

    ok: Literal[False] = False

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]


CommandResult = CommandDone | CommandFailed
