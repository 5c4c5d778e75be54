"""Agent work-state commands: queue log-in/out, pause/unpause, end wrap-up.

Layout (the same split as cti.control):

    commands.py   the command models; every user value whitelisted (422 otherwise)
    results.py    AgentDone / AgentFailed and their six error codes
    rules.py      pure: who may act on which agent, and command -> AMI actions
    service.py    async shell: resolve, authorize, plan, send through AmiClient,
                  and the wrap-up pause effects the model asks for
"""

from cti.agentstate.commands import (
    AGENT_COMMAND_NAMES,
    AgentCommand,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentUnpause,
    EndWrapUp,
    parse_agent_command,
)
from cti.agentstate.results import AGENT_HTTP_STATUS, AgentDone, AgentFailed, AgentResult
from cti.agentstate.rules import AgentTarget
from cti.agentstate.service import AgentControl

__all__ = [
    "AGENT_COMMAND_NAMES",
    "AGENT_HTTP_STATUS",
    "AgentCommand",
    "AgentControl",
    "AgentDone",
    "AgentFailed",
    "AgentLogin",
    "AgentLogout",
    "AgentPause",
    "AgentResult",
    "AgentTarget",
    "AgentUnpause",
    "EndWrapUp",
    "parse_agent_command",
]
