"""CtiService.create: a start that fails after the event bus started closes the bus."""

from __future__ import annotations

from pathlib import Path

import pytest

import cti.app
from cti.app import CtiService
from cti.bus import BusClosedError, EventBus, bus_from_settings
from cti.config import Settings
from cti.store import Store


async def test_a_failed_start_closes_the_bus_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[EventBus] = []

    def recording_factory(settings: Settings) -> EventBus:
        bus = bus_from_settings(settings)
        started.append(bus)
        return bus

    async def failing_assembly(*args: object) -> CtiService:
        raise RuntimeError("a part failed to start")

    monkeypatch.setattr(cti.app, "bus_from_settings", recording_factory)
    monkeypatch.setattr(CtiService, "_assemble", failing_assembly)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.sqlite3'}"
    async with Store(url) as store:
        with pytest.raises(RuntimeError, match="a part failed"):
            await CtiService.create(Settings(database_url=url, token_secret="t" * 40), store)
    (bus,) = started
    with pytest.raises(BusClosedError):
        await bus.publish("cti.test", {"after": "close"})
