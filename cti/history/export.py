"""CSV export of history entries: one row per call, safe to open in a spreadsheet.

Strategy: a fixed column list, one formatting function per row, and a
generator yielding the CSV text in chunks so a large export is streamed, never
built whole. A cell a spreadsheet would take for a formula (starting with
= + - @, or a tab / carriage return) gets a leading apostrophe (OWASP "CSV
injection"): caller names and notes come from outside.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from cti.history.core import HistoryEntry

__all__ = ["COLUMNS", "csv_chunks", "csv_row", "safe_cell"]

COLUMNS = (
    "call_id",
    "started_at",
    "answered_at",
    "ended_at",
    "caller_number",
    "caller_name",
    "dialed_number",
    "queue",
    "agent",
    "outcome",
    "wait_seconds",
    "talk_seconds",
    "ring_attempts",
    "ring_no_answers",
    "transfers",
    "ivr_path",
    "account",
    "customer_id",
    "disposition",
    "notes",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_row(entry: HistoryEntry) -> list[str]:
    disposition = entry.disposition
    values: list[Any] = [
        entry.call_id,
        entry.started_at.isoformat(),
        entry.answered_at.isoformat() if entry.answered_at else None,
        entry.ended_at.isoformat(),
        entry.caller_number,
        entry.caller_name,
        entry.dialed_number,
        entry.queue,
        entry.agent,
        entry.outcome,
        entry.wait_seconds,
        entry.talk_seconds,
        " ".join(f"{r.interface}:{r.result}" for r in entry.ring_attempts),
        sum(1 for r in entry.ring_attempts if r.result == "no_answer"),
        " ".join(
            f"{t.kind}:{t.from_interface or ''}>{t.to_interface or t.to_extension or ''}"
            for t in entry.transfers
        ),
        " > ".join(s.step for s in entry.ivr_path),
        entry.account,
        entry.customer_id,
        disposition.code if disposition else None,
        disposition.notes if disposition else None,
    ]
    return [safe_cell(v) for v in values]


async def csv_chunks(
    entries: AsyncIterable[HistoryEntry], rows_per_chunk: int = 200
) -> AsyncIterator[str]:
    """The header, then the rows, `rows_per_chunk` at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    count = 0
    async for entry in entries:
        writer.writerow(csv_row(entry))
        count += 1
        if count % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
