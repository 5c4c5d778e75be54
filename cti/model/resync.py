"""Resync: rebuild the model from the lists Asterisk returns after a (re)connect.

Strategy: the snapshot is the truth about what exists *now*; the model is the
truth about what happened before (IVR data, pops already sent, join times). So
the model is reconciled, not replaced:

1. queue members from QueueStatus (agents learnt here are agent devices);
2. calls the model knows but the snapshot lacks ended while the link was down:
   each gets its `CallEnded` (outcome from what was known, `ended_by_resync`);
   channels gone from surviving calls are dropped;
3. channels the model lacks are added, calls created (a CTI started mid-call
   knows the call: the queue from `Queue` ApplicationData, the agent leg from
   the `AppQueue` "(Outgoing Line)" channel, a dialed agent device from
   `AppDial`);
4. every rung leg not yet popped that is ringing or up gets a pop with
   `late=True` (one still "Down" is popped when it starts ringing); an up leg
   not yet seen answered is answered now;
5. waiting callers from QueueEntry, bridges, device states; then agent and
   queue changes.

Pops stay exactly-once because `CallRecord.popped` survives for every call
that survives, and a new call starts with none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cti.ami.lists import ListResult
from cti.ids import BridgeId, CallId, ChannelId, Interface, QueueName
from cti.model.agents import Membership, refresh_agent
from cti.model.calls import RINGING, UP, CallRecord, ChannelRecord, Role
from cti.model.interfaces import interface_of_channel
from cti.model.outputs import Output
from cti.model.queues import refresh_queue
from cti.model.snapshot import SnapChannel, SnapshotData, parse_snapshot
from cti.model.wrapup import sync_after_snapshot

if TYPE_CHECKING:
    from cti.model.model import Model

__all__ = ["apply_snapshot"]

_QUEUE_APP = "Queue"
_QUEUE_LEG_APP = "AppQueue"
_DIAL_LEG_APP = "AppDial"


def apply_snapshot(model: Model, results: Sequence[ListResult], at: float) -> list[Output]:
    data = parse_snapshot(results)
    out: list[Output] = []
    if data.queues is not None:
        _members(model, data)
        sync_after_snapshot(model._agents, model.wrapup, at, model._timers)
    if data.channels is not None:
        _channels(model, data.channels, at, out)
        _bridges(model, data)
    if data.queues is not None:
        _waiting(model, data, at)
    if data.devices is not None:
        for device, state in data.devices:
            agent = model._agents.get(Interface(device))
            if agent is not None:
                agent.device_state = state
    for agent in model._agents.values():
        change = refresh_agent(agent, at)
        if change is not None:
            out.append(change)
    for queue in model._queues.values():
        qchange = refresh_queue(queue, at)
        if qchange is not None:
            out.append(qchange)
    return out


def _members(model: Model, data: SnapshotData) -> None:
    assert data.queues is not None
    for queue_name in data.queues:
        model._queue(queue_name).members.clear()
    for agent in model._agents.values():
        agent.memberships.clear()
    for m in data.members:
        agent = model._agent(m.interface, m.name)
        agent.memberships[m.queue] = Membership(m.status, m.paused, m.reason)
        model._queue(m.queue).members[m.interface] = None
    for name, queue in model._queues.items():
        if name not in data.queues:
            queue.members.clear()
            queue.waiting.clear()


def _channels(model: Model, snap: tuple[SnapChannel, ...], at: float, out: list[Output]) -> None:
    by_call: dict[CallId, list[SnapChannel]] = {}
    for sc in snap:
        by_call.setdefault(sc.call, []).append(sc)
    present = {sc.id for sc in snap}

    # Calls that ended while we were away, and channels gone from the others.
    for call in list(model._calls.values()):
        gone = [leg for leg in call.channels.values() if leg.id not in present]
        for leg in gone:
            model._remove_channel(leg, at, out)
        if call.id not in by_call:
            model._end_call(call, at, out, True)

    for call_id, chans in by_call.items():
        known_call = model._calls.get(call_id)
        call = known_call if known_call is not None else _new_call(model, call_id, chans, at)
        queued = False
        for sc in chans:
            if sc.application == _QUEUE_APP and sc.app_data:
                call.queue = QueueName(sc.app_data.split(",", 1)[0])
                queued = True
        for sc in chans:
            known_leg = model._channels.get(sc.id)
            leg = known_leg if known_leg is not None else _new_leg(model, call, sc, at, queued)
            if leg.role == Role.OTHER:
                # created before we heard why (e.g. AgentCalled fell in the gap)
                _classify(model, call, leg, sc, queued)
            leg.state = sc.state
            leg.bridge = sc.bridge
        for leg in list(call.channels.values()):
            _settle_leg(model, call, leg, at, out)


def _new_call(model: Model, call_id: CallId, chans: list[SnapChannel], at: float) -> CallRecord:
    origin = next((sc for sc in chans if sc.id == ChannelId(call_id)), None)
    if origin is None:
        origin = max(chans, key=lambda sc: sc.duration)
    longest = max(sc.duration for sc in chans)
    call = model._calls[call_id] = CallRecord(
        call_id, at - longest, origin.caller_number, origin.caller_name, origin.exten
    )
    return call


def _new_leg(
    model: Model, call: CallRecord, sc: SnapChannel, at: float, queued: bool
) -> ChannelRecord:
    leg = model._add_channel(call, sc.id, sc.name, at - sc.duration)
    leg.caller_number, leg.caller_name, leg.exten = sc.caller_number, sc.caller_name, sc.exten
    _classify(model, call, leg, sc, queued)
    return leg


def _classify(
    model: Model, call: CallRecord, leg: ChannelRecord, sc: SnapChannel, queued: bool
) -> None:
    """The channel's role from the application it runs (CoreShowChannel).

    `queued`: another channel of the call runs Queue(). app_queue creates and
    rings the member's channel before that channel runs "AppQueue" (the
    Newexten comes a few ms later), so a resync in between shows a known
    agent device's channel with no application: it is that queue ringing
    the agent, and must be popped like one.
    """
    device = interface_of_channel(sc.name)
    known = model.devices.resolve(device)
    if sc.id == ChannelId(call.id):
        leg.role = Role.CALLER
        leg.interface = known
    elif sc.application == _QUEUE_LEG_APP or (queued and not sc.application and known):
        # Rung by app_queue: an agent whatever its device; the queue is the call's.
        leg.role = Role.AGENT
        leg.interface = known or device
        leg.queue = call.queue
        call.queue_legs.add(leg.id)
        call.rang = True
        agent = model._agent(leg.interface)
        leg.member_name = agent.name or None
    elif sc.application == _DIAL_LEG_APP and known is not None:
        leg.role = Role.DIALED
        leg.interface = known
        call.rang = True


def _settle_leg(
    model: Model, call: CallRecord, leg: ChannelRecord, at: float, out: list[Output]
) -> None:
    if leg.role not in (Role.AGENT, Role.DIALED) or leg.interface is None:
        if leg.state == UP and leg.role == Role.ORIGINATE:
            out += model._answer(call, leg, at)
        return
    ringing = leg.state in RINGING
    if leg.id not in call.popped:
        if ringing or leg.state == UP:
            out += model._pop(call, leg, leg.interface, at, True)
        else:
            leg.pop_pending = True
    if leg.state == UP:
        out += model._answer(call, leg, at)
    elif ringing:
        model._set_leg(leg, False, at, out)


def _bridges(model: Model, data: SnapshotData) -> None:
    bridges: dict[BridgeId, set[ChannelId]] = {}
    if data.bridges is not None:
        for bridge in data.bridges:
            bridges.setdefault(bridge, set())
    for leg in model._channels.values():
        if leg.bridge is not None:
            bridges.setdefault(leg.bridge, set()).add(leg.id)
    model._bridges = bridges


def _waiting(model: Model, data: SnapshotData, at: float) -> None:
    by_name = {leg.name: leg.id for leg in model._channels.values()}
    for queue in model._queues.values():
        queue.waiting.clear()
    for call in model._calls.values():
        call.waiting_in = None
    for entry in data.entries:
        channel = entry.channel or by_name.get(entry.channel_name)
        if channel is None:
            continue
        leg = model._channels.get(channel)
        if leg is None:
            continue
        call = model._calls[leg.call_id]
        joined = at - entry.wait
        if call.joined_at is None:
            call.joined_at = joined
        call.queue = entry.queue
        call.waiting_in = entry.queue
        model._queue(entry.queue).waiting[channel] = (call.id, call.joined_at)
