"""The service on uvloop, the loop `cti serve` and `cti demo` run on (cti/runner.py):
the end-to-end path of test_e2e_web (AMI in, screen-pop and call out over
WebSocket, the record stored) through `cti.runner.run`, as the CLI starts it.
The rest of the suite runs on pytest-asyncio's standard loop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import uvloop
from test_e2e_web import (
    alice_alone_gets_the_pop_with_the_customer_and_the_call_is_stored,
    running_stack,
)

from cti.runner import LoopChoiceError, loop_factory, run


def test_a_queue_call_pops_and_is_stored_on_uvloop(tmp_path: Path) -> None:
    async def scenario() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        async with running_stack(tmp_path) as stack:
            await alice_alone_gets_the_pop_with_the_customer_and_the_call_is_stored(stack)

    run(scenario(), loop="uvloop")


def test_the_runner_picks_uvloop_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    monkeypatch.delenv("CTI_LOOP", raising=False)
    assert run(loop_type()) is uvloop.Loop
    monkeypatch.setenv("CTI_LOOP", "asyncio")
    assert not issubclass(run(loop_type()), uvloop.Loop)
    assert run(loop_type(), loop="uvloop") is uvloop.Loop


def test_an_unknown_loop_is_refused_with_its_name() -> None:
    with pytest.raises(LoopChoiceError, match="'uvlop'"):
        loop_factory("uvlop")


def test_cti_serve_says_which_setting_is_wrong() -> None:
    env = {**os.environ, "CTI_LOOP": "trio"}
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from cti.cli import main; sys.exit(main())", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "CTI_LOOP: expected one of uvloop, asyncio, got 'trio'" in done.stderr
    assert "Traceback" not in done.stderr
