"""Live queue metrics over REST: the queue boards of cti/metrics, as snapshots.

Strategy: thin routes over the pure `QueueMetrics` the engine feeds; a board
is computed at request time (`clock()`), so its waits and sliding windows are
current even when no event arrived. The same boards are pushed over the
WebSocket by the supervisor feed. JSON shape: `QueueBoard.to_json()`, with
every formula in docs/metrics.md.

    GET /api/queues/metrics            every queue's board, by queue name
    GET /api/queues/{queue}/metrics    one queue's board (404 if never seen)

Who may: supervisors and admins (agents: 403). A supervisor sees the boards
of their own queues only (cti.web.scope; another queue's board: 403).
"""

# No `from __future__ import annotations`: FastAPI evaluates the route annotations.
import time
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from cti.metrics import QueueBoard, QueueMetrics
from cti.web.ports import User
from cti.web.scope import Scope

__all__ = ["METRICS_ROLES", "QueueBoardSchema", "WindowSchema", "metrics_router"]


class WindowSchema(BaseModel):
    """Counters and figures over one window (docs/metrics.md has every formula)."""

    since: float = Field(description="start of the window, epoch seconds")
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    unanswered: int = Field(description="left the queue unanswered, not by abandoning")
    answered_within_sl: int
    abandoned_within_sl: int
    handled: int = Field(description="answered calls whose hang-up was seen")
    ring_no_answer: int
    lost_by_resync: int = Field(description="unanswered calls found gone by a resync")
    service_level: float | None = Field(description="percent, with the queue's formula and T")
    asa_seconds: float | None
    aht_seconds: float | None = Field(description="(talk + wrap-up) / handled")
    avg_talk_seconds: float | None
    avg_wrap_up_seconds: float | None
    abandon_rate: float | None = Field(description="percent: abandoned / offered")
    abandon_rate_excl_short: float | None
    occupancy: float | None = Field(description="percent: contact / (contact + idle)")
    contact_seconds: float
    idle_seconds: float
    ring_no_answer_by_agent: dict[str, int]


class QueueBoardSchema(BaseModel):
    """A queue's live board (`QueueBoard.to_json()`), as pushed over the WebSocket."""

    type: str = Field(description='always "queue_board"')
    queue: str
    at: float = Field(description="when the board was computed, epoch seconds")
    definition: dict[str, Any] = Field(
        description="service level formula, its text and T; short-abandon threshold; "
        "reset time and timezone of today"
    )
    waiting: int
    longest_wait_seconds: float | None
    agents: dict[str, int] = Field(description="members by state, every state listed")
    pause_reasons: dict[str, int]
    today: WindowSchema
    last_15_min: WindowSchema
    last_60_min: WindowSchema

    @classmethod
    def of(cls, board: QueueBoard) -> "QueueBoardSchema":
        return cls.model_validate(board.to_json())


METRICS_ROLES = frozenset({"supervisor", "admin"})
_TAGS: list[str | Enum] = ["queue metrics"]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid or expired token"},
    403: {"description": "agents may not read queue metrics"},
    503: {"description": "queue metrics are not running"},
}
QueuePath = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[^/\s]+$", description="a queue name")
]


def metrics_router(
    current_user: Any,
    metrics: QueueMetrics | None,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    router = APIRouter(prefix="/api/queues", tags=_TAGS)
    Me = Annotated[User, current_user]  # noqa: N806 (a type alias)

    def allowed(user: User) -> QueueMetrics:
        if user.role not in METRICS_ROLES:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="supervisors and admins only")
        if metrics is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "queue metrics not running")
        return metrics

    @router.get("/metrics", responses=_ERRORS)
    async def all_boards(user: Me) -> list[QueueBoardSchema]:
        """Every queue's board (type `queue_board`), sorted by queue name."""
        found = allowed(user)
        now = clock()
        scope = Scope.of(user)
        return [QueueBoardSchema.of(b) for b in found.boards(now) if scope.sees_queue(b.queue)]

    @router.get(
        "/{queue}/metrics",
        responses={**_ERRORS, 404: {"description": "no such queue"}},
    )
    async def one_board(user: Me, queue: QueuePath) -> QueueBoardSchema:
        """One queue's board: calls waiting, longest wait, agents by state, and the
        counters of today and of the last 15 and 60 minutes."""
        found = allowed(user)
        if queue not in found.queues():
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no queue {queue!r}")
        if not Scope.of(user).sees_queue(queue):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"not one of your queues: {queue}")
        return QueueBoardSchema.of(found.board(queue, clock()))

    return router
