"""The frozen records the store hands out (never ORM objects, never password hashes).

Strategy: repositories convert rows to these at the session boundary, so a
caller can keep them after the session closed and cannot write through them.
Each has `to_json()` giving a JSON-ready dict for the web layer and the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from cti.history.core import finished_call_json
from cti.ids import AgentLogin, CallId, Interface, QueueName
from cti.model.outputs import IvrStep

__all__ = ["ROLES", "AgentRecord", "CallRecord", "CustomerRecord", "Role"]

Role = Literal["agent", "supervisor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True, slots=True)
class AgentRecord:
    id: int
    login: AgentLogin
    display_name: str
    role: Role
    interface: Interface | None  # the agent's device, e.g. "PJSIP/1001"
    created_at: datetime
    queues: tuple[QueueName, ...] = ()  # a supervisor's queues (supervisor_queues), sorted

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "login": self.login,
            "display_name": self.display_name,
            "role": self.role,
            "interface": self.interface,
            "created_at": self.created_at.isoformat(),
            "queues": list(self.queues),
        }


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    name: str
    account: str | None
    notes: str
    phones: tuple[str, ...]  # normalized digits

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "account": self.account,
            "notes": self.notes,
            "phones": list(self.phones),
        }


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: CallId
    caller_number: str
    caller_name: str
    dialed_number: str
    queue: QueueName | None
    answered_by: Interface | None
    outcome: str
    ivr_path: tuple[IvrStep, ...]
    variables: tuple[tuple[str, str], ...]  # CTI_* variables, sorted by name
    account: str | None
    customer_id: int | None
    started_at: datetime  # all timestamps timezone-aware UTC
    answered_at: datetime | None
    ended_at: datetime
    wait_seconds: float | None
    talk_seconds: float | None
    ended_by_resync: bool

    def to_json(self) -> dict[str, Any]:
        return {
            **finished_call_json(self, "answered_by", self.answered_by),
            "ended_by_resync": self.ended_by_resync,
        }
