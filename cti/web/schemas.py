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

__all__ = [
    "AgentSchema",
    "CallSchema",
    "HealthResponse",
    "HelloEvent",
    "IvrStepSchema",
    "LoginRequest",
    "LoginResponse",
    "MeResponse",
    "QueueSchema",
    "ResyncEvent",
    "StreamPosition",
    "UserSchema",
]


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
    state: str = Field(description="logged_out, available, ringing, on_call or paused")
    reason: str | None = Field(default=None, description="pause reason")
    queues: list[str] = Field(default_factory=list)


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
