"""The matching engine stays pure: no web/DB/HTTP imports and no clock reads."""

from __future__ import annotations

import ast
from pathlib import Path

import addon.domain.matching as matching

FORBIDDEN_MODULES = {"flask", "sqlalchemy", "redis", "requests", "rq", "time"}
CLOCK_CALLS = {"now", "today", "utcnow", "time", "perf_counter", "monotonic"}


def _modules() -> list[Path]:
    return sorted(Path(matching.__file__).parent.glob("*.py"))


def test_no_forbidden_imports() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not {n.split(".")[0] for n in names} & FORBIDDEN_MODULES, (path.name, names)


def test_no_clock_reads() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in CLOCK_CALLS, (path.name, node.lineno)
