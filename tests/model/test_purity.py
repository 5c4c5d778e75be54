"""The core is pure: nothing in cti/model (or the replay driver) imports I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cti.model

MODEL_DIR = Path(cti.model.__file__).parent
FORBIDDEN = {
    "asyncio",
    "socket",
    "selectors",
    "ssl",
    "httpx",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "aiohttp",
    "websockets",
    "subprocess",
    "threading",
    "time",  # the caller supplies `at`: a replay must be deterministic
    "logging",  # the shell logs; the core returns data and counters
    "cti.ami.client",
    "cti.engine",
    "cti.web",
    "cti.store",
    "cti.sim",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)


@pytest.mark.parametrize("path", sorted(MODEL_DIR.glob("*.py")), ids=lambda p: p.name)
def test_model_module_is_pure(path: Path) -> None:
    bad = sorted(n for n in _imports(path) if _forbidden(n))
    assert bad == [], f"{path.name} imports {bad}"


def test_replay_uses_no_network_or_clock() -> None:
    path = MODEL_DIR.parent / "replay.py"
    bad = sorted(n for n in _imports(path) if _forbidden(n))
    assert bad == []


def test_the_checker_catches_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import asyncio\nfrom sqlalchemy.orm import Session\nfrom time import time\n")
    assert sorted(n for n in _imports(sample) if _forbidden(n)) == [
        "asyncio",
        "sqlalchemy.orm",
        "time",
    ]
