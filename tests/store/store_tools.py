"""Builders for store tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cti.ids import CallId, Interface, QueueName
from cti.model.outputs import CallEnded, IvrStep

T0 = 1_764_331_200.25  # 2025-11-28T12:00:00.25Z


def call_ended(call_id: str = "1764331200.101", **changes: Any) -> CallEnded:
    """A queue call answered by Alice, like the queue_answered trace."""
    base = CallEnded(
        call_id=CallId(call_id),
        outcome="answered",
        caller_number="15551230001",
        caller_name="Grace Hopper",
        dialed_number="18005550100",
        queue=QueueName("support"),
        answered_by=Interface("PJSIP/1001"),
        parties=(Interface("PJSIP/1001"),),
        recipients=(Interface("PJSIP/1001"),),
        ivr_path=(
            IvrStep("welcome", (), T0 + 1.0),
            IvrStep("menu", (("Choice", "1"),), T0 + 4.5),
            IvrStep("account", (("Account", "23456"),), T0 + 9.0),
        ),
        variables=(("CTI_ACCOUNT", "23456"), ("CTI_MENU", "1")),
        account="23456",
        started_at=T0,
        answered_at=T0 + 20.0,
        ended_at=T0 + 80.5,
        wait_seconds=8.0,
        talk_seconds=60.5,
    )
    return replace(base, **changes)
