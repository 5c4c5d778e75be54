"""What a call script is made of: timed steps, and how a frame is written.

Strategy: a script is a plain list of `Step`s built by pure functions
(cti.sim.calls). Most steps are complete events (`StepKind.FRAME`). A few can
only be written against the live state of the fake Asterisk at the moment
they are due, exactly as Asterisk itself computes them then: queue positions,
a member's counters, device states that are only reported when they change.
Those carry a kind and a key, and `cti.sim.state.SimState.emit` expands them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

__all__ = ["Fields", "Step", "StepKind", "render_frame", "render_response"]

Fields = tuple[tuple[str, str], ...]


class StepKind(enum.Enum):
    FRAME = "frame"  # a finished event
    QUEUE = "queue"  # an event whose {position}/{count}/{orig_position} come from the queue
    MEMBER = "member"  # key=interface, value=status: QueueMemberStatus per queue + _avail
    DEVICE = "device"  # key=device, value=state: DeviceStateChange if it changed
    QUEUE_DEVICE = "queue_device"  # key=queue, value="+1"/"-1": the Queue:<q> device


class Step(NamedTuple):
    """One timed step of a script.

    A NamedTuple rather than a frozen dataclass: a busy simulator builds some
    5,000 per second, and a frozen dataclass is 2.5x slower to construct.
    """

    at: float  # seconds on the simulator's timeline
    kind: StepKind
    name: str  # event name
    fields: Fields  # headers after the Event line (Privilege first, as Asterisk)
    key: str = ""
    value: str = ""
    call: str = ""  # the call this step belongs to ("" for none)
    # Lazily rendered FRAME: the whole frame is one format string applied to
    # `env` (the call's variables when the step was built); `fields` is then
    # only computed when the state needs the headers. Keeps 50 calls/s cheap.
    fmt: str = ""
    env: Mapping[str, str] | None = None
    headers: Callable[[Mapping[str, str]], Fields] | None = None

    def get_fields(self) -> Fields:
        if self.headers is not None and self.env is not None:
            return self.headers(self.env)
        return self.fields

    def raw(self) -> bytes:
        if self.env is not None:
            return self.fmt.format_map(self.env).encode("utf-8")
        return render_frame(self.name, self.fields)


def render_frame(name: str, fields: Sequence[tuple[str, str]]) -> bytes:
    """One event frame, as Asterisk writes it."""
    parts = ["Event: ", name, "\r\n"]
    for key, value in fields:
        parts += (key, ": ", value, "\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def render_response(status: str, action_id: str | None, *fields: tuple[str, str]) -> bytes:
    """A Response frame: the ActionID line only when the action carried one."""
    parts = ["Response: ", status, "\r\n"]
    if action_id is not None:
        parts += ("ActionID: ", action_id, "\r\n")
    for key, value in fields:
        parts += (key, ": ", value, "\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")
