"""Who may call each route of the real app: the table tests/web/test_web_access.py checks.

One row per (METHOD, path as FastAPI declares it). `roles` are the roles that
may call the route at all (others: 401 without a token, 403 with one);
`scope` says how the answer narrows for a role that may call it. Helpers
append their routes' rows with small edits.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACCESS", "ALL_ROLES", "Policy"]

ALL_ROLES = frozenset({"agent", "supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class Policy:
    roles: frozenset[str]
    scope: str


_SELF_SUPERVISED_ADMIN = (
    "agent: only themselves (login `me` or their own; another agent -> 403 not_allowed); "
    "supervisor: themselves and agents who are members of their queues (teams hook); "
    "admin: anyone"
)

ACCESS: dict[tuple[str, str], Policy] = {
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
}
