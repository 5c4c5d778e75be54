"""Queue metrics from the recorded traces (README of the traces: what really happened).

Each trace goes through the real codec, model and `QueueMetrics`; the expected
figures come from Asterisk's own events in the same trace (QueueCallerAbandon,
AgentConnect, AgentRingNoAnswer), not from the metrics code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from metrics_tools import ami_events, replay_metrics
from trace_paths import TRACES

from cti.metrics import QueueMetrics, QueueMetricsConfig
from cti.model.outputs import CallEnded

CTI = Path(sys.executable).parent / "cti"


def test_queue_abandon_counts_one_abandoned_call() -> None:
    run = replay_metrics("queue_abandon")
    ((_, abandon),) = ami_events("queue_abandon", "QueueCallerAbandon")
    held = float(abandon["HoldTime"])  # whole seconds, as app_queue counts them
    today = run.metrics.board("support", run.last).today
    assert (today.offered, today.abandoned, today.answered, today.unanswered) == (1, 1, 0, 0)
    # 1 s of hold: a short abandon (< 5 s) and within the 20 s threshold
    assert held < 5
    assert (today.short_abandoned, today.abandoned_within_sl) == (1, 1)
    assert today.abandon_rate == 100.0
    assert today.abandon_rate_excl_short is None  # nothing left once short abandons go
    assert today.asa_seconds is None
    assert today.aht_seconds is None
    # default formula: answered within T / offered -> the abandon costs the SL
    assert today.service_level == 0.0


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("answered_offered", 0.0),  # the abandon is offered and not answered
        ("abandons_excluded", None),  # no call left to judge
        ("short_abandons_excluded", None),  # it was a short abandon: excluded
        ("answered_abandoned", 0.0),  # Genesys: answered + abandoned
        ("left_within", 100.0),  # Amazon Connect: it left the queue within T
    ],
)
def test_queue_abandon_service_level_by_formula(formula: str, expected: float | None) -> None:
    metrics = QueueMetrics({"support": QueueMetricsConfig(formula=formula)})
    run = replay_metrics("queue_abandon", metrics)
    board = run.metrics.board("support", run.last)
    assert board.today.service_level == expected
    assert board.to_json()["definition"]["service_level"]["formula"] == formula


def test_queue_abandon_with_a_zero_short_threshold_is_a_real_abandon() -> None:
    metrics = QueueMetrics({"support": QueueMetricsConfig(short_abandon_seconds=0)})
    run = replay_metrics("queue_abandon", metrics)
    today = run.metrics.board("support", run.last).today
    assert today.short_abandoned == 0
    assert today.abandon_rate_excl_short == 100.0


def test_queue_ringnoanswer_counts_two_for_alice() -> None:
    run = replay_metrics("queue_ringnoanswer")
    rna = ami_events("queue_ringnoanswer", "AgentRingNoAnswer")
    assert [f["Interface"] for _, f in rna] == ["PJSIP/1001", "PJSIP/1001"]
    today = run.metrics.board("support", run.last).today
    assert today.ring_no_answer == 2
    assert dict(today.ring_no_answer_by_agent) == {"PJSIP/1001": 2}
    assert (today.offered, today.answered, today.abandoned) == (1, 1, 0)
    # the caller waited through both ring-no-answers: 2 x 6 s of ringing at least
    ((joined, _),) = ami_events("queue_ringnoanswer", "QueueCallerJoin")
    ((connected, connect),) = ami_events("queue_ringnoanswer", "AgentConnect")
    held = float(connect["HoldTime"])  # whole seconds, truncated clock: within 1 s
    assert held >= 12
    assert today.asa_seconds is not None
    assert abs(today.asa_seconds - held) < 1
    assert today.asa_seconds == pytest.approx(connected - joined, abs=0.05)
    assert today.service_level == 100.0  # answered within 20 s


def test_queue_ringnoanswer_shows_bobs_break_then_no_pause() -> None:
    lines = _cli_lines("queue_ringnoanswer.jsonl")
    boards = [x for x in lines if x["type"] == "queue_board" and x["queue"] == "support"]
    reasons = [b["pause_reasons"] for b in boards]
    assert {"break": 1} in reasons
    assert reasons[-1] == {}
    assert boards[-1]["agents"]["paused"] == 0
    assert boards[-1]["today"]["ring_no_answer_by_agent"] == {"PJSIP/1001": 2}


def test_queue_answered_asa_is_the_wait() -> None:
    run = replay_metrics("queue_answered")
    (call,) = run.of_type(CallEnded)
    assert isinstance(call, CallEnded)
    assert call.wait_seconds is not None
    ((joined, _),) = ami_events("queue_answered", "QueueCallerJoin")
    ((connected, connect),) = ami_events("queue_answered", "AgentConnect")
    held = float(connect["HoldTime"])
    today = run.metrics.board("support", run.last).today
    assert (today.offered, today.answered, today.handled) == (1, 1, 1)
    assert today.asa_seconds == call.wait_seconds
    assert abs(call.wait_seconds - held) < 1
    assert call.wait_seconds == pytest.approx(connected - joined, abs=0.05)
    assert today.aht_seconds == call.talk_seconds  # no wrap-up configured, no hold known
    assert today.service_level == 100.0
    # Alice's ~2 s on the call is contact time in support
    assert call.talk_seconds is not None
    assert today.contact_seconds == pytest.approx(call.talk_seconds, abs=0.01)


def _cli_lines(trace: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(CTI), "replay", str(TRACES / trace)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_cti_replay_prints_boards_deterministically_at_trace_times() -> None:
    first = _cli_lines("queue_answered.jsonl")
    assert first == _cli_lines("queue_answered.jsonl")
    boards = [x for x in first if x["type"] == "queue_board"]
    assert boards
    assert all(b["queue"] == "support" for b in boards)
    ended = next(x for x in first if x["type"] == "call_ended")
    # the board right after the call's end, at the trace's time of that end
    after = first[first.index(ended) + 1]
    assert after["type"] == "queue_board"
    assert after["at"] == ended["ended_at"]
    assert after["today"]["answered"] == 1
    assert after["definition"]["service_level"] == {
        "formula": "answered_offered",
        "text": "answered within T / offered",
        "threshold_seconds": 20.0,
    }
    # before the end nothing was counted: a call counts once, when it ends
    assert all(b["today"]["offered"] == 0 for b in boards[: boards.index(after)])
