"""Imports point down the layers (DESIGN.md): nothing imports the interfaces; domain is a leaf."""

from __future__ import annotations

import ast
from pathlib import Path

import accord

ROOT = Path(accord.__file__).parent
INTERFACES = ("accord.api", "accord.cli", "accord.web")
ENTRY_POINTS = ("accord.__main__",)
DOMAIN_MAY_IMPORT = ("accord.domain", "pydantic", "stix2", "orjson")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_nothing_below_the_interfaces_imports_them() -> None:
    wrong = [
        f"{_module(p)} imports {name}"
        for p in ROOT.rglob("*.py")
        if not _under(_module(p), INTERFACES + ENTRY_POINTS)
        for name in _imports(p)
        if _under(name, INTERFACES)
    ]
    assert wrong == []


def test_domain_is_a_leaf() -> None:
    stdlib = set(__import__("sys").stdlib_module_names)
    wrong = [
        f"{_module(p)} imports {name}"
        for p in (ROOT / "domain").rglob("*.py")
        for name in _imports(p)
        if name.split(".")[0] not in stdlib
        and not _under(name, DOMAIN_MAY_IMPORT)
        and name != "__future__"
    ]
    assert wrong == []


def test_only_the_store_and_policy_touch_the_threat_data_table() -> None:
    allowed = ("accord.store", "accord.policy")
    wrong = [
        _module(p)
        for p in ROOT.rglob("*.py")
        if not _under(_module(p), allowed) and "stix_objects" in p.read_text()
    ]
    assert wrong == []
