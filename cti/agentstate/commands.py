"""Agent work-state commands: the only shapes a user can ask for.

Strategy: as in cti.control.commands, each command is a frozen pydantic model
validated where it enters (REST body, WebSocket message), and every value a
user supplies has a whitelist pattern, so nothing header-like (CR, LF, ":")
can reach an AMI action. `agent` names the agent acted on by login; "me" (the
default) is the caller. Whether a pause reason is one of the configured ones
is checked by the service (the list is a setting), also as 422 / `invalid`.

WebSocket names: agent_pause, agent_unpause, agent_login, agent_logout,
end_wrap_up (`{"type": "command", "id": "c1", "command": "agent_pause",
"reason": "lunch"}`).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "AGENT_COMMAND_NAMES",
    "LOGIN_PATTERN",
    "ME",
    "AgentCommand",
    "AgentLogin",
    "AgentLogout",
    "AgentPause",
    "AgentUnpause",
    "EndWrapUp",
    "Login",
    "QueueNameText",
    "Reason",
    "parse_agent_command",
]

ME: Final = "me"
LOGIN_PATTERN: Final = r"^[A-Za-z0-9._@-]{1,64}$"
QUEUE_PATTERN: Final = r"^[A-Za-z0-9._-]{1,64}$"
REASON_PATTERN: Final = r"^[A-Za-z0-9 _.-]{1,32}$"

Login = Annotated[
    str, Field(pattern=LOGIN_PATTERN, description='the agent\'s login, or "me" for yourself')
]
QueueNameText = Annotated[str, Field(pattern=QUEUE_PATTERN, description="a queue name")]
Reason = Annotated[
    str, Field(pattern=REASON_PATTERN, description="one of the configured pause reasons")
]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: Login = ME


class AgentPause(_Command):
    """Pause the agent in all their queues, with a reason."""

    command: Literal["agent_pause"] = "agent_pause"
    reason: Reason


class AgentUnpause(_Command):
    """Unpause the agent in all their queues (also ends a wrap-up)."""

    command: Literal["agent_unpause"] = "agent_unpause"


class AgentLogin(_Command):
    """Log the agent in to queues (AMI QueueAdd, one per queue)."""

    command: Literal["agent_login"] = "agent_login"
    queues: list[QueueNameText] = Field(min_length=1, max_length=32)


class AgentLogout(_Command):
    """Log the agent out of `queues`, or of every queue you may (AMI QueueRemove)."""

    command: Literal["agent_logout"] = "agent_logout"
    queues: list[QueueNameText] | None = Field(default=None, max_length=32)


class EndWrapUp(_Command):
    """End the agent's wrap-up now instead of when its timer runs out."""

    command: Literal["end_wrap_up"] = "end_wrap_up"


AgentCommand = AgentPause | AgentUnpause | AgentLogin | AgentLogout | EndWrapUp
AGENT_COMMAND_NAMES: tuple[str, ...] = (
    "agent_pause",
    "agent_unpause",
    "agent_login",
    "agent_logout",
    "end_wrap_up",
)

_ADAPTER: TypeAdapter[AgentCommand] = TypeAdapter(
    Annotated[AgentCommand, Field(discriminator="command")]
)


def parse_agent_command(data: object) -> AgentCommand:
    """A command from decoded JSON; raises pydantic.ValidationError naming the field."""
    return _ADAPTER.validate_python(data)
