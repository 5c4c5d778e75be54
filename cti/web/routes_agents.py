"""Agent work states at the web edge: queue log-in/out, pause, wrap-up, over REST.

Strategy: one `APIRouter` over an `AgentControlPort` (cti.agentstate behind
it, via `AgentControlAdapter`), with the command models of
`cti.agentstate.commands` and the result shapes of call control
(`CommandError`), so a client handles both families alike. The same commands
arrive over the WebSocket as `command` messages (cti.web.control dispatches
the `agent_*` / `end_wrap_up` names here through `run_agent_command`).

REST (bearer token; `{login}` is an agent's login, or `me`):

    GET  /api/agents/pause-reasons                  the reasons and wrap-up times
    POST /api/agents/{login}/pause                  {"reason": "lunch"}
    POST /api/agents/{login}/unpause
    POST /api/agents/{login}/login                  {"queues": ["support"]}
    POST /api/agents/{login}/logout                 {"queues": ["support"]} or {}
    POST /api/agents/{login}/wrap-up/end

Who may: everyone on themselves; supervisors on agents of their queues (and
log them in/out of those queues only); admins on anyone (cti.agentstate.rules).
"""

# No `from __future__ import annotations`: FastAPI evaluates the route annotations.
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cti.agentstate import (
    AGENT_HTTP_STATUS,
    AgentCommand,
    AgentControl,
    AgentDone,
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentResult,
    AgentUnpause,
    EndWrapUp,
)
from cti.agentstate.commands import LOGIN_PATTERN, QueueNameText, Reason
from cti.web.adapters import actor_of
from cti.web.ports import User
from cti.web.schemas import CommandError, CommandErrorDetail, CommandResultEvent

__all__ = [
    "AGENT_ROUTES",
    "AgentCommandOk",
    "AgentControlAdapter",
    "AgentControlPort",
    "PauseReasons",
    "agent_router",
    "run_agent_command",
]

_Endpoint = Callable[..., Awaitable[Response]]
_PREFIX = "/api/agents"
_TAGS: list[str | Enum] = ["agent states"]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": CommandError, "description": name} for name, code in AGENT_HTTP_STATUS.items()
}
_ERRORS[401] = {"description": "missing, invalid or expired token"}

LoginPath = Annotated[
    str, Path(pattern=LOGIN_PATTERN, description='the agent\'s login, or "me" for yourself')
]

# command name -> (REST path, its body fields): what docs/events.md lists.
AGENT_ROUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "agent_pause": (f"{_PREFIX}/{{login}}/pause", ("reason",)),
    "agent_unpause": (f"{_PREFIX}/{{login}}/unpause", ()),
    "agent_login": (f"{_PREFIX}/{{login}}/login", ("queues",)),
    "agent_logout": (f"{_PREFIX}/{{login}}/logout", ("queues",)),
    "end_wrap_up": (f"{_PREFIX}/{{login}}/wrap-up/end", ()),
}


class AgentControlPort(Protocol):
    @property
    def pause_reasons(self) -> tuple[str, ...]: ...

    @property
    def wrap_up_seconds(self) -> Mapping[str, float]: ...

    async def execute(self, user: User, command: AgentCommand) -> AgentResult:
        """Carry out `command` for `user`; never raises for a refused or failed command."""
        ...


class AgentControlAdapter:
    """The port over `cti.agentstate.AgentControl`."""

    def __init__(self, control: AgentControl, wrap_up_seconds: Mapping[str, float]) -> None:
        self._control = control
        self._wrapup = dict(wrap_up_seconds)

    @property
    def pause_reasons(self) -> tuple[str, ...]:
        return self._control.pause_reasons

    @property
    def wrap_up_seconds(self) -> Mapping[str, float]:
        return self._wrapup

    async def execute(self, user: User, command: AgentCommand) -> AgentResult:
        return await self._control.execute(actor_of(user), command)


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PauseBody(_Body):
    reason: Reason


class LoginBody(_Body):
    queues: list[QueueNameText] = Field(min_length=1, max_length=32)


class LogoutBody(_Body):
    queues: list[QueueNameText] | None = Field(
        default=None, max_length=32, description="omit to leave every queue you may"
    )


class AgentCommandOk(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: Literal[True] = True
    command: str = Field(description="the command that ran, e.g. agent_pause")
    agent: str = Field(description="the login of the agent acted on")
    sent: int = Field(description="AMI actions Asterisk accepted")
    message: str = Field(description="Asterisk's Message in its last response")


class PauseReasons(BaseModel):
    model_config = ConfigDict(frozen=True)

    reasons: list[str] = Field(description="the pause reasons agents may choose")
    wrap_up_seconds: dict[str, float] = Field(
        description="after-call work per queue, seconds (queues not listed have none)"
    )


def _error(result: AgentResult) -> CommandError:
    assert not isinstance(result, AgentDone)
    detail = CommandErrorDetail(
        code=result.code, message=result.message, fields=list(result.fields)
    )
    return CommandError(command=result.command, error=detail, sent=result.sent)


def _unavailable(command: str) -> CommandError:
    detail = CommandErrorDetail(code="not_connected", message="agent control is not available")
    return CommandError(command=command, error=detail)


async def run_agent_command(
    control: AgentControlPort | None, user: User, command: AgentCommand, ref: str | None
) -> CommandResultEvent:
    """A WebSocket `command_result` for one agent command."""
    if control is None:
        failure = _unavailable(command.command)
        return CommandResultEvent(id=ref, ok=False, command=command.command, error=failure.error)
    result = await control.execute(user, command)
    if isinstance(result, AgentDone):
        return CommandResultEvent(
            id=ref,
            ok=True,
            command=result.command,
            agent=result.agent,
            sent=result.sent,
            message=result.message,
        )
    failure = _error(result)
    return CommandResultEvent(
        id=ref, ok=False, command=failure.command, sent=failure.sent, error=failure.error
    )


def agent_router(current_user: Any, control: AgentControlPort | None) -> APIRouter:
    """The agent-state routes; without `control` the commands answer 503."""
    router = APIRouter(prefix=_PREFIX, tags=_TAGS)
    Me = Annotated[User, current_user]  # noqa: N806 (a type alias)

    async def run(user: User, command: AgentCommand) -> Response:
        if control is None:
            body = _unavailable(command.command)
            return JSONResponse(body.model_dump(), status_code=AGENT_HTTP_STATUS["not_connected"])
        result = await control.execute(user, command)
        if isinstance(result, AgentDone):
            ok = AgentCommandOk(
                command=result.command, agent=result.agent, sent=result.sent, message=result.message
            )
            return JSONResponse(ok.model_dump(), status_code=status.HTTP_200_OK)
        return JSONResponse(_error(result).model_dump(), status_code=result.http_status)

    def post(suffix: str, name: str) -> Callable[[_Endpoint], _Endpoint]:
        return router.post(
            f"/{{login}}/{suffix}", name=name, response_model=AgentCommandOk, responses=_ERRORS
        )

    @router.get("/pause-reasons", name="pause_reasons")
    async def pause_reasons(user: Me) -> PauseReasons:
        """The pause reasons agents may choose, and the wrap-up time per queue."""
        if control is None:
            return PauseReasons(reasons=[], wrap_up_seconds={})
        return PauseReasons(
            reasons=list(control.pause_reasons), wrap_up_seconds=dict(control.wrap_up_seconds)
        )

    @post("pause", "agent_pause")
    async def pause(login: LoginPath, body: PauseBody, user: Me) -> Response:
        """Pause the agent in all their queues, with a configured reason."""
        return await run(user, AgentPause(agent=login, reason=body.reason))

    @post("unpause", "agent_unpause")
    async def unpause(login: LoginPath, user: Me) -> Response:
        """Unpause the agent in all their queues (this also ends a wrap-up)."""
        return await run(user, AgentUnpause(agent=login))

    @post("login", "agent_login")
    async def queue_login(login: LoginPath, body: LoginBody, user: Me) -> Response:
        """Log the agent in to queues (QueueAdd with member name and state interface)."""
        return await run(user, AgentLogin(agent=login, queues=body.queues))

    @post("logout", "agent_logout")
    async def queue_logout(login: LoginPath, user: Me, body: LogoutBody | None = None) -> Response:
        """Log the agent out of queues (QueueRemove); no body: every queue you may."""
        queues = body.queues if body is not None else None
        return await run(user, AgentLogout(agent=login, queues=queues))

    @post("wrap-up/end", "end_wrap_up")
    async def end_wrap_up(login: LoginPath, user: Me) -> Response:
        """End the agent's wrap-up (after-call work) now."""
        return await run(user, EndWrapUp(agent=login))

    return router
