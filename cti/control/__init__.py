"""Agent and supervisor call controls: click-to-dial, hangup, hold, transfers, DTMF, spy.

Layout (functional core, thin shell):

    commands.py   the command models; every user value whitelisted (422 otherwise)
    results.py    CommandDone / CommandFailed and the six error codes
    authorize.py  pure: who may act on which call
    plan.py       pure: command + call view -> AMI actions, or a refusal
    service.py    async shell: look up, authorize, plan, send through AmiClient
"""

from cti.control.authorize import Actor, authorize
from cti.control.commands import Command, CommandName, parse_command
from cti.control.plan import AmiAction, plan
from cti.control.results import HTTP_STATUS, CommandDone, CommandFailed, CommandResult, ErrorCode
from cti.control.service import CallControl, calls_by_id

__all__ = [
    "HTTP_STATUS",
    "Actor",
    "AmiAction",
    "CallControl",
    "Command",
    "CommandDone",
    "CommandFailed",
    "CommandName",
    "CommandResult",
    "ErrorCode",
    "authorize",
    "calls_by_id",
    "parse_command",
    "plan",
]
