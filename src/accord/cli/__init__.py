"""The ``accord`` command line: thin commands over the node's services.

The CLI runs on the node's own host and acts as its operator; commands that read
threat data act for one organisation (``--org``), through the same policy gate as
the API. Every error is one line on stderr and a non-zero exit code. The node's own
commands (``init``, ``serve``, ``demo``, organisations, groups, tokens, users) are
here; each capability brings its commands in its record (``Capability.commands``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from accord.capabilities import CAPABILITIES
from accord.capability import Capability
from accord.cli import accounts, node
from accord.cli.common import err, opened, running
from accord.errors import AccordError

__all__ = ["app", "build", "main"]


def build(capabilities: Sequence[Capability[Any]] = CAPABILITIES) -> typer.Typer:
    """The ``accord`` command: the node's own commands and every capability's."""
    root = typer.Typer(
        name="accord",
        help="Accord: a node for regional cyber-security cooperation "
        "(STIX 2.1, TAXII 2.1, TLP 2.0).",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    for commands in (node.commands, accounts.commands):
        root.add_typer(commands)
    for capability in capabilities:
        for commands in capability.commands():
            root.add_typer(commands)
    return root


app = build()


def main(
    argv: list[str] | None = None, capabilities: Sequence[Capability[Any]] = CAPABILITIES
) -> None:
    """Entry point: every expected error becomes one line and an exit code."""
    command = app if capabilities is CAPABILITIES else build(capabilities)
    token = running.set(tuple(capabilities))
    nodes = opened.set([])
    try:
        command(args=argv, standalone_mode=False)
    except AccordError as exc:
        err.print(f"error: {exc.detail}", markup=False, highlight=False)
        for problem in exc.problems[:20]:
            err.print(f"  - {_problem_line(problem.as_dict())}", markup=False, highlight=False)
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        raise SystemExit(130) from None
    except typer.TyperException as exc:  # usage errors, with standalone_mode off
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err.print(f"error: {message}", markup=False, highlight=False)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    except Exception as exc:
        # SQLAlchemy is imported only now: ``accord --help`` should not pay for it.
        from sqlalchemy.exc import OperationalError

        if not isinstance(exc, OperationalError):
            raise
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        err.print(f"error: cannot use the database ({reason}); check ACCORD_DATABASE_URL")
        raise SystemExit(1) from None
    finally:
        for node in opened.get() or []:
            node.close()
        opened.reset(nodes)
        running.reset(token)


def _problem_line(p: dict[str, Any]) -> str:
    where = " ".join(str(p[k]) for k in ("index", "object_id", "field") if k in p)
    return f"{where}: {p['reason']}" if where else str(p["reason"])
