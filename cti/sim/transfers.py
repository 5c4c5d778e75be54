"""Script builders for a blind transfer of an answered queue call.

No trace records a transfer, so the legs are assembled from recorded frames
and follow Asterisk 22's behaviour (manager.c action_blind_transfer ->
bridge.c ast_bridge_transfer_blind on a two-party basic bridge):

1. the BlindTransfer event (written by cti.sim.control_actions with the
   action's Response; its field list is the documented one, no recording);
2. app_queue sees the transfer: AgentComplete with Reason ``transfer``;
3. the transferer (the agent leg A) is hung up and the transferee (the
   customer C) leaves the bridge, which is destroyed: A's own frames of the
   recorded ``hangup_agent`` segment (media stats, HangupRequest, BridgeLeave,
   Hangup cause 16, device NOT_INUSE, member status) plus C's BridgeLeave and
   the BridgeDestroy;
4. C runs the dialplan at Context/Exten (``from-agents``, ``_1XXX`` dials
   ``PJSIP/${EXTEN}``): the frames of ``internal_dial`` where the calling
   agent is replaced by C (C keeps its channel, Uniqueid and Linkedid, so the
   new leg B gets C's Linkedid; C's own Newchannel and device frames are left
   out, and its frames say Up, as C is answered);
5. B answers after `ring_time` (``internal_answer``: DialEnd ANSWER, a new
   bridge, BridgeEnter of both) and the call ends after `talk_time`
   (``internal_hangup``: both legs hang up; the trunk device goes
   UNAVAILABLE as in every recorded inbound call's end).

An extension the context does not have is not refused by Asterisk (neither
manager.c nor ast_bridge_transfer_blind checks it): the transfer succeeds and
C, sent to an invalid extension with no ``i`` handler, hangs up
(`invalid_extension_steps`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from cti.sim.calls import AgentConfig, IdAllocator, ivr_hangup_steps
from cti.sim.steps import Step, StepKind
from cti.sim.templates import TemplateFrame, render_segment

__all__ = [
    "AGENT_EXTENSION",
    "invalid_extension_steps",
    "target_answer_steps",
    "target_dial_steps",
    "transfer_vars",
    "transferer_leaves_steps",
    "transferred_hangup_steps",
]

# The lab's from-agents context: exten _1XXX dials PJSIP/${EXTEN}.
AGENT_EXTENSION = re.compile(r"1\d{3}")

_TRANSFERER_KEEP = frozenset({"AgentComplete", "BridgeLeave", "BridgeDestroy"})
_BRIDGE_VARS = frozenset({"BRIDGEPEER", "BRIDGEPVTCALLID"})


def _ms(x: float) -> str:
    return str(int(x * 1000 + 1e-3))


def _secs(x: float) -> str:
    return str(int(x + 1e-6))


def transferer_leaves_steps(
    v: dict[str, str], t0: float, *, talk: float, dialed: float, call: str = ""
) -> list[Step]:
    """AgentComplete (Reason transfer), A hung up, C out of the destroyed bridge."""
    v.update(talk=_secs(talk), talk_ms=_ms(talk), dialed=_secs(dialed), dialed_ms=_ms(dialed))

    def keep(frame: TemplateFrame) -> bool:
        if frame.role == "a" or frame.name in _TRANSFERER_KEEP:
            return True
        return frame.name == "VarSet" and frame.get("Variable") in _BRIDGE_VARS

    steps = render_segment("hangup_agent", v, t0, call=call, keep=keep)
    return [_edit(s, Reason="transfer") if s.name == "AgentComplete" else s for s in steps]


def transfer_vars(
    v: dict[str, str], target: AgentConfig, ids: IdAllocator, at: float
) -> dict[str, str]:
    """The context of the transferred leg: C in the calling role, B dialled."""
    b_chan, b_uid = ids.channel(target.interface, at)
    return {
        "a_chan": v["c_chan"],
        "a_uid": v["c_uid"],
        "a_num": v["c_num"],
        "a_name": v["c_name"],
        "a_iface": v["trunk"],
        "a_callid": v["c_callid"],
        "c_cl_num": v.get("c_cl_num", "<unknown>"),
        "c_cl_name": v.get("c_cl_name", "<unknown>"),
        "b_chan": b_chan,
        "b_uid": b_uid,
        "b_num": target.number,
        "b_name": target.name,
        "b_iface": target.interface,
        "b_callid": ids.sip_callid(),
        "ring": "0",
        "ring_ms": "0",
        "bridge": ids.bridge(),
    }


def target_dial_steps(x: dict[str, str], t0: float, *, call: str = "") -> list[Step]:
    """C runs from-agents/<exten>: NoOp, Dial, B's Newchannel, DialBegin, ringing."""
    steps = render_segment("internal_dial", x, t0, call=call)
    return _as_transferee(x, steps, skip=("Newchannel",), skip_vars=("SIPDOMAIN",))


def target_answer_steps(x: dict[str, str], t0: float, *, ring: float, call: str = "") -> list[Step]:
    """B answers: DialEnd ANSWER, BridgeCreate, BridgeEnter of B and C."""
    x.update(ring=_secs(ring), ring_ms=_ms(ring))
    steps = render_segment("internal_answer", x, t0, call=call)
    return _as_transferee(x, steps, skip=("Newstate",))


def transferred_hangup_steps(
    x: dict[str, str], t0: float, *, talk: float, dialed: float, call: str = ""
) -> list[Step]:
    """The transferred call ends: both legs hang up, devices idle."""
    x.update(talk=_secs(talk), talk_ms=_ms(talk), dialed=_secs(dialed), dialed_ms=_ms(dialed))
    steps = render_segment("internal_hangup", x, t0, call=call)
    out = _as_transferee(x, steps)
    trunk = Step(
        out[-1].at,
        StepKind.DEVICE,
        "DeviceStateChange",
        (("Privilege", "call,all"), ("Device", x["a_iface"]), ("State", "UNAVAILABLE")),
        key=x["a_iface"],
        value="UNAVAILABLE",
        call=call,
    )
    return [*out, trunk]


def invalid_extension_steps(v: dict[str, str], t0: float, *, call: str = "") -> list[Step]:
    """C was sent to an extension that does not exist: it hangs up (cause 16)."""
    return ivr_hangup_steps(v, t0, call=call)


def _channel(step: Step) -> str:
    for k, value in step.get_fields():
        if k == "Channel":
            return value
    return ""


def _edit(step: Step, **values: str) -> Step:
    fields = tuple((k, values.get(k, v)) for k, v in step.get_fields())
    return Step(step.at, StepKind.FRAME, step.name, fields, call=step.call)


def _as_transferee(
    x: dict[str, str],
    steps: Iterable[Step],
    *,
    skip: tuple[str, ...] = (),
    skip_vars: tuple[str, ...] = (),
) -> list[Step]:
    """Frames of the recorded calling agent, rewritten for the customer leg C.

    C is Up and was connected to the transferer: its frames say so. C's
    device (the trunk) and member status frames are dropped (it is not a
    queue member, and the trunk stays in use).
    """
    out: list[Step] = []
    c_chan, trunk = x["a_chan"], x["a_iface"]
    for step in steps:
        if step.kind is not StepKind.FRAME:
            if step.key != trunk:
                out.append(step)
            continue
        if _channel(step) != c_chan:
            out.append(step)
            continue
        if step.name in skip:
            continue
        fields = dict(step.get_fields())
        if step.name == "VarSet" and fields.get("Variable") in skip_vars:
            continue
        edits = {"ChannelState": "6", "ChannelStateDesc": "Up"}
        if fields.get("ConnectedLineNum") == "<unknown>":
            edits.update(ConnectedLineNum=x["c_cl_num"], ConnectedLineName=x["c_cl_name"])
        out.append(_edit(step, **edits))
    return out
