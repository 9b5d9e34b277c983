"""The capability seam: a new capability needs its own package and one registry line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import inspect

from accord.app import create_app
from accord.capabilities import CAPABILITIES
from accord.cli import main
from accord.node import Node
from accord.settings import Settings
from accord.store.db import schema_is_current
from tests.asgi import Client
from tests.toy.capability import TOY, Notes

WITH_TOY = (*CAPABILITIES, TOY)


@pytest.fixture
def toy_node(tmp_path: Path) -> Node:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/toy.db", _env_file=None)  # type: ignore[call-arg]
    return Node.open(settings, capabilities=WITH_TOY)


def test_the_toy_gets_its_table_from_its_own_migration_branch(toy_node: Node) -> None:
    assert "toy_notes" in inspect(toy_node.engine).get_table_names()
    assert schema_is_current(toy_node.engine, [c.migrations for c in WITH_TOY if c.migrations])
    assert isinstance(TOY.service(toy_node), Notes)


def test_the_toy_route_is_served_and_documented(toy_node: Node) -> None:
    with Client(create_app(node=toy_node)) as client:
        assert client.post("/api/v1/toy/notes", json={"text": "hello"}).status_code == 201
        assert client.get("/api/v1/toy/notes/count").json() == {"count": 1}
        assert "/api/v1/toy/notes" in client.get("/api/v1/openapi.json").json()["paths"]
    # A node without the toy does not serve it.
    plain = Node(toy_node.settings, toy_node.engine)
    with Client(create_app(node=plain)) as client:
        assert client.get("/api/v1/toy/notes/count").status_code == 404


def test_the_toy_command_runs_on_a_node_with_the_toy(
    toy_node: Node, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_DATABASE_URL", toy_node.settings.database_url)
    main(["toy", "add", "from the command line"], capabilities=WITH_TOY)
    assert capsys.readouterr().out.strip() == "1"
    assert TOY.service(toy_node).count() == 1
    with pytest.raises(SystemExit) as exited:
        main(["toy", "add", "x"])  # the product's CLI has no such command
    assert exited.value.code == 2
    assert os.environ["ACCORD_DATABASE_URL"] == toy_node.settings.database_url


def test_the_toy_joins_the_console_navigation(toy_node: Node) -> None:
    app = create_app(node=toy_node)
    labels = [e.label for e in app.state.nav][-5:]
    assert labels == ["Toy", "Organisations", "Groups", "Tokens", "Sign-ins"]
