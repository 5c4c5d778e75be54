"""Fixtures running every bus contract test on InProcessBus and on AmqpBus.

(A module the tests import, not a conftest.py: a second `conftest` module
would clash with tests/store/conftest.py under mypy.)

`make_bus` is parametrized: "memory" builds `InProcessBus`es, "amqp" builds
`AmqpBus`es on the RabbitMQ named by CTI_TEST_AMQP_URL (default
amqp://guest:guest@127.0.0.1:5672/), each test on an exchange of its own so
tests never see each other's messages. An unreachable RabbitMQ skips the amqp
tests on a developer's machine but fails them when CI=true, so CI can never go
green without having run them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from bus_tools import AMQP_URL, MakeBus, amqp_missing, delete_exchange

from cti.bus import AmqpBus, BusUnavailableError, EventBus, InProcessBus

_unreachable: list[str] = []  # the reason, remembered so only the first test waits


@pytest.fixture
def exchange() -> str:
    return f"cti.test.{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def amqp_bus_factory(exchange: str) -> AsyncIterator[MakeBus]:
    """Started AmqpBus nodes on one fresh exchange; all closed (and the exchange deleted) after."""
    buses: list[AmqpBus] = []

    async def make(**kwargs: object) -> EventBus:
        if _unreachable:
            amqp_missing(_unreachable[0])
        bus = AmqpBus(AMQP_URL, exchange=exchange, connect_timeout=3.0, **kwargs)  # type: ignore[arg-type]
        try:
            await bus.start()
        except BusUnavailableError as exc:
            _unreachable.append(str(exc))
            amqp_missing(str(exc))
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.aclose()
    if buses:
        await delete_exchange(exchange)


@pytest.fixture
async def memory_bus_factory() -> AsyncIterator[MakeBus]:
    buses: list[InProcessBus] = []

    async def make(**kwargs: object) -> EventBus:
        bus = InProcessBus(**kwargs)  # type: ignore[arg-type]
        await bus.start()
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.aclose()


@pytest.fixture(params=["memory", "amqp"])
def make_bus(request: pytest.FixtureRequest) -> MakeBus:
    """Builds and starts a bus of the parametrized kind (closed after the test)."""
    factory: MakeBus = request.getfixturevalue(f"{request.param}_bus_factory")
    return factory
