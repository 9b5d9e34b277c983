"""What every command shares: consoles, opening the node, and acting for an organisation."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from contextlib import suppress
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from accord.domain.model import ANONYMOUS, Principal, Role
from accord.errors import Forbidden, InvalidInput

if TYPE_CHECKING:
    from accord.capability import Capability
    from accord.node import Node

# The capabilities of the command line running now (``accord.cli.main`` sets it), so the
# node a command opens has exactly the capabilities its commands came from.
running: ContextVar[tuple[Capability[Any], ...] | None] = ContextVar("running", default=None)
# The nodes a command opened, which ``accord.cli.main`` closes when it ends.
opened: ContextVar[list[Node] | None] = ContextVar("opened", default=None)

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

    node = Node.open(Settings(), capabilities=running.get() or CAPABILITIES)
    held = opened.get()
    if held is not None:
        held.append(node)
    return node


def act_as(node: Node, org_ref: str | None, role: Role = Role.ANALYST) -> Principal:
    """The principal for ``--org``: the console acts for that organisation; None is the public."""
    if org_ref is None:
        return ANONYMOUS
    org = node.accounts.orgs.find(org_ref)
    if not org.local:
        # Only an organisation's home node speaks for it, the operator's console included.
        raise Forbidden(f"{org.name} is homed on node {org.home}: only its home node acts for it")
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


def read_file(path: Path) -> bytes:
    """The bytes of a file the user named, or InvalidInput saying in one line why not."""
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise InvalidInput(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None


def read_text_file(path: Path) -> str:
    """The UTF-8 text of a file the user named (a byte-order mark dropped), or InvalidInput
    for a file that cannot be read or is not text: not UTF-8, or holding NUL characters."""
    data = read_file(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not UTF-8 text (byte {exc.start} is not)") from None
    if "\x00" in text:
        raise InvalidInput(f"{path} holds NUL characters: it is binary data, not text")
    return text


def write_file(path: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``path`` whole: through a ``.part`` file renamed only when
    complete, or InvalidInput naming what went wrong, leaving no half-written file."""
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        part.replace(path)
    except OSError as exc:
        with suppress(OSError):
            part.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {path}: {exc.strerror or exc}") from None
