"""The fake Asterisk's live state, fed by the very events it emits.

Strategy: one pure object holds what a CTI can ask Asterisk about: channels,
bridges, queues (members and waiting callers) and device states. It is
updated from the events themselves (`apply`), whether they come from the call
generator or from a replayed trace, so the list actions (CoreShowChannels,
QueueStatus, QueueSummary, BridgeList, DeviceStateList) always agree with the
event stream a client has seen. `emit(step)` writes a step as bytes, first
resolving the values Asterisk computes at that instant: queue positions, a
member's counters, and device states that are only reported when they change.

Frame shapes (header names and order) are those of snapshot_mid_call.jsonl
and agent_state.jsonl. QueueEntry is not in any trace; its shape is app_queue's
(Asterisk 13+).

Device states start as Asterisk computes them at boot, so only changes are
reported; queue_answered.jsonl is the one trace recorded with
``Queue:support_avail`` not yet reported (its test clears it with
``set_device(..., None)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cti.sim import snapshot
from cti.sim.calls import AgentConfig, QueueConfig
from cti.sim.steps import Fields, Step, StepKind, render_frame

__all__ = ["MemberState", "QueueState", "SimState"]

_AVAILABLE, _BUSY = "NOT_INUSE", "INUSE"


@dataclass(slots=True)
class _Channel:
    name: str
    created: float
    fields: Fields  # the latest event about it; the snapshot is read lazily
    application: str = ""
    app_data: str = ""
    bridge: str = ""


@dataclass(slots=True)
class _Bridge:
    fields: Fields
    channels: list[str] = field(default_factory=list)


@dataclass(slots=True)
class MemberState:
    name: str
    interface: str
    membership: str = "static"
    penalty: int = 0
    calls: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: int = 0
    status: int = 1
    paused: bool = False
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.status == 1 and not self.paused


@dataclass(slots=True)
class _Entry:
    channel: str
    fields: Fields
    joined: float
    original_position: int


@dataclass(slots=True)
class QueueState:
    config: QueueConfig
    members: dict[str, MemberState] = field(default_factory=dict)
    entries: list[_Entry] = field(default_factory=list)
    completed: int = 0
    completed_in_sl: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talktime: int = 0


def _get(fields: Iterable[tuple[str, str]], key: str) -> str:
    for k, v in fields:
        if k == key:
            return v
    return ""


class SimState:
    """Channels, bridges, queues and device states of the fake Asterisk."""

    def __init__(
        self,
        agents: Sequence[AgentConfig] = (),
        queues: Sequence[QueueConfig] = (),
        *,
        epoch: float = 1_795_860_000.0,
    ) -> None:
        self.epoch = epoch
        self.channels: dict[str, _Channel] = {}
        self.bridges: dict[str, _Bridge] = {}
        self.queues: dict[str, QueueState] = {}
        self.devices: dict[str, str] = {}
        self._left_position: dict[str, int] = {}
        self._per_device: dict[str, int] = {}  # live channels per device
        self._member_queues: dict[str, list[str]] = {}
        for q in queues:
            self.add_queue(q)
        for agent in agents:
            for qname in agent.queues:
                if qname not in self.queues:
                    self.add_queue(QueueConfig(qname))
                member = self._new_member(qname, agent.interface, agent.name, "static", 0)
                member.paused, member.reason = agent.paused, agent.paused_reason
            self.devices[agent.interface] = _AVAILABLE
        for queue in self.queues.values():
            for iface, m in queue.members.items():
                device = f"Queue:{queue.config.name}_pause_{iface}"
                self.devices[device] = _BUSY if m.paused else _AVAILABLE
            avail = any(m.available for m in queue.members.values())
            self.devices[f"Queue:{queue.config.name}_avail"] = _AVAILABLE if avail else _BUSY

    # -- configuration -----------------------------------------------------

    def add_queue(self, config: QueueConfig) -> None:
        self.queues[config.name] = QueueState(config)
        self.devices[f"Queue:{config.name}"] = _AVAILABLE

    def _new_member(
        self, queue: str, iface: str, name: str, membership: str, now: float
    ) -> MemberState:
        login = int(self.epoch + now) if membership == "dynamic" else int(self.epoch)
        member = MemberState(name, iface, membership, login_time=login)
        member.status = 1 if self.devices.get(iface, _AVAILABLE) == _AVAILABLE else 2
        self.queues[queue].members[iface] = member
        self._member_queues.setdefault(iface, []).append(queue)
        return member

    def set_device(self, device: str, state: str | None) -> None:
        """Set (or forget, with None) what was last reported for a device."""
        if state is None:
            self.devices.pop(device, None)
        else:
            self.devices[device] = state

    def member(self, queue: str, iface: str) -> MemberState | None:
        q = self.queues.get(queue)
        return q.members.get(iface) if q else None

    def member_queues(self, iface: str) -> list[str]:
        return self._member_queues.get(iface, [])

    def is_free(self, iface: str) -> bool:
        """Not paused anywhere, device idle and no live channel on it."""
        if self.devices.get(iface, _AVAILABLE) != _AVAILABLE:
            return False
        for qname in self._member_queues.get(iface, ()):
            m = self.queues[qname].members.get(iface)
            if m is not None and m.paused:
                return False
        return True

    # -- emission ----------------------------------------------------------

    def emit(self, step: Step, now: float) -> list[bytes]:
        """The frames `step` produces now (possibly none), state updated."""
        kind = step.kind
        if kind is StepKind.FRAME:
            if step.name in _STATEFUL:
                self.apply(step.name, step.get_fields(), now)
            return [step.raw()]
        if kind is StepKind.QUEUE:
            fields = self._queue_fields(step.name, step.fields, now)
            self.apply(step.name, fields, now)
            return [render_frame(step.name, fields)]
        if kind is StepKind.MEMBER:
            return self._member_status(step.key, int(step.value), now)
        if kind is StepKind.DEVICE:
            return self._device(step.key, step.value)
        # QUEUE_DEVICE: RINGING while callers wait (counting the one joining now)
        q = self.queues.get(step.key)
        waiting = (len(q.entries) if q else 0) + int(step.value)
        return self._report(f"Queue:{step.key}", "RINGING" if waiting > 0 else _AVAILABLE)

    def _report(self, device: str, state: str) -> list[bytes]:
        if self.devices.get(device) == state:
            return []
        self.devices[device] = state
        return [
            render_frame(
                "DeviceStateChange",
                (("Privilege", "call,all"), ("Device", device), ("State", state)),
            )
        ]

    def _device(self, device: str, state: str) -> list[bytes]:
        if state in (_AVAILABLE, "UNAVAILABLE") and self._per_device.get(device):
            return []  # another call still uses the device
        return self._report(device, state)

    def _queue_fields(self, name: str, fields: Fields, now: float) -> Fields:
        channel = _get(fields, "Channel")
        queue = self.queues.get(_get(fields, "Queue"))
        position = count = original = 1
        if name == "QueueCallerJoin" and queue is not None:
            position = count = len(queue.entries) + 1
        elif name in ("QueueCallerLeave", "QueueCallerAbandon") and queue is not None:
            for i, entry in enumerate(queue.entries):
                if entry.channel == channel:
                    position, original = i + 1, entry.original_position
                    break
            count = max(len(queue.entries) - 1, 0)
        elif name == "VarSet":
            position = self._left_position.get(channel, 1)
        values = {"position": str(position), "count": str(count), "orig_position": str(original)}
        return tuple((k, v.format_map(values) if "{" in v else v) for k, v in fields)

    def _member_status(self, iface: str, status: int, now: float) -> list[bytes]:
        out: list[bytes] = []
        queues = self._member_queues.get(iface, [])
        for qname in queues:
            member = self.queues[qname].members[iface]
            member.status = status
            out.append(render_frame("QueueMemberStatus", snapshot.member_fields(qname, member)))
        for qname in queues:
            avail = any(m.available for m in self.queues[qname].members.values())
            out += self._report(f"Queue:{qname}_avail", _AVAILABLE if avail else _BUSY)
        return out

    # -- applying events (generated or replayed) ---------------------------

    def apply(self, name: str, fields: Fields, now: float) -> None:
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, fields, now)
            return
        channel = self.channels.get(_get(fields, "Channel"))
        if channel is not None:
            channel.fields = fields

    def _on_newchannel(self, fields: Fields, now: float) -> None:
        name = _get(fields, "Channel")
        self.channels[name] = _Channel(name, now, fields)
        device = name.rsplit("-", 1)[0]
        self._per_device[device] = self._per_device.get(device, 0) + 1

    def _on_newexten(self, fields: Fields, now: float) -> None:
        channel = self.channels.get(_get(fields, "Channel"))
        if channel is not None:
            channel.fields = fields
            channel.application = _get(fields, "Application")
            channel.app_data = _get(fields, "AppData")

    def _on_hangup(self, fields: Fields, now: float) -> None:
        name = _get(fields, "Channel")
        if self.channels.pop(name, None) is not None:
            device = name.rsplit("-", 1)[0]
            left = self._per_device.get(device, 1) - 1
            if left > 0:
                self._per_device[device] = left
            else:
                self._per_device.pop(device, None)
        self._left_position.pop(name, None)

    def _on_bridge_create(self, fields: Fields, now: float) -> None:
        self.bridges[_get(fields, "BridgeUniqueid")] = _Bridge(fields)

    def _on_bridge_enter(self, fields: Fields, now: float) -> None:
        bridge = self.bridges.get(_get(fields, "BridgeUniqueid"))
        name = _get(fields, "Channel")
        if bridge is not None:
            bridge.fields = fields
            bridge.channels.append(name)
        channel = self.channels.get(name)
        if channel is not None:
            channel.fields = fields
            channel.bridge = _get(fields, "BridgeUniqueid")

    def _on_bridge_leave(self, fields: Fields, now: float) -> None:
        bridge = self.bridges.get(_get(fields, "BridgeUniqueid"))
        name = _get(fields, "Channel")
        if bridge is not None and name in bridge.channels:
            bridge.channels.remove(name)
        channel = self.channels.get(name)
        if channel is not None:
            channel.fields = fields
            channel.bridge = ""

    def _on_bridge_destroy(self, fields: Fields, now: float) -> None:
        self.bridges.pop(_get(fields, "BridgeUniqueid"), None)

    def _on_join(self, fields: Fields, now: float) -> None:
        self.apply("", fields, now)
        queue = self.queues.get(_get(fields, "Queue"))
        if queue is None:
            queue = self.queues[_get(fields, "Queue")] = QueueState(
                QueueConfig(_get(fields, "Queue"))
            )
        position = int(_get(fields, "Position") or len(queue.entries) + 1)
        queue.entries.append(_Entry(_get(fields, "Channel"), fields, now, position))

    def _on_leave(self, fields: Fields, now: float) -> None:
        self.apply("", fields, now)
        queue = self.queues.get(_get(fields, "Queue"))
        channel = _get(fields, "Channel")
        if queue is not None:
            queue.entries = [e for e in queue.entries if e.channel != channel]
        self._left_position[channel] = int(_get(fields, "Position") or 1)

    def _on_abandon(self, fields: Fields, now: float) -> None:
        self.apply("", fields, now)
        queue = self.queues.get(_get(fields, "Queue"))
        if queue is not None:
            queue.abandoned += 1

    def _on_connect(self, fields: Fields, now: float) -> None:
        self.apply("", fields, now)
        queue = self.queues.get(_get(fields, "Queue"))
        if queue is None:
            return
        hold = int(_get(fields, "HoldTime") or 0)
        queue.holdtime = (queue.holdtime * 3 + hold) // 4  # app_queue's recalc_holdtime
        member = queue.members.get(_get(fields, "Interface"))
        if member is not None:
            member.in_call = 1

    def _on_complete(self, fields: Fields, now: float) -> None:
        self.apply("", fields, now)
        queue = self.queues.get(_get(fields, "Queue"))
        if queue is None:
            return
        hold = int(_get(fields, "HoldTime") or 0)
        talk = int(_get(fields, "TalkTime") or 0)
        queue.completed += 1
        sl = queue.config.servicelevel
        if sl == 0 or hold <= sl:
            queue.completed_in_sl += 1
        queue.talktime = (queue.talktime * 3 + talk) // 4
        iface = _get(fields, "Interface")
        for qname in self._member_queues.get(iface, []):  # shared_lastcall = yes
            member = self.queues[qname].members[iface]
            member.calls += 1
            member.last_call = int(self.epoch + now)
            member.in_call = 0

    def _on_member_event(self, fields: Fields, now: float) -> None:
        """QueueMemberStatus/Pause/Added from a replayed trace."""
        qname, iface = _get(fields, "Queue"), _get(fields, "Interface")
        if qname not in self.queues:
            self.add_queue(QueueConfig(qname))
        member = self.queues[qname].members.get(iface)
        if member is None:
            member = self._new_member(qname, iface, _get(fields, "MemberName"), "static", now)
        member.membership = _get(fields, "Membership") or member.membership
        member.calls = int(_get(fields, "CallsTaken") or member.calls)
        member.last_call = int(_get(fields, "LastCall") or member.last_call)
        member.last_pause = int(_get(fields, "LastPause") or member.last_pause)
        member.login_time = int(_get(fields, "LoginTime") or member.login_time)
        member.status = int(_get(fields, "Status") or member.status)
        member.paused = _get(fields, "Paused") == "1"
        member.reason = _get(fields, "PausedReason")

    def _on_member_removed(self, fields: Fields, now: float) -> None:
        self.remove_member(_get(fields, "Queue"), _get(fields, "Interface"))

    def _on_device(self, fields: Fields, now: float) -> None:
        self.devices[_get(fields, "Device")] = _get(fields, "State")

    # -- member actions (QueuePause, QueueAdd, QueueRemove) ----------------

    def pause(
        self, iface: str, paused: bool, queue: str | None, reason: str, now: float
    ) -> list[bytes] | None:
        """Events of a QueuePause; None when the interface is in no such queue."""
        queues = [q for q in self._member_queues.get(iface, []) if queue in (None, "", q)]
        if not queues:
            return None
        out: list[bytes] = []
        for qname in queues:
            member = self.queues[qname].members[iface]
            member.paused = paused
            member.reason = reason if paused else ""
            if paused:
                member.last_pause = int(self.epoch + now)
            out += self._report(f"Queue:{qname}_pause_{iface}", _BUSY if paused else _AVAILABLE)
            avail = any(m.available for m in self.queues[qname].members.values())
            out += self._report(f"Queue:{qname}_avail", _AVAILABLE if avail else _BUSY)
            out.append(render_frame("QueueMemberPause", snapshot.member_fields(qname, member)))
        return out

    def add_member(
        self, queue: str, iface: str, name: str, penalty: int, paused: bool, reason: str, now: float
    ) -> list[bytes] | None:
        """Events of a QueueAdd; None when already a member (or no such queue)."""
        if queue not in self.queues or iface in self.queues[queue].members:
            return None
        member = self._new_member(queue, iface, name or iface, "dynamic", now)
        member.penalty, member.paused, member.reason = penalty, paused, reason if paused else ""
        out = self._report(f"Queue:{queue}_pause_{iface}", _BUSY if paused else _AVAILABLE)
        out.append(render_frame("QueueMemberAdded", snapshot.member_fields(queue, member)))
        return out

    def remove_member(self, queue: str, iface: str) -> list[bytes] | None:
        q = self.queues.get(queue)
        if q is None or iface not in q.members:
            return None
        member = q.members.pop(iface)
        self._member_queues[iface].remove(queue)
        return [render_frame("QueueMemberRemoved", snapshot.member_fields(queue, member))]

    # -- list actions (rendered by cti.sim.snapshot) ---------------------------

    def core_show_channels(self, action_id: str, now: float) -> list[bytes]:
        return snapshot.core_show_channels(self, action_id, now)

    def queue_status(
        self, action_id: str, now: float, queue: str | None = None, member: str | None = None
    ) -> list[bytes]:
        return snapshot.queue_status(self, action_id, now, queue, member)

    def queue_summary(self, action_id: str, now: float, queue: str | None = None) -> list[bytes]:
        return snapshot.queue_summary(self, action_id, now, queue)

    def bridge_list(self, action_id: str, *, item_action_id: bool = True) -> list[bytes]:
        return snapshot.bridge_list(self, action_id, item_action_id=item_action_id)

    def device_state_list(self, action_id: str) -> list[bytes]:
        return snapshot.device_state_list(self, action_id)


# Generated frames of other kinds change nothing a list action reports.
_STATEFUL = frozenset(
    {"Newchannel", "Newstate", "NewConnectedLine", "NewCallerid", "Newexten", "Hangup"}
    | {"BridgeCreate", "BridgeEnter", "BridgeLeave", "BridgeDestroy"}
    | {"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon"}
    | {"AgentConnect", "AgentComplete", "DeviceStateChange"}
    | {"QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved"}
)

_HANDLERS = {
    "Newchannel": SimState._on_newchannel,
    "Newexten": SimState._on_newexten,
    "Hangup": SimState._on_hangup,
    "BridgeCreate": SimState._on_bridge_create,
    "BridgeEnter": SimState._on_bridge_enter,
    "BridgeLeave": SimState._on_bridge_leave,
    "BridgeDestroy": SimState._on_bridge_destroy,
    "QueueCallerJoin": SimState._on_join,
    "QueueCallerLeave": SimState._on_leave,
    "QueueCallerAbandon": SimState._on_abandon,
    "AgentConnect": SimState._on_connect,
    "AgentComplete": SimState._on_complete,
    "QueueMemberStatus": SimState._on_member_event,
    "QueueMemberPause": SimState._on_member_event,
    "QueueMemberAdded": SimState._on_member_event,
    "QueueMemberRemoved": SimState._on_member_removed,
    "DeviceStateChange": SimState._on_device,
}
