"""`cti replay`: the console script on the recorded traces, JSONL and raw AMI wire text."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_tools import TRACES

from cti.cli import main

QUEUE_ANSWERED = TRACES / "queue_answered.jsonl"
CTI = Path(sys.executable).parent / "cti"  # the console script of this virtualenv

# Times differ by design between the formats: a JSONL trace carries its own
# clock, raw AMI text gets a virtual one (cti/replay.py, VIRTUAL_STEP).
TIME_KEYS = frozenset(
    {
        "at",
        "started_at",
        "answered_at",
        "ended_at",
        "longest_wait_since",
        "since",
        "duration_seconds",
        "waited_seconds",
        "wait_seconds",
        "talk_seconds",
        "rang_at",  # call history: ring attempts
    }
)


def without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("<time>" if k in TIME_KEYS and v is not None else without_times(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CTI), *args], capture_output=True, text=True, timeout=30, check=False
    )


def wire_text(trace: Path, out: Path) -> Path:
    """The byte stream the recorder's AMI client saw: every `raw` of the trace, in order."""
    with trace.open(encoding="utf-8") as lines, out.open("w", encoding="utf-8", newline="") as f:
        for line in lines:
            record = json.loads(line)
            if record["src"] == "ami":
                f.write(record["raw"])
    return out


def lines_of(stdout: str) -> list[dict[str, Any]]:
    out = [json.loads(line) for line in stdout.splitlines()]
    assert all(isinstance(x, dict) for x in out)
    return out


@pytest.fixture(autouse=True)
def keep_root_logging() -> Iterator[None]:
    """`main()` calls logging.basicConfig, whose handler would outlive capsys's stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="module")
def jsonl_lines() -> list[dict[str, Any]]:
    result = run_cli("replay", str(QUEUE_ANSWERED))
    assert result.returncode == 0, result.stderr
    return lines_of(result.stdout)


def test_console_script_prints_one_screen_pop_for_alice(jsonl_lines: list[dict[str, Any]]) -> None:
    pops = [x for x in jsonl_lines if x["type"] == "screen_pop"]
    assert len(pops) == 1
    (pop,) = pops
    assert pop["interface"] == "PJSIP/1001"
    assert pop["caller_number"] == "15551230001"
    assert pop["queue"] == "support"
    assert pop["account"] == "23456"
    ended = [x for x in jsonl_lines if x["type"] == "call_ended"]
    assert len(ended) == 1
    assert ended[0]["answered_by"] == "PJSIP/1001"
    # the pop comes before its call's updates
    kinds = [x["type"] for x in jsonl_lines]
    assert kinds.index("screen_pop") < kinds.index("call_answered") < kinds.index("call_ended")


def test_output_is_deterministic(jsonl_lines: list[dict[str, Any]]) -> None:
    again = run_cli("replay", str(QUEUE_ANSWERED))
    assert lines_of(again.stdout) == jsonl_lines


def test_raw_ami_text_gives_the_same_lines(
    jsonl_lines: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wire = wire_text(QUEUE_ANSWERED, tmp_path / "queue_answered.ami")
    assert main(["replay", "--format", "ami", str(wire)]) == 0
    ami_lines = lines_of(capsys.readouterr().out)
    assert [x["type"] for x in ami_lines] == [x["type"] for x in jsonl_lines]
    assert without_times(_not_boards(ami_lines)) == without_times(_not_boards(jsonl_lines))
    # queue boards: the same counts; their waits and rates come from the clock
    assert _board_counts(ami_lines) == _board_counts(jsonl_lines)


def _not_boards(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [x for x in lines if x["type"] != "queue_board"]


def _board_counts(lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (b["queue"], b["waiting"], b["agents"], b["today"]["offered"], b["today"]["answered"])
        for b in lines
        if b["type"] == "queue_board"
    ]


def test_in_process_main_matches_the_console_script(
    jsonl_lines: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(QUEUE_ANSWERED)]) == 0
    assert lines_of(capsys.readouterr().out) == jsonl_lines


def test_a_missing_file_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = run_cli("replay", str(missing))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "no such file" in result.stderr
    assert str(missing) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("trace", "interfaces"),
    [
        ("queue_ringnoanswer.jsonl", ["PJSIP/1001", "PJSIP/1001", "PJSIP/1002"]),
        ("queue_abandon.jsonl", ["PJSIP/1001"]),
    ],
)
def test_other_queue_traces_pop_who_really_rang(
    trace: str, interfaces: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(TRACES / trace)]) == 0
    out = lines_of(capsys.readouterr().out)
    assert [x["interface"] for x in out if x["type"] == "screen_pop"] == interfaces
