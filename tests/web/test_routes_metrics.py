"""GET /api/queues/metrics and /api/queues/{queue}/metrics: who may, and what they show.

The app is the real one over a real `QueueMetrics`, fed model outputs stamped
with the current time (a board is computed at request time).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from access_policy import ACCESS
from web_fakes import ADA, ALICE, SETTINGS, SUE, FakeState, FakeUsers

from cti.ids import CallId, Interface, QueueName
from cti.metrics import QueueMetrics, QueueMetricsConfig
from cti.model.outputs import AgentStateChanged, CallEnded, QueueUpdated
from cti.web.app import create_app
from cti.web.auth import TokenAuth
from cti.web.hub import Hub
from cti.web.ports import User

AUTH = TokenAuth(FakeUsers(), SETTINGS)
ROUTES = ("/api/queues/metrics", "/api/queues/support/metrics")


def _ended(call: str, outcome: str, at: float, wait: float) -> CallEnded:
    return CallEnded(
        call_id=CallId(call),
        outcome=outcome,
        caller_number="15551230001",
        caller_name="",
        dialed_number="18005550100",
        queue=QueueName("support"),
        answered_by=Interface("PJSIP/1001") if outcome == "answered" else None,
        parties=(),
        recipients=(),
        ivr_path=(),
        variables=(),
        account=None,
        started_at=at - 60,
        answered_at=at - 30 if outcome == "answered" else None,
        ended_at=at,
        wait_seconds=wait,
        talk_seconds=30.0 if outcome == "answered" else None,
    )


def fed_metrics() -> QueueMetrics:
    metrics = QueueMetrics({"support": QueueMetricsConfig(sl_seconds=10)})
    now = time.time() - 1
    metrics.apply(
        AgentStateChanged(
            Interface("PJSIP/1001"), "Alice", "paused", "lunch", (QueueName("support"),), now, now
        )
    )
    metrics.apply(_ended("c1", "answered", now, wait=8.0))
    metrics.apply(_ended("c2", "abandoned", now, wait=30.0))
    metrics.apply(QueueUpdated(QueueName("sales"), 1, now - 12, (), now))
    return metrics


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        users=FakeUsers(), state=FakeState(), hub=Hub(), settings=SETTINGS, metrics=fed_metrics()
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cti") as client:
        yield client


def auth(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {AUTH.issue(user).token}"}


@pytest.mark.parametrize("path", ROUTES)
async def test_agents_are_refused_and_anonymous_users_unauthorized(
    http: httpx.AsyncClient, path: str
) -> None:
    assert (await http.get(path)).status_code == 401
    refused = await http.get(path, headers=auth(ALICE))
    assert refused.status_code == 403
    assert "supervisors and admins" in refused.json()["detail"]


@pytest.mark.parametrize("user", [SUE, ADA])
async def test_supervisors_and_admins_read_every_board(http: httpx.AsyncClient, user: User) -> None:
    response = await http.get("/api/queues/metrics", headers=auth(user))
    assert response.status_code == 200
    boards = response.json()
    assert [b["queue"] for b in boards] == ["sales", "support"]
    assert all(b["type"] == "queue_board" for b in boards)
    sales, support = boards
    assert sales["waiting"] == 1
    assert sales["longest_wait_seconds"] >= 12
    today = support["today"]
    assert (today["offered"], today["answered"], today["abandoned"]) == (2, 1, 1)
    assert today["service_level"] == 50.0  # answered within 10 s / offered
    assert today["asa_seconds"] == 8.0
    assert support["definition"]["service_level"]["threshold_seconds"] == 10.0
    assert support["agents"]["paused"] == 1
    assert support["pause_reasons"] == {"lunch": 1}


async def test_one_board_and_an_unknown_queue(http: httpx.AsyncClient) -> None:
    one = await http.get("/api/queues/support/metrics", headers=auth(SUE))
    assert one.status_code == 200
    assert one.json()["last_15_min"]["offered"] == 2
    missing = await http.get("/api/queues/nope/metrics", headers=auth(SUE))
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]


async def test_without_metrics_the_routes_answer_503() -> None:
    app = create_app(users=FakeUsers(), state=FakeState(), hub=Hub(), settings=SETTINGS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cti") as client:
        response = await client.get("/api/queues/metrics", headers=auth(ADA))
    assert response.status_code == 503


def test_the_access_table_lists_the_metric_routes() -> None:
    for path in ("/api/queues/metrics", "/api/queues/{queue}/metrics"):
        assert ACCESS[("GET", path)].roles == frozenset({"supervisor", "admin"})


async def test_the_schema_carries_every_field_of_the_board(http: httpx.AsyncClient) -> None:
    got = (await http.get("/api/queues/support/metrics", headers=auth(ADA))).json()
    board = fed_metrics().board("support", time.time()).to_json()
    assert set(got) == set(board)
    assert set(got["today"]) == set(board["today"])
    assert got["definition"] == board["definition"]
