"""The live model as the history service needs it: a call still up, an agent's queues.

Strategy: two small closures over `Model` views, so the service (and its
tests) depend on plain callables, not on the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cti.history.service import LiveCall
from cti.ids import CallId
from cti.model.model import Model

__all__ = ["live_call_of", "member_queues_of"]


def live_call_of(model: Model) -> Callable[[str], LiveCall | None]:
    def live_call(call_id: str) -> LiveCall | None:
        view = model.call(CallId(call_id))
        if view is None:
            return None
        found: dict[str, None] = {}
        for interface in (view.answered_by, *view.recipients):
            if interface:
                found[interface] = None
        for channel in view.channels:
            if channel.interface:
                found[channel.interface] = None
        return LiveCall(view.queue, tuple(found))

    return live_call


def member_queues_of(model: Model) -> Callable[[str], Sequence[str]]:
    def member_queues(interface: str) -> Sequence[str]:
        view = model.agent(interface)
        return view.queues if view is not None else ()

    return member_queues
