"""The toy's record, its table, its service and its interfaces."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, func, insert, select

from accord.capability import Capability, NavEntry
from accord.cli.common import open_node, out
from accord.http import NodeDep
from accord.node import Node
from accord.store.db import write

# Its own metadata: a test-only table stays out of the product's migration comparison.
metadata = MetaData()
toy_notes = Table(
    "toy_notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("text", String(200), nullable=False),
)


class Notes:
    """The toy's service: notes anyone on the node may write and count."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, text: str) -> int:
        with write(self._engine) as conn:
            return int(conn.execute(insert(toy_notes).values(text=text)).inserted_primary_key[0])

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(toy_notes)).scalar_one())


class NoteCreate(BaseModel):
    text: str


router = APIRouter(prefix="/toy", tags=["toy"])


@router.post("/notes", status_code=201)
def create_note(body: NoteCreate, node: NodeDep) -> dict[str, int]:
    """Add a note."""
    return {"id": TOY.service(node).add(body.text)}


@router.get("/notes/count")
def count_notes(node: NodeDep) -> dict[str, int]:
    """How many notes there are."""
    return {"count": TOY.service(node).count()}


commands = typer.Typer()
toy_app = typer.Typer(help="Toy notes.", no_args_is_help=True)
commands.add_typer(toy_app, name="toy")


@toy_app.command("add")
def add_note(text: Annotated[str, typer.Argument(help="The note.")]) -> None:
    """Add a note."""
    out.print(TOY.service(open_node()).add(text))


def _wire(node: Node) -> Notes:
    return Notes(node.engine)


def _api() -> Sequence[APIRouter]:
    return [router]


def _commands() -> Sequence[typer.Typer]:
    return [commands]


def _tables() -> Sequence[Table]:
    return [toy_notes]


TOY: Capability[Notes] = Capability(
    name="toy",
    summary="Notes, to prove the seam.",
    wire=_wire,
    api=_api,
    nav=(NavEntry("Toy", "/toy"),),
    commands=_commands,
    tables=_tables,
    migrations=Path(__file__).parent / "migrations",
)
