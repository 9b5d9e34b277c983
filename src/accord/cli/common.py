"""What every command shares: consoles, opening the node, and acting for an organisation."""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from accord.domain.model import ANONYMOUS, Principal, Role

if TYPE_CHECKING:
    from accord.capability import Capability
    from accord.node import Node

# The capabilities of the command line running now (``accord.cli.main`` sets it), so the
# node a command opens has exactly the capabilities its commands came from.
running: ContextVar[tuple[Capability[Any], ...] | None] = ContextVar("running", default=None)

# Piped output (scripts, logs) gets wide tables and no progress bars.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="Act for this organisation (name or identity id); omit: public."),
]


def open_node() -> Node:
    """The node this host runs, its database migrated (settings from ACCORD_* and .env),
    with the capabilities the running command was built with (``accord.cli.build``)."""
    # Imported here: building the command tree (``accord --help``) must not wire a node.
    from accord.capabilities import CAPABILITIES
    from accord.node import Node
    from accord.settings import Settings

    return Node.open(Settings(), capabilities=running.get() or CAPABILITIES)


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
