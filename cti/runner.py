"""Run the service's top coroutine on the event loop it ships with: uvloop.

Strategy: the CTI is one asyncio loop doing many small things (AMI reads,
WebSocket frames, database round trips through aiosqlite's thread); uvloop
(libuv, the loop uvicorn itself picks when it is installed) runs the same
code with less overhead per callback and per socket operation. Measured
side by side by benchmarks/queue_metrics.py and screen_pop_latency.py
(`--loop asyncio` for the peer). `CTI_LOOP=asyncio` falls back to the
standard loop, e.g. to rule the loop out when chasing a bug; any other value
is refused, so a typo is not silently ignored.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LOOPS", "LoopChoiceError", "loop_factory", "run"]

T = TypeVar("T")
LOOPS = ("uvloop", "asyncio")
# uvloop has no Windows build (pyproject.toml installs it everywhere else)
_DEFAULT = "asyncio" if sys.platform == "win32" else "uvloop"


class LoopChoiceError(ValueError):
    """CTI_LOOP names no loop we know."""


def loop_factory(name: str | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """The factory of loop `name` (default: $CTI_LOOP, else uvloop but on Windows)."""
    chosen = name if name is not None else os.environ.get("CTI_LOOP", _DEFAULT)
    if chosen == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    if chosen == "asyncio":
        return asyncio.new_event_loop
    raise LoopChoiceError(f"CTI_LOOP: expected one of {', '.join(LOOPS)}, got {chosen!r}")


def run(main: Coroutine[Any, Any, T], *, loop: str | None = None) -> T:
    """`asyncio.run(main)` on the chosen loop."""
    try:
        factory = loop_factory(loop)
    except BaseException:
        main.close()  # never awaited: say nothing about it
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
