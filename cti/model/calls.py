"""Calls: the channels sharing one Linkedid, and what is known about them.

Strategy: mutable records owned by the model (never handed out; views.py makes
frozen copies). A call gathers everything the IVR produced (steps, CTI_*
variables, account) on the call, not on a channel, so the data follows the
call through transfers: any new leg rung later gets the same pop. `popped`
(agent channel -> interface) is the guard that makes pops exactly-once per
(call, agent channel), live or after a resync. The functions at the bottom turn
a record into the pop and call-record outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.ids import BridgeId, CallId, ChannelId, Interface, QueueName
from cti.model.outputs import CallEnded, CallLeg, IvrStep, RingAttempt, ScreenPop, Transfer

__all__ = ["CallRecord", "ChannelRecord", "Role", "call_ended", "ring_attempts", "screen_pop"]


class Role:
    """What a channel is to its call (plain strings, shown in views)."""

    CALLER = "caller"  # the channel that started the call
    AGENT = "agent"  # rung by a queue (AgentCalled / AppQueue)
    DIALED = "dialed"  # rung by Dial (DialBegin with a calling channel)
    ORIGINATE = "originate"  # rung by an AMI Originate (DialBegin without caller)
    OTHER = "other"


UP = "Up"
RINGING = frozenset({"Ringing", "Ring"})


@dataclass(slots=True)
class ChannelRecord:
    id: ChannelId
    name: str
    call_id: CallId
    created_at: float
    state: str = ""
    role: str = Role.OTHER
    interface: Interface | None = None  # the agent/device interface of a rung leg
    caller_number: str = ""
    caller_name: str = ""
    exten: str = ""
    queue: QueueName | None = None  # the queue that rang this agent leg
    member_name: str | None = None
    bridge: BridgeId | None = None
    answered: bool = False
    pop_pending: bool = False  # rebuilt by a resync, pop once it rings
    # for the call record's history (legs and ring attempts)
    answered_at: float | None = None
    ended_at: float | None = None
    rung_at: float | None = None  # an agent's phone started ringing for the call
    ring_ended_at: float | None = None


@dataclass(slots=True)
class CallRecord:
    id: CallId
    started_at: float
    caller_number: str = ""
    caller_name: str = ""
    dialed_number: str = ""
    channels: dict[ChannelId, ChannelRecord] = field(default_factory=dict)
    parties: dict[Interface, None] = field(default_factory=dict)  # ordered set
    ivr: list[IvrStep] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    customer_id: int | None = None  # found by the data dip (CTI_CUSTOMER_ID)
    queue: QueueName | None = None
    joined_at: float | None = None
    waiting_in: QueueName | None = None  # set while the caller waits in a queue
    wait_seconds: float | None = None
    popped: dict[ChannelId, Interface] = field(default_factory=dict)
    queue_legs: set[ChannelId] = field(default_factory=set)  # rung by AgentCalled
    rang: bool = False
    answered_at: float | None = None
    answered_by: Interface | None = None
    answered_legs: set[ChannelId] = field(default_factory=set)
    ring_no_answer: dict[ChannelId, Interface] = field(default_factory=dict)
    abandoned: bool = False
    # every channel that was ever part of the call, in order (the record's legs)
    history: list[ChannelRecord] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)

    def recipients(self) -> tuple[Interface, ...]:
        return tuple(dict.fromkeys(self.popped.values()))

    def sorted_variables(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.variables.items()))

    def outcome(self) -> str:
        if self.answered_at is not None:
            return "answered"
        if self.abandoned:
            return "abandoned"
        if self.rang or self.popped:
            return "unanswered"
        return "failed"


def screen_pop(
    call: CallRecord, leg: ChannelRecord, interface: Interface, at: float, *, late: bool = False
) -> ScreenPop:
    waited = None
    if call.joined_at is not None:
        waited = round(at - call.joined_at, 3)
    return ScreenPop(
        call_id=call.id,
        interface=interface,
        agent_channel=leg.id,
        caller_number=call.caller_number,
        caller_name=call.caller_name,
        dialed_number=call.dialed_number,
        queue=leg.queue or call.queue,
        waited_seconds=waited,
        ivr_path=tuple(call.ivr),
        variables=call.sorted_variables(),
        account=call.account,
        customer_id=call.customer_id,
        at=at,
        member_name=leg.member_name,
        late=late,
    )


_RUNG_ROLES = frozenset({Role.AGENT, Role.DIALED})


def _leg(leg: ChannelRecord) -> CallLeg:
    return CallLeg(
        channel=leg.id,
        name=leg.name,
        role=leg.role,
        interface=leg.interface,
        party_number=leg.caller_number,
        party_name=leg.caller_name,
        started_at=leg.created_at,
        answered_at=leg.answered_at,
        ended_at=leg.ended_at,
    )


def ring_attempts(call: CallRecord, at: float) -> tuple[RingAttempt, ...]:
    """Each agent leg rung for the call (by a queue or a Dial), by ring start."""
    attempts = []
    for leg in call.history:
        if leg.role not in _RUNG_ROLES or leg.interface is None:
            continue
        if leg.answered:
            result = "answered"
        elif leg.id in call.ring_no_answer:
            result = "no_answer"
        else:
            result = "cancelled"
        rang_at = leg.rung_at if leg.rung_at is not None else leg.created_at
        ended = leg.ring_ended_at
        if ended is None:
            ended = leg.ended_at if leg.ended_at is not None else at
        attempts.append(RingAttempt(leg.interface, leg.id, leg.queue, rang_at, ended, result))
    attempts.sort(key=lambda a: a.rang_at)  # stable: same start keeps channel order
    return tuple(attempts)


def call_ended(call: CallRecord, at: float, *, by_resync: bool = False) -> CallEnded:
    talk = None
    if call.answered_at is not None:
        talk = round(at - call.answered_at, 3)
    return CallEnded(
        call_id=call.id,
        outcome=call.outcome(),
        caller_number=call.caller_number,
        caller_name=call.caller_name,
        dialed_number=call.dialed_number,
        queue=call.queue,
        answered_by=call.answered_by,
        parties=tuple(call.parties),
        recipients=call.recipients(),
        ivr_path=tuple(call.ivr),
        variables=call.sorted_variables(),
        account=call.account,
        customer_id=call.customer_id,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=at,
        wait_seconds=call.wait_seconds,
        talk_seconds=talk,
        ring_no_answer=tuple(call.ring_no_answer.values()),
        ended_by_resync=by_resync,
        legs=tuple(_leg(leg) for leg in call.history),
        ring_attempts=ring_attempts(call, at),
        transfers=tuple(call.transfers),
    )
