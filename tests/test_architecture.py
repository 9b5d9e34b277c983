"""Imports point down the layers (docs/architecture.md); a test fails when an arrow points
the wrong way.

    accord.app, accord.cli, *.capability        assembly: choose and mount what runs
    accord.api, accord.web  (meet only in accord.app)   thin HTTP and console layers
    services: exchange, federation, detect, coordinate, accounts
    accord.policy (pure rules)   accord.store (SQL, incl. the gate's SQL form)
    accord.domain                                 a leaf
"""

from __future__ import annotations

import ast
from pathlib import Path

import accord
from accord.capabilities import CAPABILITIES

ROOT = Path(accord.__file__).parent
DOCS = ROOT.parent.parent / "docs" / "architecture.md"
INTERFACES = ("accord.api", "accord.cli", "accord.web", "accord.http")
ASSEMBLY = (
    "accord.app",
    "accord.cli",
    "accord.__main__",
    "accord.capabilities",
    "accord.capability",
)
DOMAIN_MAY_IMPORT = ("accord.domain", "pydantic", "stix2", "orjson")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function (lazy imports count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update([node.module] + [f"{node.module}.{alias.name}" for alias in node.names])
    return found


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _is_record(module: str) -> bool:
    return module.endswith(".capability") and module != "accord.capability"


def _modules() -> list[tuple[str, set[str]]]:
    return [(_module(p), _imports(p)) for p in sorted(ROOT.rglob("*.py"))]


def _wrong(
    source: tuple[str, ...], target: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in _modules()
        if _under(module, source) and not _under(module, allowed) and not _is_record(module)
        for name in names
        if _under(name, target)
    )


def test_nothing_below_the_interfaces_imports_them() -> None:
    everything = ("accord",)
    assert _wrong(everything, INTERFACES, allowed=INTERFACES + ASSEMBLY) == []


def test_api_and_web_meet_only_where_the_app_is_assembled() -> None:
    assert _wrong(("accord.api",), ("accord.web",)) == []
    assert _wrong(("accord.web",), ("accord.api",)) == []


def test_no_service_imports_the_node_wiring() -> None:
    wiring = ("accord.node",)
    allowed = INTERFACES + ASSEMBLY + wiring + ("accord.demo",)
    assert _wrong(("accord",), wiring, allowed=allowed) == []


def test_the_store_does_not_import_the_policy_or_the_services() -> None:
    """(Alembic's ``env`` is an entry point: it reads the registry for its target.)"""
    above = (
        "accord.capabilities",
        "accord.node",
        "accord.policy",
        "accord.accounts",
        "accord.exchange",
        "accord.federation",
        "accord.detect",
        "accord.coordinate",
    )
    assert _wrong(("accord.store",), above, allowed=("accord.store.migrations.env",)) == []


def test_policy_is_pure() -> None:
    """The rules import the domain alone: no SQL, no I/O."""
    wrong = [
        f"accord.policy imports {name}"
        for name in _imports(ROOT / "policy.py")
        if not _under(name, ("__future__", "accord.domain"))
    ]
    assert wrong == []


def test_domain_is_a_leaf() -> None:
    stdlib = set(__import__("sys").stdlib_module_names)
    wrong = [
        f"{module} imports {name}"
        for module, names in _modules()
        if _under(module, ("accord.domain",))
        for name in names
        if name.split(".")[0] not in stdlib
        and not _under(name, DOMAIN_MAY_IMPORT)
        and not _under(name, ("__future__",))
    ]
    assert wrong == []


def test_only_the_store_touches_the_threat_data_table() -> None:
    wrong = [
        _module(p)
        for p in ROOT.rglob("*.py")
        if not _under(_module(p), ("accord.store",))
        and not _is_record(_module(p))  # a record names the tables its capability owns
        and "stix_objects" in p.read_text()
    ]
    assert wrong == []


def test_every_capability_has_one_record_in_its_package_and_is_documented() -> None:
    docs = DOCS.read_text()
    for capability in CAPABILITIES:
        package = ROOT / capability.name
        assert (package / "capability.py").is_file(), capability.name
        assert f"`{capability.name}`" in docs, f"docs/architecture.md omits {capability.name}"
    assert len({c.name for c in CAPABILITIES}) == len(CAPABILITIES)
