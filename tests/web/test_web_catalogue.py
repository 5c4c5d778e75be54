"""docs/events.md is generated: it must equal the generator's output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cti.model.outputs import AgentStateChanged, CallAnswered, CallEnded, QueueUpdated, ScreenPop
from cti.web.catalogue import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_events_doc_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/events.md is stale: run `python -m cti.web.catalogue > docs/events.md`"
    )


def test_every_event_type_is_documented_with_an_example() -> None:
    text = render()
    types = ["hello", "resync"] + [
        cls.type for cls in (ScreenPop, CallAnswered, CallEnded, AgentStateChanged, QueueUpdated)
    ]
    for name in types:
        assert f"\n### {name}\n" in text
        assert f'"type": "{name}"' in text


def test_module_entry_point_prints_the_catalogue() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cti.web.catalogue"],
        capture_output=True,
        check=True,
        encoding="utf-8",
        cwd=DOC.parents[1],
    )
    assert result.stdout == render()
