"""Who sees which call (pure): the same answers as cti.web.scope gives for live calls."""

from __future__ import annotations

import pytest

from cti.history import Scope, Viewer, check_disposition, in_scope, scope_of

ALICE = Viewer("alice", "agent", "PJSIP/1001")
CAROL = Viewer("carol", "supervisor", "PJSIP/1003", ("support",), ("PJSIP/1002",))
DESKLESS = Viewer("dave", "supervisor", None, ("billing",))
ADA = Viewer("ada", "admin", None)


def test_scopes() -> None:
    assert scope_of(ADA) == Scope(everything=True)
    assert scope_of(ALICE) == Scope(interfaces=("PJSIP/1001",))
    # an agent's own queues give them nothing more; a supervisor's do
    assert scope_of(Viewer("x", "agent", "PJSIP/1", ("support",))).queues == ()
    assert scope_of(CAROL) == Scope(interfaces=("PJSIP/1003", "PJSIP/1002"), queues=("support",))
    assert scope_of(DESKLESS) == Scope(interfaces=(), queues=("billing",))


@pytest.mark.parametrize(
    ("viewer", "queue", "involved", "sees"),
    [
        (ALICE, "support", ["PJSIP/1001"], True),
        (ALICE, "support", ["PJSIP/1002"], False),
        (ALICE, None, [], False),
        (CAROL, "support", [], True),  # her queue
        (CAROL, None, ["PJSIP/1002"], True),  # her team's agent
        (CAROL, "sales", ["PJSIP/1001"], False),
        (DESKLESS, None, ["PJSIP/1001"], False),
        (ADA, None, [], True),
    ],
)
def test_in_scope(viewer: Viewer, queue: str | None, involved: list[str], sees: bool) -> None:
    assert in_scope(scope_of(viewer), queue, involved) is sees


def test_disposition_checks_name_the_field() -> None:
    codes = ("resolved", "callback")
    assert check_disposition("resolved", "x" * 2000, codes) == {}
    assert set(check_disposition("nope", "", codes)) == {"code"}
    assert set(check_disposition("nope", "x" * 2001, codes)) == {"code", "notes"}
