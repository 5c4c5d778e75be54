"""Hub.publish_to_logins and Hub.online: what chat delivery and presence use."""

from __future__ import annotations

import json

from web_fakes import ALICE, BOB, SUE

from cti.web.hub import Connection, Hub


def drain(conn: Connection) -> list[dict[str, object]]:
    """The frames queued on `conn`, taken off its queue."""
    frames = []
    while conn.pending:
        frames.append(json.loads(conn._pending.popleft()))
    return frames


def test_publish_to_logins_reaches_each_login_once_and_skips_strangers() -> None:
    hub = Hub(stream_id="s1")
    alice = hub.attach(ALICE)
    alice_tab = hub.attach(ALICE)
    bob = hub.attach(BOB)
    for conn in (alice, alice_tab, bob):
        drain(conn)  # the hellos
    hub.publish_to_logins(["alice", "bob", "alice", "ghost"], {"type": "chat_typing", "x": 1})
    assert [f["seq"] for f in drain(alice)] == [1]
    assert [f["seq"] for f in drain(alice_tab)] == [1]
    assert [(f["type"], f["seq"]) for f in drain(bob)] == [("chat_typing", 1)]
    hub.publish_to_logins(["ghost"], {"type": "chat_typing"})
    assert hub.stats.undelivered == 1


def test_online_means_an_open_socket() -> None:
    hub = Hub()
    hub.register(SUE)  # logged in, no socket yet
    assert hub.online("sue") is None
    conn = hub.attach(SUE)
    assert hub.online("sue") == SUE
    hub.detach(conn)
    assert hub.online("sue") is None
    assert hub.online("nobody") is None
