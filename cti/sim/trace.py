"""Reading the AMI side of a recorded jsonl trace, for replay.

Strategy: a trace holds what one client saw after connecting and logging in.
Replaying it to a client of the fake Asterisk, which sends its own banner and
login answer, means leaving out the recorded banner, the login Response and
the FullyBooted/SuccessfulAuth that followed it; everything else (including
SuccessfulAuth of other sessions and list responses) is kept in order, with
its time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TraceFrame", "read_trace"]


@dataclass(frozen=True, slots=True)
class TraceFrame:
    t: float  # seconds since the recorder started
    raw: bytes  # the frame as it came off the socket, blank line included


def read_trace(path: Path | str) -> list[TraceFrame]:
    """The AMI frames of a trace to send after our own login answer."""
    frames: list[TraceFrame] = []
    skip_after_login = {"FullyBooted", "SuccessfulAuth"}
    in_login = False
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            if obj.get("src") != "ami":
                continue
            raw: str = obj["raw"]
            if not raw.endswith("\r\n\r\n"):
                continue  # the banner line
            head = raw.split("\r\n", 2)
            if head[0] == "Response: Success" and head[1].startswith("ActionID: login"):
                in_login = True
                continue
            if in_login:
                name = head[0].removeprefix("Event: ")
                if name in skip_after_login:
                    skip_after_login.discard(name)
                    continue
                in_login = False
            frames.append(TraceFrame(float(obj["t"]), raw.encode("utf-8")))
    return frames
