"""Call controls at the web edge: REST routes and WebSocket `command` messages.

Strategy: both doors lead to the same `CallControl` port with the same
validated command models (`cti.control.commands`), and both answer with the
same result shapes (`CommandOk` / `CommandError`, `command_result` on the
socket). Validation happens here, before anything is asked of the port, so a
value with CR, LF or a stray ":" is answered 422 / `invalid` and no AMI
action exists for it. HTTP statuses come from `cti.control.results.HTTP_STATUS`.

REST (bearer token):

    POST /api/calls/dial                                {"number": "5551234"}
    POST /api/calls/{call_id}/hangup | hold | unhold | listen | whisper | barge
    POST /api/calls/{call_id}/transfer                  {"target": "1002"}
    POST /api/calls/{call_id}/attended-transfer         {"target": "1002"}
    POST /api/calls/{call_id}/attended-transfer/complete | attended-transfer/cancel
    POST /api/calls/{call_id}/dtmf                      {"digits": "123#"}

WebSocket: `{"type": "command", "id": "c1", "command": "hangup", "call_id": "..."}`
(the other fields as in the REST bodies) is answered on the same socket by
`{"type": "command_result", "id": "c1", "ok": true, ...}` or `ok: false` with
`error: {code, message, fields}`. Results are not numbered events (see
`CommandResultEvent`). Each command runs in its own task, so a slow Asterisk
never stops the socket from reading; at most `MAX_IN_FLIGHT` per socket.
"""

# No `from __future__ import annotations`: FastAPI evaluates the route annotations.
import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from enum import Enum
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from cti.agentstate.commands import AGENT_COMMAND_NAMES, AgentCommand, parse_agent_command
from cti.control.commands import (
    CALL_ID_PATTERN,
    COMMAND_NAMES,
    AttendedTransfer,
    AttendedTransferCancel,
    AttendedTransferComplete,
    Barge,
    CallCommand,
    Dial,
    Hangup,
    Hold,
    Listen,
    SendDtmf,
    Transfer,
    Unhold,
    Whisper,
    parse_command,
)
from cti.control.results import HTTP_STATUS, CommandDone, CommandResult
from cti.history import HistoryService
from cti.web.ports import CallControl, User
from cti.web.routes_agents import AgentControlPort, run_agent_command
from cti.web.routes_history import SET_DISPOSITION, run_disposition_command
from cti.web.schemas import (
    COMMAND_ID_PATTERN,
    CommandError,
    CommandErrorDetail,
    CommandOk,
    CommandResultEvent,
    DialBody,
    DtmfBody,
    TransferBody,
)

__all__ = [
    "COMMAND_ROUTES",
    "MAX_COMMAND_BYTES",
    "MAX_IN_FLIGHT",
    "CommandSocket",
    "add_control_routes",
]

log = logging.getLogger("cti.web.control")

MAX_IN_FLIGHT = 8  # commands one socket may have running at once
MAX_COMMAND_BYTES = 4096
_PREFIX = "/api/calls"
_TAGS: list[str | Enum] = ["call control"]
_COMMAND_TAGS = frozenset(COMMAND_NAMES)
_AGENT_TAGS = frozenset(AGENT_COMMAND_NAMES)  # agent states: cti.web.routes_agents
_ID = re.compile(COMMAND_ID_PATTERN)
_ERRORS: dict[int | str, dict[str, Any]] = {
    HTTP_STATUS[code]: {"model": CommandError, "description": code}
    for code in HTTP_STATUS
    if code != "invalid"
}
_ERRORS[422] = {"model": CommandError, "description": "invalid: a field, or the call's state"}
_ERRORS[401] = {"description": "missing, invalid or expired token"}

CallIdPath = Annotated[str, Path(pattern=CALL_ID_PATTERN, description="the call (Linkedid)")]
_CallCommandClass = (
    type[Hangup]
    | type[Hold]
    | type[Unhold]
    | type[AttendedTransferComplete]
    | type[AttendedTransferCancel]
    | type[Listen]
    | type[Whisper]
    | type[Barge]
)

# Commands without a body: path suffix -> (command class, summary).
_BODYLESS: tuple[tuple[str, _CallCommandClass, str], ...] = (
    ("hangup", Hangup, "Hang up your side of the call"),
    ("hold", Hold, "Put the other party on hold (music); your phone waits"),
    ("unhold", Unhold, "Take the other party off hold"),
    (
        "attended-transfer/complete",
        AttendedTransferComplete,
        "Complete the attended transfer: the caller is connected to the target",
    ),
    (
        "attended-transfer/cancel",
        AttendedTransferCancel,
        "Cancel the attended transfer: drop the consultation, back to the caller",
    ),
    ("listen", Listen, "Supervisor: listen to the agent's call (your phone rings)"),
    ("whisper", Whisper, "Supervisor: talk to the agent only"),
    ("barge", Barge, "Supervisor: join the call"),
)


# command name -> (REST path, its body fields): what docs/events.md lists.
COMMAND_ROUTES: dict[str, tuple[str, tuple[str, ...]]] = {
    "dial": (f"{_PREFIX}/dial", ("number",)),
    "transfer": (f"{_PREFIX}/{{call_id}}/transfer", ("target",)),
    "attended_transfer": (f"{_PREFIX}/{{call_id}}/attended-transfer", ("target",)),
    "dtmf": (f"{_PREFIX}/{{call_id}}/dtmf", ("digits",)),
    **{
        cls.model_fields["command"].default: (f"{_PREFIX}/{{call_id}}/{suffix}", ())
        for suffix, cls, _ in _BODYLESS
    },
}


def _fields(errors: Sequence[Any]) -> list[str]:
    names: list[str] = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "path", "query")]
        # a tagged union puts the tag first: ("hangup", "call_id") -> "call_id"
        if len(loc) > 1 and (loc[0] in _COMMAND_TAGS or loc[0] in _AGENT_TAGS):
            loc = loc[1:]
        name = ".".join(loc) or "body"
        if name not in names:
            names.append(name)
    return names


def _invalid(command: str | None, errors: Sequence[Any]) -> CommandError:
    fields = _fields(errors)
    # pydantic's messages never quote the input: nothing the client sent is echoed.
    text = "; ".join(
        f"{name}: {error.get('msg', 'invalid')}"
        for name, error in zip(fields, errors, strict=False)
    )
    return CommandError(
        command=command,
        error=CommandErrorDetail(code="invalid", message=text or "invalid", fields=fields),
    )


def _failure_body(result: CommandResult) -> CommandError:
    assert not isinstance(result, CommandDone)
    return CommandError(
        command=result.command,
        error=CommandErrorDetail(code=result.code, message=result.message),
        sent=result.sent,
    )


def _response(result: CommandResult) -> Response:
    if isinstance(result, CommandDone):
        ok = CommandOk(
            command=result.command, call_id=result.call_id, sent=result.sent, message=result.message
        )
        return JSONResponse(ok.model_dump(), status_code=status.HTTP_200_OK)
    body = _failure_body(result)
    return JSONResponse(body.model_dump(), status_code=result.http_status)


def add_control_routes(app: FastAPI, current_user: Any, control: CallControl | None) -> None:
    """Mount the call-control routes; without `control` they answer 503."""

    async def run(user: User, command: Dial | CallCommand) -> Response:
        if control is None:
            body = CommandError(
                command=command.command,
                error=CommandErrorDetail(
                    code="not_connected", message="call control is not available"
                ),
            )
            return JSONResponse(body.model_dump(), status_code=HTTP_STATUS["not_connected"])
        return _response(await control.execute(user, command))

    async def validation_failed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        route = request.scope.get("route")
        name = getattr(route, "name", "")
        calls = request.url.path.startswith(_PREFIX + "/") and name in _COMMAND_TAGS
        if calls or (request.url.path.startswith("/api/agents/") and name in _AGENT_TAGS):
            body = _invalid(name, exc.errors())
            return JSONResponse(jsonable_encoder(body.model_dump()), status_code=422)
        return await request_validation_exception_handler(request, exc)

    app.add_exception_handler(RequestValidationError, validation_failed)
    Me = Annotated[User, current_user]  # noqa: N806 (a type alias)

    @app.post(
        f"{_PREFIX}/dial", name="dial", tags=_TAGS, response_model=CommandOk, responses=_ERRORS
    )
    async def dial(body: DialBody, user: Me) -> Response:
        """Click-to-dial: your phone rings; when you answer, `number` is called."""
        return await run(user, Dial(number=body.number))

    @app.post(
        f"{_PREFIX}/{{call_id}}/transfer",
        name="transfer",
        tags=_TAGS,
        response_model=CommandOk,
        responses=_ERRORS,
    )
    async def transfer(call_id: CallIdPath, body: TransferBody, user: Me) -> Response:
        """Blind transfer: the other party is sent to `target`; you leave the call."""
        return await run(user, Transfer(call_id=call_id, target=body.target))

    @app.post(
        f"{_PREFIX}/{{call_id}}/attended-transfer",
        name="attended_transfer",
        tags=_TAGS,
        response_model=CommandOk,
        responses=_ERRORS,
    )
    async def attended_transfer(call_id: CallIdPath, body: TransferBody, user: Me) -> Response:
        """Start an attended transfer: you consult `target` while the caller holds."""
        return await run(user, AttendedTransfer(call_id=call_id, target=body.target))

    @app.post(
        f"{_PREFIX}/{{call_id}}/dtmf",
        name="dtmf",
        tags=_TAGS,
        response_model=CommandOk,
        responses=_ERRORS,
    )
    async def dtmf(call_id: CallIdPath, body: DtmfBody, user: Me) -> Response:
        """Send DTMF digits to the other party."""
        return await run(user, SendDtmf(call_id=call_id, digits=body.digits))

    for suffix, cls, summary in _BODYLESS:
        _add_bodyless(app, run, current_user, suffix, cls, summary)


def _add_bodyless(
    app: FastAPI,
    run: Callable[[User, Dial | CallCommand], Awaitable[Response]],
    current_user: Any,
    suffix: str,
    cls: _CallCommandClass,
    summary: str,
) -> None:
    name = cls.model_fields["command"].default

    async def endpoint(call_id: CallIdPath, user: Annotated[User, current_user]) -> Response:
        return await run(user, cls(call_id=call_id))

    endpoint.__name__ = name
    app.post(
        f"{_PREFIX}/{{call_id}}/{suffix}",
        name=name,
        tags=_TAGS,
        summary=summary,
        response_model=CommandOk,
        responses=_ERRORS,
    )(endpoint)


# -- WebSocket ------------------------------------------------------------------


class CommandSocket:
    """The `command` messages of one WebSocket: parse, run, answer via `send`.

    `send` queues a text frame on the socket (the hub connection's queue, so
    results and events never interleave mid-frame); it returns False when the
    queue is full. `resolve_user` re-reads the user for each command, so a
    changed role or an expired token takes effect at once, as on REST.
    Agent-state commands (`agent_*`, `end_wrap_up`) go to `agents`,
    `set_disposition` to `history` (cti.web.routes_history).
    """

    def __init__(
        self,
        control: CallControl | None,
        resolve_user: Callable[[], Awaitable[User]],
        send: Callable[[str], bool],
        agents: AgentControlPort | None = None,
        history: HistoryService | None = None,
    ) -> None:
        self._control = control
        self._agents = agents
        self._history = history
        self._resolve_user = resolve_user
        self._send = send
        self._tasks: set[asyncio.Task[None]] = set()

    def feed(self, text: str) -> None:
        """Handle one client text frame (non-command messages are ignored)."""
        if len(text) > MAX_COMMAND_BYTES:
            self._answer(None, _invalid(None, [{"loc": ("body",), "msg": "message too large"}]))
            return
        try:
            data = json.loads(text)
        except ValueError:
            return  # not JSON: not a command either
        if not isinstance(data, dict) or data.get("type") != "command":
            return
        ref = data.get("id")
        if not (isinstance(ref, str) and _ID.fullmatch(ref)):
            msg = "id is required: 1-64 letters, digits, _ . : -"
            self._answer(None, _invalid(None, [{"loc": ("id",), "msg": msg}]))
            return
        if len(self._tasks) >= MAX_IN_FLIGHT:
            detail = [{"loc": ("id",), "msg": f"more than {MAX_IN_FLIGHT} commands in flight"}]
            self._answer(ref, _invalid(None, detail))
            return
        fields = {k: v for k, v in data.items() if k not in ("type", "id")}
        name = fields.get("command") if isinstance(fields.get("command"), str) else None
        if name == SET_DISPOSITION:
            self._start(ref, self._run_disposition(ref, fields))
            return
        if name in _AGENT_TAGS:
            try:
                agent_command = parse_agent_command(fields)
            except ValidationError as exc:
                self._answer(ref, _invalid(name, exc.errors()))
                return
            self._start(ref, self._run_agent(ref, agent_command))
            return
        try:
            command = parse_command(fields)
        except ValidationError as exc:
            self._answer(ref, _invalid(name if name in _COMMAND_TAGS else None, exc.errors()))
            return
        self._start(ref, self._run(ref, command))

    def _start(self, ref: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=f"ws-command-{ref}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_agent(self, ref: str, command: AgentCommand) -> None:
        try:
            user = await self._resolve_user()
        except Exception as exc:  # AuthError and friends: the socket closes anyway
            detail = CommandErrorDetail(code="not_allowed", message=str(exc) or "not allowed")
            self._answer(ref, CommandError(command=command.command, error=detail))
            return
        self._send_event(await run_agent_command(self._agents, user, command, ref))

    async def _run_disposition(self, ref: str, fields: dict[str, Any]) -> None:
        try:
            user = await self._resolve_user()
        except Exception as exc:  # AuthError and friends: the socket closes anyway
            detail = CommandErrorDetail(code="not_allowed", message=str(exc) or "not allowed")
            self._answer(ref, CommandError(command=SET_DISPOSITION, error=detail))
            return
        self._send_event(await run_disposition_command(self._history, user, fields, ref))

    async def _run(self, ref: str, command: Dial | CallCommand) -> None:
        try:
            user = await self._resolve_user()
        except Exception as exc:  # AuthError and friends: the socket closes anyway
            detail = CommandErrorDetail(code="not_your_call", message=str(exc) or "not allowed")
            self._answer(ref, CommandError(command=command.command, error=detail))
            return
        if self._control is None:
            detail = CommandErrorDetail(
                code="not_connected", message="call control is not available"
            )
            self._answer(ref, CommandError(command=command.command, error=detail))
            return
        result = await self._control.execute(user, command)
        if isinstance(result, CommandDone):
            event = CommandResultEvent(
                id=ref,
                ok=True,
                command=result.command,
                call_id=result.call_id,
                sent=result.sent,
                message=result.message,
            )
            self._send_event(event)
        else:
            self._answer(ref, _failure_body(result))

    def _answer(self, ref: str | None, failure: CommandError) -> None:
        self._send_event(
            CommandResultEvent(
                id=ref, ok=False, command=failure.command, sent=failure.sent, error=failure.error
            )
        )

    def _send_event(self, event: CommandResultEvent) -> None:
        if not self._send(event.model_dump_json()):
            log.warning("command result %s dropped: the socket's queue is full", event.id)

    async def aclose(self) -> None:
        """Cancel the commands still running (the socket is gone)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
