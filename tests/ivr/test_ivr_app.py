"""The cti-ivr app's shell: the call always goes back to the dialplan."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cti.customers import CustomerKey
from cti.ids import ChannelId
from cti.ivr.app import IvrApp
from cti.ivr.dip import StasisCall

ADA = {"id": 42, "name": "Ada Lovelace", "account": "42", "notes": "", "phones": []}


class FakeChannels:
    """Records the ARI requests; can be told to fail them."""

    def __init__(self, *, fail_set: bool = False, fail_continue: bool = False) -> None:
        self.requests: list[tuple[str, ...]] = []
        self.fail_set = fail_set
        self.fail_continue = fail_continue

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        self.requests.append(("set", channel_id, name, value))
        if self.fail_set:
            raise RuntimeError("Asterisk said 500")

    async def continue_in_dialplan(self, channel_id: str) -> None:
        self.requests.append(("continue", channel_id))
        if self.fail_continue:
            raise RuntimeError("Channel not found")


class Directory:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay, self.fail = delay, fail
        self.asked: list[CustomerKey] = []

    async def lookup(self, key: CustomerKey) -> dict[str, Any] | None:
        self.asked.append(key)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("database down")
        return ADA if key.account == "42" or key.phone == "15551230042" else None


def stasis(channel: str = "1.1", *args: str, number: str = "15551230042") -> StasisCall:
    return StasisCall(ChannelId(channel), "cti-ivr", args or ("lookup",), number)


async def run(app: IvrApp, *calls: StasisCall) -> None:
    for c in calls:
        app.start(c)
    await app.drain()


async def test_a_customer_found_is_set_then_the_call_continues() -> None:
    rest, directory = FakeChannels(), Directory()
    app = IvrApp(rest, directory.lookup)
    await run(app, stasis())
    assert rest.requests == [
        ("set", "1.1", "CTI_CUSTOMER_ID", "42"),
        ("set", "1.1", "CTI_CUSTOMER_NAME", "Ada Lovelace"),
        ("set", "1.1", "CTI_CUSTOMER_ACCOUNT", "42"),
        ("continue", "1.1"),
    ]
    assert directory.asked == [CustomerKey(None, None, "15551230042")]
    assert app.stats.found == 1


async def test_the_account_argument_is_the_key() -> None:
    rest, directory = FakeChannels(), Directory()
    await run(IvrApp(rest, directory.lookup), stasis("1.2", "lookup", "42", number="sipp"))
    assert directory.asked == [CustomerKey(None, "42", "sipp")]
    assert rest.requests[0] == ("set", "1.2", "CTI_CUSTOMER_ID", "42")


async def test_nobody_found_sets_nothing_and_continues() -> None:
    rest = FakeChannels()
    app = IvrApp(rest, Directory().lookup)
    await run(app, stasis("1.3", number="15550000000"))
    assert rest.requests == [("continue", "1.3")]
    assert app.stats.not_found == 1


@pytest.mark.parametrize("directory", [Directory(delay=5.0), Directory(fail=True)])
async def test_a_slow_or_broken_database_never_holds_the_caller(directory: Directory) -> None:
    rest = FakeChannels()
    app = IvrApp(rest, directory.lookup, dip_timeout=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await run(app, stasis("1.4"))
    assert loop.time() - started < 1.0
    assert rest.requests == [("continue", "1.4")]
    assert app.stats.timeouts + app.stats.lookup_errors == 1


async def test_a_failed_set_still_continues() -> None:
    rest = FakeChannels(fail_set=True)
    app = IvrApp(rest, Directory().lookup)
    await run(app, stasis("1.5"))
    assert rest.requests == [("set", "1.5", "CTI_CUSTOMER_ID", "42"), ("continue", "1.5")]
    assert app.stats.set_errors == 1


async def test_a_failed_continue_is_counted_not_raised() -> None:
    rest = FakeChannels(fail_continue=True)
    app = IvrApp(rest, Directory().lookup)
    await run(app, stasis("1.6"))
    assert app.stats.continue_errors == 1


async def test_other_calls_go_straight_back_and_others_apps_are_left_alone() -> None:
    rest = FakeChannels()
    app = IvrApp(rest, Directory().lookup)
    foreign = StasisCall(ChannelId("2.1"), "someone-else", ("lookup",), "15551230042")
    await run(app, stasis("1.7", "transfer"), foreign)
    assert rest.requests == [("continue", "1.7")]
    assert app.stats.passed_through == 1


async def test_one_slow_dip_does_not_hold_another() -> None:
    rest, slow = FakeChannels(), Directory(delay=0.3)
    app = IvrApp(rest, slow.lookup, dip_timeout=2.0)
    app.start(stasis("1.8"))
    await asyncio.sleep(0.01)
    slow.delay = 0.0
    app.start(stasis("1.9", number="15550000000"))
    await asyncio.sleep(0.1)
    assert ("continue", "1.9") in rest.requests
    assert ("continue", "1.8") not in rest.requests
    await app.drain()
    assert rest.requests[-1] == ("continue", "1.8")


async def test_the_same_channel_is_served_once() -> None:
    rest = FakeChannels()
    app = IvrApp(rest, Directory(delay=0.05).lookup)
    app.start(stasis("1.10"))
    app.recover([stasis("1.10")])  # found again by a reconnect while being served
    await app.drain()
    assert rest.requests.count(("continue", "1.10")) == 1


async def test_shutdown_releases_a_call_that_had_only_just_come_in() -> None:
    rest = FakeChannels()
    app = IvrApp(rest, Directory(delay=5.0).lookup, dip_timeout=10.0)
    app.start(stasis("1.12"))  # its task has not run a step yet
    await app.close()
    assert rest.requests == [("continue", "1.12")]


async def test_shutdown_releases_calls_being_served() -> None:
    rest = FakeChannels()
    app = IvrApp(rest, Directory(delay=5.0).lookup, dip_timeout=10.0)
    app.start(stasis("1.11"))
    await asyncio.sleep(0.01)
    await app.close()
    assert rest.requests == [("continue", "1.11")]
