"""Script builders for the data-dip IVR that hands the call to ARI (Stasis).

Strategy: the call of ari_stasis_ivr.jsonl, cut into the segments
cti.sim.extract takes from it: ``stasis_a`` (the call arrives and enters
``Stasis(cti-ivr,lookup)``), ``stasis_answer`` (the application answers),
``stasis_b`` (Stasis returned: ``UserEvent IVRStep stasis-done`` with the
customer the application set, then ``Queue(support)``). The queue part is the
ordinary queue call (cti.sim.calls). What happens while the call is parked in
Stasis depends on the ARI application, so cti.sim.traffic decides it at run
time; the frames an application's request causes on AMI (VarSet, Hold, DTMF)
are built here from the channel's last snapshot, as Asterisk writes them.

Pure: ids and times in, steps out.
"""

from __future__ import annotations

from cti.sim.steps import Fields, Step, StepKind
from cti.sim.templates import render_segment

__all__ = [
    "STASIS_APP",
    "STASIS_ARGS",
    "STASIS_DNIS",
    "channel_frame",
    "snapshot_of",
    "stasis_answer_steps",
    "stasis_enter_steps",
    "stasis_resume_steps",
]

# asterisk-conf/extensions.conf: exten 18005550155 runs Stasis(cti-ivr,lookup)
STASIS_DNIS = "18005550155"
STASIS_APP = "cti-ivr"
STASIS_ARGS = ("lookup",)


def stasis_enter_steps(v: dict[str, str], t0: float, *, call: str = "") -> list[Step]:
    """Newchannel ... Newexten Stasis, VarSet STASISSTATUS= (empty)."""
    return render_segment("stasis_a", v, t0, call=call)


def stasis_answer_steps(v: dict[str, str], t0: float, *, call: str = "") -> list[Step]:
    """The application answers: Newstate Up, then the trunk device in use."""
    return render_segment("stasis_answer", v, t0, call=call)


def stasis_resume_steps(
    v: dict[str, str], t0: float, *, status: str, customer: str, call: str = ""
) -> list[Step]:
    """Stasis returned (`status` SUCCESS or FAILED): UserEvent, Queue(), QueueCallerJoin."""
    v["stasis_status"], v["customer"] = status, customer
    return render_segment("stasis_b", v, t0, call=call)


def snapshot_of(fields: Fields) -> Fields:
    """The channel snapshot headers (Channel ... Linkedid) of any event about it."""
    keys = [k for k, _ in fields]
    try:
        start, end = keys.index("Channel"), keys.index("Linkedid")
    except ValueError:
        raise ValueError("not a channel event") from None
    return fields[start : end + 1]


def channel_frame(
    at: float,
    name: str,
    privilege: str,
    snapshot: Fields,
    *extra: tuple[str, str],
    call: str = "",
) -> Step:
    """One event about a channel: Privilege, its snapshot, then `extra` headers."""
    return Step(at, StepKind.FRAME, name, (("Privilege", privilege), *snapshot, *extra), call=call)
