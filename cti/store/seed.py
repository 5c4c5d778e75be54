"""Demo data: agents, supervisors' queues and teams, a couple of dozen customers, idempotently.

Strategy: `seed_demo` goes through the Store's public API only. Every demo
row has a fixed natural key (agent login, customer id), so a second run finds
everything present and adds nothing; a demo customer whose account or phone
is already used by someone else is skipped rather than failing the seed. The
numbers match the recorded traces (15551230001 with account 23456 calls the
`support` queue) and the fake Asterisk's traffic (1555xxxxxxx callers).
Teams: alice and bob form "tier1", which Carol looks after; Dave, a second
supervisor without a desk, looks after the `billing` queue only, so the demo
shows two supervisors with different scopes.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.store.errors import ConflictError
from cti.store.store import Store

__all__ = [
    "DEMO_AGENTS",
    "DEMO_CUSTOMERS",
    "DEMO_PASSWORD",
    "DEMO_SUPERVISOR_QUEUES",
    "DEMO_SUPERVISOR_TEAMS",
    "DEMO_TEAMS",
    "DemoCustomer",
    "SeedReport",
    "seed_demo",
]

DEMO_PASSWORD = "demo"

# login, display name, role, interface
DEMO_AGENTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("alice", "Alice Agent", "agent", "PJSIP/1001"),
    ("bob", "Bob Agent", "agent", "PJSIP/1002"),
    ("carol", "Carol Supervisor", "supervisor", "PJSIP/1003"),
    ("dave", "Dave Supervisor", "supervisor", None),
)

# supervisor login -> the queues whose calls they may act on
DEMO_SUPERVISOR_QUEUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("carol", ("support", "sales")),
    ("dave", ("billing",)),
)

# team -> its agents; supervisor login -> the teams they look after
DEMO_TEAMS: tuple[tuple[str, tuple[str, ...]], ...] = (("tier1", ("alice", "bob")),)
DEMO_SUPERVISOR_TEAMS: tuple[tuple[str, tuple[str, ...]], ...] = (("carol", ("tier1",)),)


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    id: int
    name: str
    account: str | None
    phones: tuple[str, ...]
    notes: str = ""


@dataclass(frozen=True, slots=True)
class SeedReport:
    agents_added: int
    customers_added: int


DEMO_CUSTOMERS: tuple[DemoCustomer, ...] = (
    DemoCustomer(1, "Grace Hopper", "23456", ("15551230001",), "Premium support; prefers email."),
    DemoCustomer(2, "Alan Turing", "10002", ("15551230002",), "Asked about invoice 2024-117."),
    DemoCustomer(3, "Katherine Johnson", "10003", ("15551230003", "15557770003")),
    DemoCustomer(4, "Edsger Dijkstra", "10004", ("15551230004",), "Call back after 3pm."),
    DemoCustomer(5, "Barbara Liskov", "10005", ("15551230005",)),
    DemoCustomer(6, "Donald Knuth", "10006", ("15551230006",), "Pays by cheque."),
    DemoCustomer(7, "Margaret Hamilton", "10007", ("15551230007",), "VIP account."),
    DemoCustomer(8, "Dennis Ritchie", "10008", ("15551230008",)),
    DemoCustomer(9, "Frances Allen", "10009", ("15551230009",), "Contract renewal due."),
    DemoCustomer(10, "John Backus", "10010", ("15551230010",)),
    DemoCustomer(11, "Radia Perlman", "10011", ("15551230011",), "Network outage ticket open."),
    DemoCustomer(12, "Ken Thompson", "10012", ("15551230012",)),
    DemoCustomer(13, "Shafi Goldwasser", "10013", ("15551230013",)),
    DemoCustomer(14, "Tony Hoare", "10014", ("15551230014",), "Disputed charge in March."),
    DemoCustomer(15, "Adele Goldberg", "10015", ("15551230015",)),
    DemoCustomer(16, "Leslie Lamport", "10016", ("15551230016",), "Prefers French."),
    DemoCustomer(17, "Hedy Lamarr", "10017", ("15551230017",)),
    DemoCustomer(18, "Claude Shannon", "10018", ("15551230018",), "Moving house next month."),
    DemoCustomer(19, "Sophie Wilson", "10019", ("15551230019",)),
    DemoCustomer(20, "John McCarthy", "10020", ("15551230020",)),
    DemoCustomer(21, "Mary Kenneth Keller", "10021", ("15551230021",), "New customer."),
    DemoCustomer(22, "Niklaus Wirth", None, ("15551230022",), "No account yet."),
    DemoCustomer(42, "Ada Lovelace", "42", ("15551230042",), "Founding customer; be nice."),
)


async def seed_demo(store: Store) -> SeedReport:
    """Add the demo agents (password "demo") and customers that are missing."""
    agents_added = 0
    for login, display_name, role, interface in DEMO_AGENTS:
        if await store.agent_by_login(login) is not None:
            continue
        if interface is not None and await store.agent_by_interface(interface) is not None:
            continue
        try:
            await store.create_agent(login, display_name, DEMO_PASSWORD, role, interface)
        except ConflictError:  # created concurrently, or the device is someone else's
            continue
        agents_added += 1
    for login, queues in DEMO_SUPERVISOR_QUEUES:
        if await _is_supervisor(store, login):  # not a real agent who took the login
            await store.add_supervisor_queues(login, queues)  # idempotent
    for team, members in DEMO_TEAMS:
        # only demo agents that exist and are in no team yet: a re-seed moves no one
        present = [m for m in members if await store.agent_by_login(m) is not None]
        teamless = [m for m in present if (await store.team_scope(m)).team is None]
        if teamless:
            await store.put_in_team(team, teamless)
    for login, teams in DEMO_SUPERVISOR_TEAMS:
        if await _is_supervisor(store, login):
            await store.add_supervisor_teams(login, teams)
    customers_added = 0
    for demo in DEMO_CUSTOMERS:
        if await store.customer_by_id(demo.id) is not None:
            continue
        try:
            await store.create_customer(
                demo.name,
                account=demo.account,
                phones=demo.phones,
                notes=demo.notes,
                customer_id=demo.id,
            )
        except ConflictError:  # the account or a phone belongs to a real customer
            continue
        customers_added += 1
    return SeedReport(agents_added=agents_added, customers_added=customers_added)


async def _is_supervisor(store: Store, login: str) -> bool:
    account = await store.agent_by_login(login)
    return account is not None and account.role == "supervisor"
