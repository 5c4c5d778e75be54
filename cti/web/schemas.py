"""Pydantic models at the HTTP/WebSocket edge: what REST returns and accepts.

Strategy: these are the only shapes the API exposes, so FastAPI derives the
OpenAPI document (/docs) from them and `cti.web.catalogue` derives the
WebSocket catalogue from them and from `cti.model.outputs`. Timestamps are
seconds since the Unix epoch, like the model's outputs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cti.agentstate.results import AgentErrorCode
from cti.control.commands import Digits, Number
from cti.control.results import ErrorCode

__all__ = [
    "COMMAND_ID_PATTERN",
    "AgentSchema",
    "CallSchema",
    "CommandError",
    "CommandErrorDetail",
    "CommandOk",
    "CommandResultEvent",
    "DialBody",
    "DtmfBody",
    "HealthResponse",
    "HelloEvent",
    "IvrStepSchema",
    "LoginRequest",
    "LoginResponse",
    "MeResponse",
    "QueueSchema",
    "ResyncEvent",
    "StreamPosition",
    "TransferBody",
    "UserSchema",
]

# The id a WebSocket client gives a command, echoed in its result.
COMMAND_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class IvrStepSchema(_Frozen):
    step: str = Field(description="IVR step name, from UserEvent IVRStep")
    values: dict[str, str] = Field(default_factory=dict, description="values collected")
    at: float = Field(default=0.0, description="when the step was reached (epoch seconds)")


class CallSchema(_Frozen):
    call_id: str = Field(description="Asterisk Linkedid, shared by every channel of the call")
    caller_number: str
    caller_name: str
    dialed_number: str
    queue: str | None = None
    state: str = Field(description="e.g. ivr, queued, ringing, talking")
    agent: str | None = Field(
        default=None, description="interface ringing or talking, e.g. PJSIP/1001"
    )
    parties: list[str] = Field(default_factory=list, description="device interfaces on the call")
    started_at: float
    answered_at: float | None = None
    ivr_path: list[IvrStepSchema] = Field(default_factory=list)
    variables: dict[str, str] = Field(default_factory=dict, description="CTI_* variables")
    account: str | None = Field(default=None, description="account number entered in the IVR")


class QueueSchema(_Frozen):
    name: str
    waiting: int = Field(description="callers waiting now")
    longest_wait_seconds: float | None = Field(
        default=None, description="wait of the oldest caller"
    )
    members: list[str] = Field(default_factory=list, description="member interfaces")


class AgentSchema(_Frozen):
    interface: str
    name: str
    state: str = Field(description="logged_out, available, ringing, on_call, wrap_up or paused")
    reason: str | None = Field(default=None, description="pause reason")
    queues: list[str] = Field(default_factory=list)
    since: float | None = Field(
        default=None, description="when the agent entered this state and reason (epoch seconds)"
    )
    wrap_up_until: float | None = Field(
        default=None, description="when wrap-up ends unless ended early (epoch seconds)"
    )


class UserSchema(_Frozen):
    login: str
    display_name: str
    role: Literal["agent", "supervisor", "admin"]
    interface: str | None


class LoginRequest(BaseModel):
    login: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class StreamPosition(_Frozen):
    """Where the user's event stream stands: connect the WebSocket with `since=seq`."""

    stream_id: str = Field(description="epoch of this server run; changes on restart")
    seq: int = Field(description="sequence number of the last event in the user's stream")


class LoginResponse(_Frozen):
    token: str = Field(description="send as 'Authorization: Bearer <token>' and ?token= on /ws")
    expires_at: datetime
    user: UserSchema
    stream: StreamPosition


class MeResponse(_Frozen):
    user: UserSchema
    stream: StreamPosition


class HealthResponse(_Frozen):
    status: Literal["ok"] = "ok"
    stream_id: str
    connections: int


class HelloEvent(_Frozen):
    """First frame on every WebSocket connection (not part of the numbered stream)."""

    type: Literal["hello"] = "hello"
    user: UserSchema
    stream_id: str
    seq: int = Field(description="last sequence number in the user's stream at connect time")
    replaying: int = Field(default=0, description="how many missed events follow (since=...)")


class ResyncEvent(_Frozen):
    """Sent instead of a replay when `since` cannot be honoured: reload the REST snapshots."""

    type: Literal["resync"] = "resync"
    stream_id: str
    seq: int = Field(description="continue from here: live events follow with seq > this")
    reason: Literal["since_too_old", "stream_changed", "since_ahead"]


# -- call control (cti.control) -------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DialBody(_Body):
    number: Number


class TransferBody(_Body):
    target: Number = Field(description="extension or number, dialled in context from-agents")


class DtmfBody(_Body):
    digits: Digits


class CommandOk(_Frozen):
    """Asterisk accepted the command (what follows shows up as events)."""

    ok: Literal[True] = True
    command: str = Field(description="the command that ran, e.g. hangup")
    call_id: str | None = Field(description="the call acted on; null for dial")
    sent: int = Field(description="AMI actions Asterisk accepted")
    message: str = Field(description="Asterisk's Message in its last response")


class CommandErrorDetail(_Frozen):
    code: ErrorCode | AgentErrorCode = Field(
        description="invalid (422), not_your_call (403), call_gone (404), "
        "asterisk_refused (502), not_connected (503) or timeout (504); agent "
        "commands say not_allowed (403) and not_found (404) instead"
    )
    message: str = Field(description="why, for a human; Asterisk's own Message when it refused")
    fields: list[str] = Field(
        default_factory=list, description="the request fields that failed validation"
    )


class CommandError(_Frozen):
    ok: Literal[False] = False
    command: str | None = Field(description="the command, when it could be told")
    error: CommandErrorDetail
    sent: int = Field(default=0, description="actions Asterisk had accepted before the failure")


class CommandResultEvent(_Frozen):
    """The answer to one WebSocket `command` message, on the same socket.

    Not numbered: it is no event of the user's stream, so it carries no `seq`,
    is not replayed after a reconnect, and other tabs do not receive it. What
    the command changes reaches every tab as the usual numbered events.
    """

    type: Literal["command_result"] = "command_result"
    id: str | None = Field(description="the `id` of the command message; null if unreadable")
    ok: bool
    command: str | None = Field(default=None, description="the command name")
    call_id: str | None = Field(default=None, description="the call acted on")
    agent: str | None = Field(default=None, description="the agent acted on (agent commands)")
    sent: int = Field(default=0, description="AMI actions Asterisk accepted")
    message: str | None = Field(default=None, description="Asterisk's Message when ok")
    error: CommandErrorDetail | None = Field(default=None, description="set when ok is false")
