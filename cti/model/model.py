"""The live model: calls, bridges, queues and agents, fed domain events.

Strategy: `apply(event, at)` dispatches on the event's class through one table
(`_TABLE`, at the bottom) and returns the outputs the change produced, in the
order an agent should see them (a pop before its call's "answered", the call's
updates before agent/queue state). Nothing here does I/O or reads a clock: `at`
comes from the caller, so a replay is deterministic.

Screen-pop rules, in one place (`_pop`, `_on_agent_rung`, `_on_dial_started`):
- AgentCalled pops the member interface it names (queue calls);
- DialBegin from a calling channel pops the dialed device when that device is
  an agent's (configured, or learned from queue membership) and the call is not
  waiting in a queue (app_queue's own DialBegin follows its AgentCalled);
- DialBegin without a calling channel is an Originate leg: never popped;
- `CallRecord.popped` makes it once per (call, agent channel), also across a
  resync (`apply_snapshot`, in resync.py), which pops a ringing or answered leg
  it finds unpopped with `late=True`.

Two sources, one owner per fact (docs/ownership.md): AMI owns channels,
calls, bridges, queues, agents, variables and IVR steps; ARI owns only which
channel is inside which Stasis application. ARI's copies of AMI facts
(ChannelVarset, ChannelDialplan, ...) never reach the model, so the order in
which the two streams arrive cannot change the result.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cti.ami.lists import ListResult
from cti.ids import BridgeId, CallId, ChannelId, Interface, QueueName
from cti.model.agents import AgentRecord, Membership, refresh_agent
from cti.model.calls import (
    RINGING,
    UP,
    CallRecord,
    ChannelRecord,
    Role,
    call_ended,
    screen_pop,
)
from cti.model.events import (
    AgentAnswered,
    AgentCompleted,
    AgentNoAnswer,
    AgentRung,
    BridgeCreated,
    BridgeDestroyed,
    BridgeEntered,
    BridgeLeft,
    CallTransferred,
    ChannelCreated,
    ChannelHungUp,
    ChannelStateChanged,
    DialEnded,
    DialStarted,
    DomainEvent,
    IvrStepped,
    MemberRemoved,
    MemberUpdated,
    OriginateDone,
    QueueAbandoned,
    QueueJoined,
    QueueLeft,
    StasisEntered,
    StasisLeft,
    VariableSet,
    dipped_customer,
    entered_account,
)
from cti.model.interfaces import DeviceRegistry, interface_of_channel
from cti.model.outputs import CallAnswered, IvrStep, Output, RingEnded
from cti.model.queues import QueueRecord, refresh_queue
from cti.model.resync import apply_snapshot
from cti.model.transfers import apply_transfer
from cti.model.views import (
    AgentView,
    CallView,
    QueueView,
    agent_view,
    call_view,
    queue_view,
)
from cti.model.wrapup import Timers, due, end_wrapup, follow_membership, start_wrapup

__all__ = ["Model"]

_PLACEHOLDER_EXTENS = frozenset({"", "s"})
# Channels recently hung up, remembered so that an ARI StasisStart arriving
# after the AMI Hangup (two streams, no order between them) is not kept forever.
_GONE_MEMORY = 4096


class Model:
    """Pure state of the telephony system as seen through AMI."""

    def __init__(
        self, devices: Iterable[str] = (), wrapup: Mapping[str, float] | None = None
    ) -> None:
        """`devices`: agent device interfaces known up front (the agents table);
        `wrapup`: queue -> wrap-up seconds after its calls (none when absent)."""
        self.wrapup: dict[str, float] = dict(wrapup or {})
        self._timers: Timers = {}  # running wrap-up timers (cti/model/wrapup.py)
        self.devices = DeviceRegistry()
        for interface in devices:
            self.devices.add(interface)
        self._calls: dict[CallId, CallRecord] = {}
        self._channels: dict[ChannelId, ChannelRecord] = {}
        self._bridges: dict[BridgeId, set[ChannelId]] = {}
        self._queues: dict[QueueName, QueueRecord] = {}
        self._agents: dict[Interface, AgentRecord] = {}
        # ARI's fact, keyed by channel (ARI events carry no Linkedid) and
        # joined to calls when read: channel -> Stasis application.
        self._stasis: dict[ChannelId, str] = {}
        self._gone: OrderedDict[ChannelId, None] = OrderedDict()

    # -- public API -------------------------------------------------------

    def apply(self, event: DomainEvent, at: float) -> list[Output]:
        handler = _TABLE.get(type(event))
        if handler is None:
            return []
        return handler(self, event, at)

    def apply_snapshot(self, results: Sequence[ListResult], at: float) -> list[Output]:
        """Rebuild from the resync lists; see cti/model/resync.py."""
        return apply_snapshot(self, results, at)

    def tick(self, at: float) -> list[Output]:
        """Let time pass: end the wrap-ups that are due at `at` (the shell calls
        this periodically; a replay never does, so its output stays the trace's)."""
        out: list[Output] = []
        for interface in due(self._timers, at):
            agent = self._agents.get(interface)
            if agent is None:
                self._timers.pop(interface, None)
                continue
            out += end_wrapup(agent, at, self._timers, unpause=True)
            self._refresh_agent(agent, at, out)
        return out

    def end_wrap_up(self, interface: str, at: float, *, unpause: bool = True) -> list[Output]:
        """End an agent's wrap-up now (the agent asked to); [] if not in wrap-up.
        `unpause=False` when the shell has already lifted the Asterisk pause."""
        agent = self._agents.get(Interface(interface))
        if agent is None:
            return []
        out = end_wrapup(agent, at, self._timers, unpause=unpause)
        self._refresh_agent(agent, at, out)
        return out

    def restore_agent_states(self, rows: Iterable[tuple[str, str, str | None, float]]) -> None:
        """Open state rows from the store, (interface, state, reason, since), read at
        start-up: an agent still in that state keeps its `since` across the restart."""
        for interface, state, reason, since in rows:
            agent = self._agent(Interface(interface))
            if agent.last is None:
                agent.restored = (state, reason, since)

    def agent(self, interface: str) -> AgentView | None:
        record = self._agents.get(Interface(interface))
        return agent_view(record) if record is not None else None

    def add_device(self, interface: str) -> None:
        """Register an agent device (e.g. an agent created in the store)."""
        self.devices.add(interface)

    def calls(self) -> list[CallView]:
        return [call_view(c, self._stasis) for c in self._calls.values()]

    def call(self, call_id: CallId) -> CallView | None:
        """One live call's view (call control resolves a command's call with it)."""
        record = self._calls.get(call_id)
        return call_view(record, self._stasis) if record is not None else None

    def in_stasis(self) -> dict[ChannelId, str]:
        """Channels inside a Stasis application, and which (a copy)."""
        return dict(self._stasis)

    def queues(self) -> list[QueueView]:
        return [queue_view(q, self._calls, self._agents) for q in self._queues.values()]

    def agents(self) -> list[AgentView]:
        return [agent_view(a) for a in self._agents.values()]

    # -- shared helpers (also used by resync.py) ----------------------------

    def _call(self, call_id: CallId, at: float) -> CallRecord:
        call = self._calls.get(call_id)
        if call is None:
            call = self._calls[call_id] = CallRecord(call_id, at)
        return call

    def _queue(self, name: QueueName) -> QueueRecord:
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = QueueRecord(name)
        return queue

    def _agent(self, interface: Interface, name: str = "") -> AgentRecord:
        agent = self._agents.get(interface)
        if agent is None:
            agent = self._agents[interface] = AgentRecord(interface, name)
            self.devices.add(interface)
        elif name and not agent.name:
            agent.name = name
        return agent

    def _leg_agent(self, leg: ChannelRecord) -> AgentRecord | None:
        if leg.interface is None:
            return None
        return self._agents.get(leg.interface)

    def _add_channel(
        self, call: CallRecord, channel: ChannelId, name: str, at: float
    ) -> ChannelRecord:
        record = ChannelRecord(channel, name, call.id, at)
        self._channels[channel] = record
        call.channels[channel] = record
        call.history.append(record)
        return record

    def _note_party(self, call: CallRecord, leg: ChannelRecord) -> None:
        interface = leg.interface or self.devices.resolve(interface_of_channel(leg.name))
        if interface is not None:
            call.parties[interface] = None

    def _pop(
        self, call: CallRecord, leg: ChannelRecord, interface: Interface, at: float, late: bool
    ) -> list[Output]:
        if leg.id in call.popped:
            return []
        call.popped[leg.id] = interface
        leg.pop_pending = False
        return [screen_pop(call, leg, interface, at, late=late)]

    def _set_leg(self, leg: ChannelRecord, answered: bool, at: float, out: list[Output]) -> None:
        agent = self._leg_agent(leg)
        if agent is not None:
            agent.legs[leg.id] = answered
            change = refresh_agent(agent, at)
            if change is not None:
                out.append(change)

    def _refresh_agent(self, agent: AgentRecord, at: float, out: list[Output]) -> None:
        change = refresh_agent(agent, at)
        if change is not None:
            out.append(change)

    def _drop_leg(self, leg: ChannelRecord, at: float, out: list[Output]) -> None:
        agent = self._leg_agent(leg)
        if agent is not None and agent.legs.pop(leg.id, None) is not None:
            if leg.answered and leg.role == Role.AGENT and leg.queue is not None:
                # the agent's queue call is over: after-call work, if configured
                out += start_wrapup(agent, leg.queue, self.wrapup, at, self._timers)
            change = refresh_agent(agent, at)
            if change is not None:
                out.append(change)

    def _answer(self, call: CallRecord, leg: ChannelRecord, at: float) -> list[Output]:
        out: list[Output] = []
        if leg.id in call.answered_legs:
            return out
        call.answered_legs.add(leg.id)
        leg.answered = True
        if leg.answered_at is None:
            leg.answered_at = at
        if leg.ring_ended_at is None:
            leg.ring_ended_at = at
        self._note_party(call, leg)
        if call.answered_at is None:
            call.answered_at = at
            call.answered_by = leg.interface
            if call.joined_at is not None and call.wait_seconds is None:
                call.wait_seconds = round(at - call.joined_at, 3)
        if leg.role != Role.ORIGINATE and leg.interface is not None:
            recipients = call.recipients()
            if recipients:
                out.append(CallAnswered(call.id, leg.interface, recipients, at))
        self._set_leg(leg, True, at, out)
        return out

    def _remove_channel(
        self, leg: ChannelRecord, at: float, out: list[Output]
    ) -> CallRecord | None:
        """Forget a channel (hung up, or gone at a resync); the caller ends the call."""
        self._channels.pop(leg.id, None)
        self._stasis.pop(leg.id, None)
        self._gone[leg.id] = None
        leg.ended_at = at
        if leg.ring_ended_at is None:
            leg.ring_ended_at = at
        if len(self._gone) > _GONE_MEMORY:
            self._gone.popitem(last=False)
        call = self._calls.get(leg.call_id)
        if leg.bridge is not None:
            members = self._bridges.get(leg.bridge)
            if members is not None:
                members.discard(leg.id)
        self._drop_leg(leg, at, out)
        if call is None:
            return None
        call.channels.pop(leg.id, None)
        popped_as = call.popped.get(leg.id)
        if popped_as is not None and not leg.answered:
            out.append(RingEnded(call.id, popped_as, leg.id, self._ring_end_reason(call, leg), at))
        if leg.answered or leg.role == Role.CALLER:
            self._note_party(call, leg)
        if call.waiting_in is not None:
            queue = self._queues.get(call.waiting_in)
            if queue is not None and queue.waiting.pop(leg.id, None) is not None:
                call.waiting_in = None
                change = refresh_queue(queue, at)
                if change is not None:
                    out.append(change)
        return call

    @staticmethod
    def _ring_end_reason(call: CallRecord, leg: ChannelRecord) -> str:
        if leg.id in call.ring_no_answer:
            return "no_answer"
        if call.answered_at is not None:
            return "answered_elsewhere"
        return "cancelled"

    def _end_call(self, call: CallRecord, at: float, out: list[Output], by_resync: bool) -> None:
        self._calls.pop(call.id, None)
        out.append(call_ended(call, at, by_resync=by_resync))

    # -- handlers -------------------------------------------------------------

    def _on_channel_created(self, e: ChannelCreated, at: float) -> list[Output]:
        call = self._calls.get(e.call)
        if call is None:
            call = self._calls[e.call] = CallRecord(
                e.call, at, e.caller_number, e.caller_name, e.exten
            )
        elif not call.channels and not call.caller_number:
            # created lazily by an earlier event about the call
            call.caller_number, call.caller_name = e.caller_number, e.caller_name
            call.dialed_number = e.exten
        leg = self._add_channel(call, e.channel, e.name, at)
        leg.state = e.state
        leg.caller_number, leg.caller_name, leg.exten = e.caller_number, e.caller_name, e.exten
        if e.channel == ChannelId(e.call):
            leg.role = Role.CALLER
            self._note_party(call, leg)  # an agent calling out takes part
        return []

    def _on_state(self, e: ChannelStateChanged, at: float) -> list[Output]:
        leg = self._channels.get(e.channel)
        if leg is None:
            return []
        leg.state = e.state
        if e.state == UP and leg.answered_at is None:
            leg.answered_at = at
        if leg.interface is None or leg.role not in _RUNG_ROLES:
            return []
        out: list[Output] = []
        call = self._calls.get(leg.call_id)
        if call is None:
            return out
        if leg.pop_pending and (e.state == UP or e.state in RINGING):
            out += self._pop(call, leg, leg.interface, at, True)
        if e.state == UP:
            out += self._answer(call, leg, at)
        return out

    def _on_hangup(self, e: ChannelHungUp, at: float) -> list[Output]:
        leg = self._channels.get(e.channel)
        if leg is None:
            return []
        out: list[Output] = []
        call = self._remove_channel(leg, at, out)
        if call is None:
            return out
        if call.dialed_number in _PLACEHOLDER_EXTENS and e.exten not in _PLACEHOLDER_EXTENS:
            call.dialed_number = e.exten
        if not call.channels:
            self._end_call(call, at, out, False)
        return out

    def _on_variable(self, e: VariableSet, at: float) -> list[Output]:
        call = self._calls.get(e.call)
        if call is not None:
            call.variables[e.name] = e.value
            _note_caller_data(call, e)
        return []

    def _on_ivr(self, e: IvrStepped, at: float) -> list[Output]:
        call = self._calls.get(e.call)
        if call is not None:
            call.ivr.append(IvrStep(e.step, e.values, at))
            _note_caller_data(call, e)
        return []

    def _on_stasis_entered(self, e: StasisEntered, at: float) -> list[Output]:
        if e.channel not in self._gone:
            self._stasis[e.channel] = e.app
        return []

    def _on_stasis_left(self, e: StasisLeft, at: float) -> list[Output]:
        if self._stasis.get(e.channel) == e.app:
            del self._stasis[e.channel]
        return []

    def _on_dial_started(self, e: DialStarted, at: float) -> list[Output]:
        call = self._call(e.call, at)
        leg = self._channels.get(e.dest_channel)
        if leg is None:
            leg = self._add_channel(call, e.dest_channel, e.dest_name, at)
            leg.caller_number, leg.caller_name = e.dest_caller_number, e.dest_caller_name
        out: list[Output] = []
        if e.channel is None:
            # Originate: the agent's own phone rings first; it is not a call to them.
            leg.role = Role.ORIGINATE
            leg.interface = self.devices.resolve(interface_of_channel(e.dest_name))
            self._set_leg(leg, False, at, out)
            return out
        call.rang = True
        if leg.role == Role.AGENT or call.waiting_in is not None:
            return out  # app_queue dialing a member: its AgentCalled pops
        leg.role = Role.DIALED
        interface = self.devices.resolve(interface_of_channel(e.dest_name))
        if interface is None:
            return out  # not an agent's device (a trunk, an IVR, ...)
        leg.interface = interface
        leg.rung_at = at
        out += self._pop(call, leg, interface, at, False)
        self._set_leg(leg, False, at, out)
        return out

    def _on_dial_ended(self, e: DialEnded, at: float) -> list[Output]:
        leg = self._channels.get(e.dest_channel)
        if leg is None:
            return []
        call = self._calls.get(leg.call_id)
        if call is None:
            return []
        if e.status == "ANSWER":
            return self._answer(call, leg, at)
        out: list[Output] = []
        if leg.ring_ended_at is None:
            leg.ring_ended_at = at
        if e.status == "NOANSWER" and leg.interface is not None and leg.role != Role.ORIGINATE:
            call.ring_no_answer.setdefault(leg.id, leg.interface)
        self._drop_leg(leg, at, out)
        return out

    def _on_queue_joined(self, e: QueueJoined, at: float) -> list[Output]:
        call = self._call(e.call, at)
        call.queue = e.queue
        call.joined_at = at
        call.waiting_in = e.queue
        queue = self._queue(e.queue)
        queue.waiting[e.channel] = (call.id, at)
        change = refresh_queue(queue, at)
        return [change] if change is not None else []

    def _leave_queue(
        self, channel: ChannelId, call_id: CallId, name: QueueName, at: float
    ) -> list[Output]:
        call = self._calls.get(call_id)
        if call is not None and call.waiting_in == name:
            call.waiting_in = None
        queue = self._queues.get(name)
        if queue is None or queue.waiting.pop(channel, None) is None:
            return []
        change = refresh_queue(queue, at)
        return [change] if change is not None else []

    def _on_queue_left(self, e: QueueLeft, at: float) -> list[Output]:
        return self._leave_queue(e.channel, e.call, e.queue, at)

    def _on_queue_abandoned(self, e: QueueAbandoned, at: float) -> list[Output]:
        call = self._calls.get(e.call)
        if call is not None:
            call.abandoned = True
            if call.joined_at is not None and call.wait_seconds is None:
                call.wait_seconds = round(at - call.joined_at, 3)
        return self._leave_queue(e.channel, e.call, e.queue, at)

    def _on_agent_rung(self, e: AgentRung, at: float) -> list[Output]:
        call = self._call(e.call, at)
        if call.queue is None:
            call.queue = e.queue
        call.rang = True
        leg = self._channels.get(e.dest_channel)
        if leg is None:
            leg = self._add_channel(call, e.dest_channel, e.dest_name, at)
        leg.role = Role.AGENT
        leg.interface = e.interface
        leg.queue = e.queue
        if leg.rung_at is None:
            leg.rung_at = at
        leg.member_name = e.member_name or None
        call.queue_legs.add(leg.id)
        agent = self._agent(e.interface, e.member_name)
        out = self._pop(call, leg, e.interface, at, False)
        if e.queue not in agent.memberships:
            # a member we had not heard of yet (no QueueMember* event so far)
            agent.memberships[e.queue] = Membership()
            queue = self._queue(e.queue)
            queue.members[e.interface] = None
            change = refresh_queue(queue, at)
            if change is not None:
                out.append(change)
        self._set_leg(leg, False, at, out)
        return out

    def _on_agent_answered(self, e: AgentAnswered, at: float) -> list[Output]:
        leg = self._channels.get(e.dest_channel)
        call = self._calls.get(e.call)
        if leg is None or call is None:
            return []
        if leg.interface is None:
            leg.interface = e.interface
        return self._answer(call, leg, at)

    def _on_agent_completed(self, e: AgentCompleted, at: float) -> list[Output]:
        return []  # the hang-ups that follow end the legs and the call

    def _on_agent_no_answer(self, e: AgentNoAnswer, at: float) -> list[Output]:
        call = self._calls.get(e.call)
        if call is not None:
            call.ring_no_answer.setdefault(e.dest_channel, e.interface)
        out: list[Output] = []
        leg = self._channels.get(e.dest_channel)
        if leg is not None:
            if leg.ring_ended_at is None:
                leg.ring_ended_at = at
            self._drop_leg(leg, at, out)
        return out

    def _on_bridge_created(self, e: BridgeCreated, at: float) -> list[Output]:
        self._bridges.setdefault(e.bridge, set())
        return []

    def _on_bridge_destroyed(self, e: BridgeDestroyed, at: float) -> list[Output]:
        for channel in self._bridges.pop(e.bridge, ()):
            leg = self._channels.get(channel)
            if leg is not None and leg.bridge == e.bridge:
                leg.bridge = None
        return []

    def _on_bridge_entered(self, e: BridgeEntered, at: float) -> list[Output]:
        self._bridges.setdefault(e.bridge, set()).add(e.channel)
        leg = self._channels.get(e.channel)
        if leg is not None:
            leg.bridge = e.bridge
        return []

    def _on_bridge_left(self, e: BridgeLeft, at: float) -> list[Output]:
        members = self._bridges.get(e.bridge)
        if members is not None:
            members.discard(e.channel)
        leg = self._channels.get(e.channel)
        if leg is not None and leg.bridge == e.bridge:
            leg.bridge = None
        return []

    def _on_member_updated(self, e: MemberUpdated, at: float) -> list[Output]:
        agent = self._agent(e.interface, e.name)
        old = agent.memberships.get(e.queue)
        new = agent.memberships[e.queue] = Membership(e.status, e.paused, e.reason)
        follow_membership(agent, old, new, self.wrapup, at, self._timers)
        queue = self._queue(e.queue)
        queue.members[e.interface] = None
        out: list[Output] = []
        change = refresh_agent(agent, at)
        if change is not None:
            out.append(change)
        qchange = refresh_queue(queue, at)
        if qchange is not None:
            out.append(qchange)
        return out

    def _on_member_removed(self, e: MemberRemoved, at: float) -> list[Output]:
        out: list[Output] = []
        agent = self._agents.get(e.interface)
        if agent is not None and agent.memberships.pop(e.queue, None) is not None:
            if not agent.memberships and agent.wrapup_until is not None:
                end_wrapup(agent, at, self._timers, unpause=False)  # logged out
            change = refresh_agent(agent, at)
            if change is not None:
                out.append(change)
        queue = self._queues.get(e.queue)
        if queue is not None and e.interface in queue.members:
            del queue.members[e.interface]
            qchange = refresh_queue(queue, at)
            if qchange is not None:
                out.append(qchange)
        return out

    def _on_originate_done(self, e: OriginateDone, at: float) -> list[Output]:
        leg = self._channels.get(e.channel) if e.channel is not None else None
        call = self._calls.get(leg.call_id) if leg is not None else None
        if call is not None and call.dialed_number in _PLACEHOLDER_EXTENS and e.exten:
            call.dialed_number = e.exten
        return []


def _note_caller_data(call: CallRecord, e: VariableSet | IvrStepped) -> None:
    """Keep the account the caller entered and the data dip's customer id,
    whichever of the two carried them (a CTI_* variable or an IVR step)."""
    account = entered_account(e)
    if account is not None:
        call.account = account
    customer = dipped_customer(e)
    if customer is not None:
        call.customer_id = customer


_RUNG_ROLES = frozenset({Role.AGENT, Role.DIALED, Role.ORIGINATE})

_Handler = Callable[[Model, Any, float], list[Output]]

# The transition table: one handler per domain event class.
_TABLE: dict[type, _Handler] = {
    ChannelCreated: Model._on_channel_created,
    ChannelStateChanged: Model._on_state,
    ChannelHungUp: Model._on_hangup,
    VariableSet: Model._on_variable,
    IvrStepped: Model._on_ivr,
    DialStarted: Model._on_dial_started,
    DialEnded: Model._on_dial_ended,
    QueueJoined: Model._on_queue_joined,
    QueueLeft: Model._on_queue_left,
    QueueAbandoned: Model._on_queue_abandoned,
    AgentRung: Model._on_agent_rung,
    AgentAnswered: Model._on_agent_answered,
    AgentCompleted: Model._on_agent_completed,
    AgentNoAnswer: Model._on_agent_no_answer,
    BridgeCreated: Model._on_bridge_created,
    BridgeDestroyed: Model._on_bridge_destroyed,
    BridgeEntered: Model._on_bridge_entered,
    BridgeLeft: Model._on_bridge_left,
    MemberUpdated: Model._on_member_updated,
    MemberRemoved: Model._on_member_removed,
    OriginateDone: Model._on_originate_done,
    StasisEntered: Model._on_stasis_entered,
    StasisLeft: Model._on_stasis_left,
    CallTransferred: apply_transfer,
}
