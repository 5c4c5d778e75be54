"""Who may call each route of the real app: the table tests/web/test_web_access.py checks.

One row per (METHOD, path as FastAPI declares it). `roles` are the roles that
may call the route at all (others: 401 without a token, 403 with one);
`scope` says how the answer narrows for a role that may call it; `public`
routes need no token at all. Helpers append their routes' rows with small
edits. A WebSocket route is listed with the method "WS".
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACCESS", "ALL_ROLES", "Policy"]

ALL_ROLES = frozenset({"agent", "supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class Policy:
    roles: frozenset[str]
    scope: str
    public: bool = False  # no token needed (login, health, the page)


_SELF_SUPERVISED_ADMIN = (
    "agent: only themselves (login `me` or their own; another agent -> 403 not_allowed); "
    "supervisor: themselves and agents who are members of their queues or of their teams; "
    "admin: anyone"
)

_HISTORY_SCOPE = (
    "agent: calls they took part in or were rung for (live or recorded); supervisor: "
    "those, the calls of their queues and of their teams' agents; admin: every call"
)

_CALL_SCOPE = (
    "agent: calls their phone is on (else 403 not_your_call); supervisor: their own calls, "
    "calls of their queues and calls their teams' agents are on; admin: every call"
)
_SPY_SCOPE = (
    "agent: 403; supervisor: calls of their queues and calls their teams' agents are on; "
    "admin: every call"
)
_SUPERVISORS = frozenset({"supervisor", "admin"})

ACCESS: dict[tuple[str, str], Policy] = {
    # -- core (cti/web/app.py; scoping: cti/web/scope.py, TEAMS) -----------------------
    ("POST", "/api/login"): Policy(ALL_ROLES, "anyone with a password", public=True),
    ("GET", "/healthz"): Policy(ALL_ROLES, "anyone (no data about calls)", public=True),
    ("GET", "/"): Policy(ALL_ROLES, "the page itself; its data needs a token", public=True),
    ("GET", "/api/me"): Policy(ALL_ROLES, "themselves"),
    ("GET", "/api/calls"): Policy(
        ALL_ROLES,
        "agent: calls their phone is on; supervisor: calls of their queues and calls "
        "their teams' agents (or they) are on; admin: all",
    ),
    ("GET", "/api/queues"): Policy(
        ALL_ROLES,
        "agent: queues they are a member of; supervisor: their queues; admin: all",
    ),
    ("GET", "/api/agents"): Policy(
        ALL_ROLES,
        "agent: themselves; supervisor: themselves, their teams' agents and members of "
        "their queues; admin: all",
    ),
    ("WS", "/ws"): Policy(
        ALL_ROLES,
        "agent: their own pops, calls and state; supervisor: + queue_state/boards of their "
        "queues, agent news of their teams and queues, call_ended of calls in scope; "
        "admin: everything (cti/web/hub.py publish_about_*)",
    ),
    # -- call controls (cti/web/control.py) ---------------------------------------------
    ("POST", "/api/calls/dial"): Policy(ALL_ROLES, "from their own phone"),
    ("POST", "/api/calls/{call_id}/transfer"): Policy(ALL_ROLES, _CALL_SCOPE),
    ("POST", "/api/calls/{call_id}/attended-transfer"): Policy(ALL_ROLES, _CALL_SCOPE),
    ("POST", "/api/calls/{call_id}/attended-transfer/complete"): Policy(ALL_ROLES, _CALL_SCOPE),
    ("POST", "/api/calls/{call_id}/attended-transfer/cancel"): Policy(ALL_ROLES, _CALL_SCOPE),
    ("POST", "/api/calls/{call_id}/dtmf"): Policy(ALL_ROLES, _CALL_SCOPE),
    ("POST", "/api/calls/{call_id}/hangup"): Policy(ALL_ROLES, _CALL_SCOPE),
    ("POST", "/api/calls/{call_id}/hold"): Policy(ALL_ROLES, _CALL_SCOPE),
    ("POST", "/api/calls/{call_id}/unhold"): Policy(ALL_ROLES, _CALL_SCOPE),
    ("POST", "/api/calls/{call_id}/listen"): Policy(_SUPERVISORS, _SPY_SCOPE),
    ("POST", "/api/calls/{call_id}/whisper"): Policy(_SUPERVISORS, _SPY_SCOPE),
    ("POST", "/api/calls/{call_id}/barge"): Policy(_SUPERVISORS, _SPY_SCOPE),
    # -- live queue metrics (METRICS, cti/web/routes_metrics.py) ---------------------
    ("GET", "/api/queues/metrics"): Policy(
        frozenset({"supervisor", "admin"}),
        "agent: 403; supervisor: the boards of their own queues; admin: every queue",
    ),
    ("GET", "/api/queues/{queue}/metrics"): Policy(
        frozenset({"supervisor", "admin"}),
        "agent: 403; supervisor: their own queues (another: 403); admin: any queue",
    ),
    # -- agent states (STATES, cti/web/routes_agents.py) --------------------------
    ("GET", "/api/agents/pause-reasons"): Policy(ALL_ROLES, "any signed-in user"),
    ("POST", "/api/agents/{login}/pause"): Policy(ALL_ROLES, _SELF_SUPERVISED_ADMIN),
    ("POST", "/api/agents/{login}/unpause"): Policy(ALL_ROLES, _SELF_SUPERVISED_ADMIN),
    ("POST", "/api/agents/{login}/wrap-up/end"): Policy(ALL_ROLES, _SELF_SUPERVISED_ADMIN),
    ("POST", "/api/agents/{login}/login"): Policy(
        ALL_ROLES,
        "agent: only themselves; supervisor: any agent, into their own queues only; "
        "admin: anyone into any queue",
    ),
    ("POST", "/api/agents/{login}/logout"): Policy(
        ALL_ROLES,
        "agent: only themselves; supervisor: agents of their queues, out of their own "
        "queues only; admin: anyone",
    ),
    # -- call history (HISTORY, cti/web/routes_history.py) ---------------------------
    ("GET", "/api/history"): Policy(ALL_ROLES, _HISTORY_SCOPE),
    ("GET", "/api/history.csv"): Policy(ALL_ROLES, _HISTORY_SCOPE),
    ("GET", "/api/history/dispositions"): Policy(ALL_ROLES, "any signed-in user"),
    ("GET", "/api/history/{call_id}"): Policy(ALL_ROLES, _HISTORY_SCOPE + "; else 403"),
    ("PUT", "/api/calls/{call_id}/disposition"): Policy(ALL_ROLES, _HISTORY_SCOPE + "; else 403"),
    ("GET", "/api/agents/{login}/daily"): Policy(
        ALL_ROLES,
        "agent: only themselves (else 403); supervisor: themselves and agents who are "
        "members of their queues or of their teams; admin: anyone",
    ),
    # -- chat (CHAT, cti/web/routes_chat.py) ------------------------------------------
    ("GET", "/api/chat/conversations"): Policy(ALL_ROLES, "only conversations they are in"),
    ("POST", "/api/chat/direct"): Policy(ALL_ROLES, "their own direct chat with any user"),
    ("POST", "/api/chat/rooms"): Policy(
        frozenset({"supervisor", "admin"}), "agent: 403 not_allowed; creator becomes a member"
    ),
    ("POST", "/api/chat/rooms/{conversation_id}/members"): Policy(
        frozenset({"supervisor", "admin"}),
        "agent: 403 not_allowed; others: rooms they are a member of (else 403 not_member)",
    ),
    ("POST", "/api/chat/teams/{team}/room"): Policy(
        ALL_ROLES, "the team's members and supervisors (else 403 not_allowed); admins: any"
    ),
    ("GET", "/api/chat/conversations/{conversation_id}"): Policy(
        ALL_ROLES, "members only; anyone else (admins too) 403 not_member"
    ),
    ("GET", "/api/chat/conversations/{conversation_id}/messages"): Policy(
        ALL_ROLES, "members only; anyone else (admins too) 403 not_member"
    ),
    ("POST", "/api/chat/conversations/{conversation_id}/messages"): Policy(
        ALL_ROLES, "members only; anyone else (admins too) 403 not_member"
    ),
    ("POST", "/api/chat/conversations/{conversation_id}/read"): Policy(
        ALL_ROLES, "members only; anyone else (admins too) 403 not_member"
    ),
    # -- customer web chat (CUSTCHAT, cti/web/webchat.py) -------------------------------
    ("POST", "/api/webchat/start"): Policy(
        ALL_ROLES, "anyone, no login (a customer); starts limited per client IP", public=True
    ),
    ("GET", "/api/webchat/messages"): Policy(
        frozenset(),
        "customer token only: its one conversation (another: 403 not_member); "
        "no token or a bad one: 401; a login token: 403 not_allowed",
        public=True,
    ),
    ("POST", "/api/webchat/messages"): Policy(
        frozenset(),
        "customer token only: its one conversation (another: 403 not_member); "
        "no token or a bad one: 401; a login token: 403 not_allowed",
        public=True,
    ),
    ("WS", "/ws/webchat"): Policy(
        frozenset(), "customer token only (else close 4401): its one conversation", public=True
    ),
    ("GET", "/webchat"): Policy(
        ALL_ROLES, "the customer page; its data needs a token", public=True
    ),
    ("POST", "/api/webchat/{conversation_id}/transfer"): Policy(
        ALL_ROLES, "the agent who has the chat, or an admin (else 403 not_allowed)"
    ),
    ("POST", "/api/webchat/{conversation_id}/end"): Policy(
        ALL_ROLES, "the agent who has the chat, or an admin (else 403 not_allowed)"
    ),
    ("GET", "/api/webchat/history"): Policy(
        ALL_ROLES,
        "ended web chats: agent: the chats they had; supervisor: those, the chats of their "
        "queues and of their teams' agents; admin: all",
    ),
}
