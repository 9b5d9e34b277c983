"""What every command shares: the root app, consoles, and how to act for an organisation."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from accord.domain.model import ANONYMOUS, Principal, Role
from accord.node import Node
from accord.settings import Settings

app = typer.Typer(
    name="accord",
    help="Accord: a node for regional cyber-security cooperation (STIX 2.1, TAXII 2.1, TLP 2.0).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Piped output (scripts, logs) gets wide tables and no progress bars.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="Act for this organisation (name or identity id); omit: public."),
]


def open_node() -> Node:
    return Node.open(Settings())


def act_as(node: Node, org_ref: str | None, role: Role = Role.ANALYST) -> Principal:
    """The principal for ``--org``: the console acts for that organisation; None is the public."""
    if org_ref is None:
        return ANONYMOUS
    org = node.accounts.orgs.find(org_ref)
    return Principal(org=org.id, role=role, groups=node.accounts.groups.of_org(org.id))


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )
