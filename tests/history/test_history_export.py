"""CSV export: parse it back with the csv module, and no cell can start a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from cti.history import Disposition, HistoryEntry
from cti.history.export import COLUMNS, csv_chunks, safe_cell
from cti.ids import ChannelId, Interface, QueueName
from cti.model.outputs import IvrStep, RingAttempt, Transfer

AT = datetime(2025, 11, 28, 12, tzinfo=UTC)


def _entry(n: int, caller_name: str = "Grace", notes: str = "ok") -> HistoryEntry:
    return HistoryEntry(
        call_id=f"1764331200.{n}",
        caller_number="15551230001",
        caller_name=caller_name,
        dialed_number="18005550100",
        queue="support",
        agent="PJSIP/1002",
        outcome="answered",
        ivr_path=(IvrStep("welcome", (), 1.0), IvrStep("menu", (("Choice", "1"),), 2.0)),
        variables=(),
        account="23456",
        customer_id=42,
        started_at=AT,
        answered_at=AT,
        ended_at=AT,
        wait_seconds=24.5,
        talk_seconds=12.25,
        involved=("PJSIP/1001", "PJSIP/1002"),
        legs=(),
        ring_attempts=(
            RingAttempt(
                Interface("PJSIP/1001"), ChannelId("a"), QueueName("support"), 1, 7, "no_answer"
            ),
            RingAttempt(
                Interface("PJSIP/1002"), ChannelId("b"), QueueName("support"), 8, 9, "answered"
            ),
        ),
        transfers=(Transfer("blind", 20.0, Interface("PJSIP/1002"), None, "1003"),),
        disposition=Disposition(f"1764331200.{n}", "resolved", notes, "bob", AT),
    )


async def _aiter(entries: list[HistoryEntry]) -> AsyncIterator[HistoryEntry]:
    for entry in entries:
        yield entry


async def _text(entries: list[HistoryEntry], per_chunk: int = 200) -> str:
    return "".join([chunk async for chunk in csv_chunks(_aiter(entries), per_chunk)])


async def test_rows_parse_back() -> None:
    notes = 'said "hi",\nthen left'  # quotes, a comma and a newline survive
    text = await _text([_entry(1, notes=notes), _entry(2)], per_chunk=1)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(COLUMNS)
    assert [r["call_id"] for r in rows] == ["1764331200.1", "1764331200.2"]
    first = rows[0]
    assert first["notes"] == notes
    assert first["disposition"] == "resolved"
    assert first["ring_attempts"] == "PJSIP/1001:no_answer PJSIP/1002:answered"
    assert first["ring_no_answers"] == "1"
    assert first["transfers"] == "blind:PJSIP/1002>1003"
    assert first["ivr_path"] == "welcome > menu"
    assert first["started_at"] == AT.isoformat()
    assert float(first["talk_seconds"]) == 12.25


@pytest.mark.parametrize("evil", ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1"])
async def test_formula_cells_are_quoted(evil: str) -> None:
    text = await _text([_entry(1, caller_name=evil, notes=evil)])
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["caller_name"] == "'" + evil
    assert row["notes"] == "'" + evil
    for cell in row.values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_safe_cell_leaves_ordinary_values() -> None:
    assert safe_cell("Grace O'Neil") == "Grace O'Neil"
    assert safe_cell(None) == ""
    assert safe_cell(3.5) == "3.5"
