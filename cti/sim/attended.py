"""Script builders for an attended transfer (AMI Atxfer) of an answered queue call.

No trace records one. What Asterisk 22 does, and what is built here
(manager.c action_atxfer starts the built-in ``atxfer`` feature on the agent
leg A; bridge_basic.c runs the transfer):

- start: ``dial_transfer`` requests ``Local/<exten>@<context>`` with A as the
  requestor, so both Local halves inherit A's Linkedid (the customer's call
  id; ast_channel_internal_alloc copies the requestor's linkedid). ``;2``
  runs the dialplan and dials the target B (the frames of the recorded
  ``internal_dial`` / ``internal_answer``, with ``;2`` as the calling agent and
  the Linkedid rewritten). A moves to a new bridge with ``;1``; the customer
  C, alone in the first bridge, is held (MusicOnHoldStart). An extension the
  context lacks makes the feature play ``pbx-invalid`` to A and stop: no event;
- complete (the CTI hangs up A): the AttendedTransfer event (fields as
  documented for the AMI event: Orig/Second transferer and bridge, DestType
  ``Bridge``, Transferee, TransferTarget, IsExternal ``No``; no recording),
  AgentComplete Reason ``transfer``, A's teardown (the recorded
  ``hangup_agent`` frames of A), ``;1`` moves to C's bridge, which absorbs it
  (bridge_merge), and C is taken off hold;
- cancel (the CTI hangs up the consultation ``;1``): ``;1``, ``;2`` and B hang
  up (B's and ``;2``'s frames from ``internal_hangup``), A returns to C's
  bridge and C is taken off hold;
- the end of a transferred call: every leg hangs up.

Not simulated: the Local channel optimization Asterisk then performs (the
``;1``/``;2`` pair stays in the call until it ends), a transfer completed while
the target still rings (the completion waits for the answer), and the Hold
event the transferer's bridge channel publishes.

The frames that depend on the live state (bridge moves, hold, the
AttendedTransfer event) are written by `Emitter` (cti.sim.control_actions)
from the channels' latest snapshots when they are due; the rest are steps.
"""

from __future__ import annotations

from cti.sim.calls import AgentConfig, IdAllocator, ivr_hangup_steps
from cti.sim.control_actions import Emitter, channel_headers
from cti.sim.state import SimState
from cti.sim.steps import Fields, Step, StepKind
from cti.sim.templates import TemplateFrame, render_segment

__all__ = [
    "complete_frames",
    "consult_answer_steps",
    "consult_dial_steps",
    "consult_end_steps",
    "consult_vars",
    "customer_gone_steps",
    "hold_and_move_frames",
    "local_one_gone_frames",
    "local_one_hangup_frames",
    "rejoin_frames",
    "transferer_gone_steps",
    "transferred_end_frames",
]

_BRIDGE_KEYS = (
    "BridgeUniqueid",
    "BridgeType",
    "BridgeTechnology",
    "BridgeCreator",
    "BridgeName",
    "BridgeNumChannels",
    "BridgeVideoSourceMode",
)


def consult_vars(
    v: dict[str, str], exten: str, context: str, target: AgentConfig, ids: IdAllocator, at: float
) -> dict[str, str]:
    """The consultation's context: ``;2`` in the calling role, B dialled."""
    local, one_uid = ids.channel(f"Local/{exten}@{context}", at)
    _, two_uid = ids.channel(f"Local/{exten}@{context}", at)
    b_chan, b_uid = ids.channel(target.interface, at)
    return {
        "call": v["c_uid"],
        "l1_chan": f"{local};1",
        "l1_uid": one_uid,
        "a_chan": f"{local};2",
        "a_uid": two_uid,
        "a_num": v["a_num"],
        "a_name": v["a_name"],
        "a_iface": f"Local/{exten}@{context}",
        "a_callid": "",
        "b_chan": b_chan,
        "b_uid": b_uid,
        "b_num": target.number,
        "b_name": target.name,
        "b_iface": target.interface,
        "b_callid": ids.sip_callid(),
        "ring": "0",
        "ring_ms": "0",
        "bridge": ids.bridge(),  # ;2 + B
        "target_bridge": ids.bridge(),  # A + ;1
        "talk": "0",
        "talk_ms": "0",
        "dialed": "0",
        "dialed_ms": "0",
    }


def _rewrite(
    x: dict[str, str], steps: list[Step], *, skip_vars: tuple[str, ...] = ()
) -> list[Step]:
    """Frames of the recorded call, on the customer's Linkedid; ``;2`` has no device."""
    out: list[Step] = []
    for step in steps:
        if step.kind is not StepKind.FRAME:
            if step.key != x["a_iface"]:
                out.append(step)
            continue
        fields = step.get_fields()
        if step.name == "VarSet" and dict(fields).get("Variable") in skip_vars:
            continue
        edited = tuple(
            (k, x["call"] if k in ("Linkedid", "DestLinkedid") else v) for k, v in fields
        )
        out.append(Step(step.at, StepKind.FRAME, step.name, edited, call=step.call))
    return out


def _as_local_one(x: dict[str, str], step: Step) -> Step:
    fields = tuple(
        (k, {"Channel": x["l1_chan"], "Uniqueid": x["l1_uid"]}.get(k, v))
        for k, v in step.get_fields()
    )
    return Step(step.at, StepKind.FRAME, step.name, fields, call=step.call)


def consult_dial_steps(x: dict[str, str], t0: float, *, call: str = "") -> list[Step]:
    """``;1`` and ``;2`` created, ``;2`` runs the dialplan and rings B."""
    steps = _rewrite(x, render_segment("internal_dial", x, t0, call=call), skip_vars=("SIPDOMAIN",))
    return [_as_local_one(x, steps[0]), *steps]


def consult_answer_steps(
    x: dict[str, str], t0: float, *, ring: float, call: str = ""
) -> list[Step]:
    """B answers ``;2``: DialEnd ANSWER, both halves Up, ``;2`` and B bridged."""
    x.update(ring=str(int(ring + 1e-6)), ring_ms=str(int(ring * 1000 + 1e-3)))
    steps = _rewrite(x, render_segment("internal_answer", x, t0, call=call))
    out: list[Step] = []
    for step in steps:
        out.append(step)
        if step.name == "Newstate" and ("Channel", x["a_chan"]) in step.get_fields():
            out.append(_as_local_one(x, step))
    return out


def consult_end_steps(x: dict[str, str], t0: float, *, talk: float, call: str = "") -> list[Step]:
    """``;2`` and B hang up (the recorded end of an agent-to-agent call)."""
    x.update(
        talk=str(int(talk + 1e-6)),
        talk_ms=str(int(talk * 1000 + 1e-3)),
        dialed=str(int(talk + 1e-6)),
        dialed_ms=str(int(talk * 1000 + 1e-3)),
    )
    return _rewrite(x, render_segment("internal_hangup", x, t0, call=call))


def transferer_gone_steps(
    v: dict[str, str], x: dict[str, str], t0: float, *, talk: float, call: str = ""
) -> list[Step]:
    """AgentComplete (Reason transfer) and A's recorded teardown, from the consult bridge."""
    v.update(talk=str(int(talk + 1e-6)), talk_ms=str(int(talk * 1000 + 1e-3)))

    def keep(frame: TemplateFrame) -> bool:
        return frame.role == "a" or frame.name == "AgentComplete"

    out: list[Step] = []
    for step in render_segment("hangup_agent", v, t0, call=call, keep=keep):
        if step.name == "AgentComplete":
            step = _edit(step, Reason="transfer")
        elif step.name == "BridgeLeave":
            step = _edit(step, BridgeUniqueid=x["target_bridge"], BridgeNumChannels="1")
        out.append(step)
    return out


def _edit(step: Step, **values: str) -> Step:
    fields = tuple((k, values.get(k, v)) for k, v in step.get_fields())
    return Step(step.at, StepKind.FRAME, step.name, fields, call=step.call)


# -- frames written from the live state when due ------------------------------


def _enter(out: Emitter, name: str, bridge: str) -> None:
    count = len(out.state.bridges[bridge].channels) + 1
    out.emit("BridgeEnter", (*out.bridge_fields(bridge, count), *channel_headers(out.state, name)))


def _hangup(out: Emitter, name: str) -> None:
    out.emit(
        "Hangup",
        (
            ("Privilege", "call,all"),
            *channel_headers(out.state, name),
            ("Cause", "16"),
            ("Cause-txt", "Normal Clearing"),
        ),
    )


def _moh(out: Emitter, name: str, start: bool) -> None:
    if start:
        fields: Fields = (("Privilege", "call,all"), *channel_headers(out.state, name))
        out.emit("MusicOnHoldStart", (*fields, ("Class", "default")))
    else:
        out.emit("MusicOnHoldStop", (("Privilege", "call,all"), *channel_headers(out.state, name)))


def hold_and_move_frames(
    state: SimState, now: float, v: dict[str, str], x: dict[str, str]
) -> list[bytes]:
    """C held; A leaves C's bridge for a new one, which ``;1`` enters."""
    out = Emitter(state, now)
    if v["c_chan"] in state.channels:
        _moh(out, v["c_chan"], True)
    out.emit("BridgeCreate", out.bridge_fields(x["target_bridge"], 0))
    for name in (v["a_chan"], x["l1_chan"]):
        if name in state.channels:
            out.leave_bridge(name)
            _enter(out, name, x["target_bridge"])
    return out.frames


def _bridge_part(prefix: str, state: SimState, bridge: str) -> Fields:
    b = state.bridges.get(bridge)
    values = dict(b.fields) if b is not None else {}
    values["BridgeUniqueid"] = bridge
    values["BridgeNumChannels"] = str(len(b.channels) if b is not None else 0)
    return tuple((prefix + k, values.get(k, "")) for k in _BRIDGE_KEYS)


def complete_frames(
    state: SimState, now: float, v: dict[str, str], x: dict[str, str]
) -> list[bytes]:
    """The AttendedTransfer event (before A's teardown steps)."""
    out = Emitter(state, now)
    a, c, l1 = v["a_chan"], v["c_chan"], x["l1_chan"]
    out.emit(
        "AttendedTransfer",
        (
            ("Privilege", "call,all"),
            ("Result", "Success"),
            *channel_headers(state, a, "OrigTransferer"),
            *_bridge_part("Orig", state, v["bridge"]),
            *channel_headers(state, a, "SecondTransferer"),
            *_bridge_part("Second", state, x["target_bridge"]),
            ("DestType", "Bridge"),
            ("DestBridgeUniqueid", v["bridge"]),
            *channel_headers(state, c, "Transferee"),
            *channel_headers(state, l1, "TransferTarget"),
            ("IsExternal", "No"),
        ),
    )
    return out.frames


def local_one_gone_frames(
    state: SimState, now: float, v: dict[str, str], x: dict[str, str]
) -> list[bytes]:
    """After A's teardown: ``;1`` moves into C's bridge, C off hold."""
    out = Emitter(state, now)
    l1, c = x["l1_chan"], v["c_chan"]
    if l1 in state.channels:
        out.leave_bridge(l1)  # the consult bridge empties and is destroyed
        if v["bridge"] in state.bridges:
            _enter(out, l1, v["bridge"])
    if c in state.channels:
        _moh(out, c, False)
    return out.frames


def local_one_hangup_frames(
    state: SimState, now: float, v: dict[str, str], x: dict[str, str]
) -> list[bytes]:
    """Cancel, first: the hung-up ``;1`` leaves the consult bridge and is gone."""
    out = Emitter(state, now)
    if x["l1_chan"] in state.channels:
        out.leave_bridge(x["l1_chan"])
        _hangup(out, x["l1_chan"])
    return out.frames


def rejoin_frames(state: SimState, now: float, v: dict[str, str], x: dict[str, str]) -> list[bytes]:
    """Cancel, last: A goes back to C's bridge, C off hold."""
    out = Emitter(state, now)
    a, c = v["a_chan"], v["c_chan"]
    if a in state.channels:
        out.leave_bridge(a)
        if v["bridge"] in state.bridges:
            _enter(out, a, v["bridge"])
    if c in state.channels:
        _moh(out, c, False)
    return out.frames


def transferred_end_frames(
    state: SimState, now: float, v: dict[str, str], x: dict[str, str]
) -> list[bytes]:
    """The end of a completed transfer, C's side: C and ``;1`` leave, ``;1`` hangs up."""
    out = Emitter(state, now)
    for name in (x["l1_chan"], v["c_chan"]):
        if name in state.channels:
            out.leave_bridge(name)
    if x["l1_chan"] in state.channels:
        _hangup(out, x["l1_chan"])
    return out.frames


def customer_gone_steps(v: dict[str, str], t0: float, *, call: str = "") -> list[Step]:
    """C hangs up (its recorded teardown frames)."""
    return ivr_hangup_steps(v, t0, call=call)
