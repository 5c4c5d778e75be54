"""Customer web chat load into the queue metrics: the web chat service's hook.

Strategy: `WebchatService.on_change` hears every stored change of a chat
(assigned, transferred, back to a queue, ended) and the open chats it reads
back after a restart; this turns each into the metrics' `ChatAssigned` /
`ChatReleased` (cti.metrics.chat_load) at the time it is heard, and tells the
supervisor feed which queues' boards changed (an agent's time switching
between idle and contact). Synchronous, like the engine's calls into the
metrics, so both keep one order on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from cti.chat.routing import WebchatState
from cti.metrics.chat_load import ChatLoadEvent, chat_load_event

__all__ = ["chat_load_hook"]


class _Metrics(Protocol):
    def apply(self, output: ChatLoadEvent) -> set[str]: ...


def chat_load_hook(
    metrics: _Metrics,
    changed: Callable[[set[str]], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[WebchatState], None]:
    """`WebchatService.on_change` feeding `metrics` (and `changed`, the board feed)."""

    def on_change(chat: WebchatState) -> None:
        queues = metrics.apply(chat_load_event(chat, clock()))
        if queues and changed is not None:
            changed(queues)

    return on_change
