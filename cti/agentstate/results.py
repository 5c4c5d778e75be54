"""What an agent command comes back with: done, or one of six reasons why not.

    code              HTTP  meaning
    invalid           422   a field failed validation (a pause reason not in
                            the configured list, ...), or the agent is in no
                            state for it (not in wrap-up, no queue, no phone)
    not_allowed       403   the user may not act on this agent
    not_found         404   no such agent or queue
    asterisk_refused  502   Asterisk answered "Response: Error"; `message` is its Message
    not_connected     503   the CTI has no AMI connection right now
    timeout           504   Asterisk did not answer within `action_timeout`

As with call controls, the first three guarantee nothing reached Asterisk;
`sent` says how many actions Asterisk accepted before a later failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "AGENT_HTTP_STATUS",
    "AgentDone",
    "AgentErrorCode",
    "AgentFailed",
    "AgentRefusal",
    "AgentResult",
]

AgentErrorCode = Literal[
    "invalid", "not_allowed", "not_found", "asterisk_refused", "not_connected", "timeout"
]

AGENT_HTTP_STATUS: Final[dict[str, int]] = {
    "invalid": 422,
    "not_allowed": 403,
    "not_found": 404,
    "asterisk_refused": 502,
    "not_connected": 503,
    "timeout": 504,
}


@dataclass(frozen=True, slots=True)
class AgentRefusal:
    """Why the core will not send anything."""

    code: AgentErrorCode
    message: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentDone:
    command: str
    agent: str  # the login acted on
    sent: int
    message: str

    ok: Literal[True] = True


@dataclass(frozen=True, slots=True)
class AgentFailed:
    command: str
    code: AgentErrorCode
    message: str
    sent: int = 0
    fields: tuple[str, ...] = ()

    ok: Literal[False] = False

    @property
    def http_status(self) -> int:
        return AGENT_HTTP_STATUS[self.code]


AgentResult = AgentDone | AgentFailed
