"""The metrics core is pure: no I/O, no clock, nothing of the shell (read from its imports)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cti.metrics

METRICS_DIR = Path(cti.metrics.__file__).parent
FORBIDDEN = (
    "asyncio",
    "socket",
    "ssl",
    "httpx",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "websockets",
    "subprocess",
    "threading",
    "time",  # `now` is always passed in: boards and replays are deterministic
    "logging",
    "os",
    "cti.engine",
    "cti.web",
    "cti.store",
    "cti.sim",
    "cti.ami.client",
)


def imports(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def forbidden(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == b or n.startswith(b + ".") for b in FORBIDDEN))


@pytest.mark.parametrize("path", sorted(METRICS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_metrics_module_is_pure(path: Path) -> None:
    assert forbidden(imports(path.read_text(encoding="utf-8"))) == []


def test_the_checker_catches_an_import() -> None:
    sample = "import time\nfrom sqlalchemy import select\nfrom datetime import datetime\n"
    assert forbidden(imports(sample)) == ["sqlalchemy", "time"]
