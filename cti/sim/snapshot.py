"""List-action answers rendered from the simulator's state.

Strategy: pure functions from `SimState` to the frames Asterisk 22 writes for
CoreShowChannels, QueueStatus, QueueSummary, BridgeList and DeviceStateList,
with the header names and order of snapshot_mid_call.jsonl. QueueEntry is in
no trace; its shape is app_queue's (Asterisk 13+). The Response that opens
each list is written by the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.sim.steps import Fields, render_frame

if TYPE_CHECKING:  # state.py imports this module
    from cti.sim.state import MemberState, QueueState, SimState

__all__ = [
    "CHANNEL_KEYS",
    "bridge_list",
    "core_show_channels",
    "device_state_list",
    "member_fields",
    "queue_status",
    "queue_summary",
]

# A channel's snapshot headers, in the order Asterisk writes them (CoreShowChannel,
# and the channel block of events and action answers).
CHANNEL_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
_BRIDGE_KEYS = (
    "BridgeType",
    "BridgeTechnology",
    "BridgeCreator",
    "BridgeName",
    "BridgeNumChannels",
    "BridgeVideoSourceMode",
)


def core_show_channels(state: SimState, action_id: str, now: float) -> list[bytes]:
    items: list[bytes] = []
    for ch in state.channels.values():
        snap = dict(reversed(ch.fields))  # first occurrence wins
        secs = int(now - ch.created)
        duration = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
        fields: Fields = (
            ("ActionID", action_id),
            *((k, snap.get(k, "")) for k in CHANNEL_KEYS),
            ("Application", ch.application),
            ("ApplicationData", ch.app_data),
            ("Duration", duration),
            ("BridgeId", ch.bridge),
        )
        items.append(render_frame("CoreShowChannel", fields))
    return [*items, _complete("CoreShowChannelsComplete", action_id, len(items))]


def queue_status(
    state: SimState,
    action_id: str,
    now: float,
    queue: str | None = None,
    member: str | None = None,
) -> list[bytes]:
    items: list[bytes] = []
    for q in state.queues.values():
        if queue and q.config.name != queue:
            continue
        items.append(render_frame("QueueParams", _params(q, action_id)))
        for m in q.members.values():
            if member and m.interface != member:
                continue
            f = dict(member_fields(q.config.name, m, privilege=False))
            items.append(
                render_frame(
                    "QueueMember",
                    (
                        ("Queue", q.config.name),
                        ("Name", m.name),
                        ("Location", m.interface),
                        *(
                            (k, f[k])
                            for k in (
                                "StateInterface",
                                "Membership",
                                "Penalty",
                                "CallsTaken",
                                "LastCall",
                                "LastPause",
                                "LoginTime",
                                "InCall",
                                "Status",
                                "Paused",
                                "PausedReason",
                                "Wrapuptime",
                            )
                        ),
                        ("ActionID", action_id),
                    ),
                )
            )
        for pos, e in enumerate(q.entries, 1):
            snap = dict(reversed(e.fields))
            items.append(
                render_frame(
                    "QueueEntry",
                    (
                        ("Queue", q.config.name),
                        ("Position", str(pos)),
                        ("Channel", e.channel),
                        ("Uniqueid", snap.get("Uniqueid", "")),
                        ("CallerIDNum", snap.get("CallerIDNum", "")),
                        ("CallerIDName", snap.get("CallerIDName", "")),
                        ("ConnectedLineNum", snap.get("ConnectedLineNum", "")),
                        ("ConnectedLineName", snap.get("ConnectedLineName", "")),
                        ("Wait", str(int(now - e.joined))),
                        ("Priority", "0"),
                        ("ActionID", action_id),
                    ),
                )
            )
    return [*items, _complete("QueueStatusComplete", action_id, len(items))]


def _params(q: QueueState, action_id: str) -> Fields:
    perf = 100.0 * q.completed_in_sl / q.completed if q.completed else 0.0
    offered = q.completed + q.abandoned
    perf2 = 100.0 * q.completed_in_sl / offered if offered else 0.0
    return (
        ("Queue", q.config.name),
        ("Max", "0"),
        ("Strategy", q.config.strategy),
        ("Calls", str(len(q.entries))),
        ("Holdtime", str(q.holdtime)),
        ("TalkTime", str(q.talktime)),
        ("Completed", str(q.completed)),
        ("Abandoned", str(q.abandoned)),
        ("ServiceLevel", str(q.config.servicelevel)),
        ("ServicelevelPerf", f"{perf:.1f}"),
        ("ServicelevelPerf2", f"{perf2:.1f}"),
        ("Weight", str(q.config.weight)),
        ("ActionID", action_id),
    )


def queue_summary(
    state: SimState, action_id: str, now: float, queue: str | None = None
) -> list[bytes]:
    items: list[bytes] = []
    for q in state.queues.values():
        if queue and q.config.name != queue:
            continue
        longest = max((int(now - e.joined) for e in q.entries), default=0)
        fields: Fields = (
            ("Queue", q.config.name),
            ("LoggedIn", str(len(q.members))),
            ("Available", str(sum(1 for m in q.members.values() if m.available))),
            ("Callers", str(len(q.entries))),
            ("HoldTime", str(q.holdtime)),
            ("TalkTime", str(q.talktime)),
            ("LongestHoldTime", str(longest)),
            ("ActionID", action_id),
        )
        items.append(render_frame("QueueSummary", fields))
    return [*items, _complete("QueueSummaryComplete", action_id, len(items))]


def bridge_list(state: SimState, action_id: str, *, item_action_id: bool = True) -> list[bytes]:
    """BridgeListItem carries ActionID in snapshot_mid_call.jsonl; the flag
    lets a test reproduce builds that leave it out."""
    items: list[bytes] = []
    for uid, b in state.bridges.items():
        snap = dict(reversed(b.fields))
        head: Fields = (("ActionID", action_id),) if item_action_id else ()
        fields: Fields = (
            *head,
            ("BridgeUniqueid", uid),
            *(
                (k, str(len(b.channels)) if k == "BridgeNumChannels" else snap.get(k, ""))
                for k in _BRIDGE_KEYS
            ),
        )
        items.append(render_frame("BridgeListItem", fields))
    return [*items, _complete("BridgeListComplete", action_id, len(items))]


def device_state_list(state: SimState, action_id: str) -> list[bytes]:
    items = [
        render_frame("DeviceStateChange", (("ActionID", action_id), ("Device", d), ("State", s)))
        for d, s in state.devices.items()
    ]
    return [*items, _complete("DeviceStateListComplete", action_id, len(items))]


def _complete(name: str, action_id: str, count: int) -> bytes:
    return render_frame(
        name, (("ActionID", action_id), ("EventList", "Complete"), ("ListItems", str(count)))
    )


def member_fields(queue: str, m: MemberState, privilege: bool = True) -> Fields:
    head: Fields = (("Privilege", "agent,all"),) if privilege else ()
    return (
        *head,
        ("Queue", queue),
        ("MemberName", m.name),
        ("Interface", m.interface),
        ("StateInterface", m.interface),
        ("Membership", m.membership),
        ("Penalty", str(m.penalty)),
        ("CallsTaken", str(m.calls)),
        ("LastCall", str(m.last_call)),
        ("LastPause", str(m.last_pause)),
        ("LoginTime", str(m.login_time)),
        ("InCall", str(m.in_call)),
        ("Status", str(m.status)),
        ("Paused", "1" if m.paused else "0"),
        ("PausedReason", m.reason),
        ("Ringinuse", "0"),
        ("Wrapuptime", "0"),
    )
