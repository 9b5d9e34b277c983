"""The ``accord`` command line: thin commands over the node's services.

The CLI runs on the node's own host and acts as its operator; commands that read
threat data act for one organisation (``--org``), through the same policy gate as
the API. Every error is one line on stderr and a non-zero exit code. Each module
here adds its commands to the root ``app``.
"""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy.exc import OperationalError

from accord.cli import accounts, coordinate, detect, federation, node, objects  # noqa: F401  (they register commands)
from accord.cli.common import app, err
from accord.errors import AccordError

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Entry point: every expected error becomes one line and an exit code."""
    try:
        app(args=argv, standalone_mode=False)
    except AccordError as exc:
        err.print(f"error: {exc.detail}", markup=False, highlight=False)
        for problem in exc.problems[:20]:
            err.print(f"  - {_problem_line(problem.as_dict())}", markup=False, highlight=False)
        raise SystemExit(exc.exit_code) from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        err.print(f"error: cannot use the database ({reason}); check ACCORD_DATABASE_URL")
        raise SystemExit(1) from None
    except typer.Abort:
        raise SystemExit(130) from None
    except typer.TyperException as exc:  # usage errors, with standalone_mode off
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err.print(f"error: {message}", markup=False, highlight=False)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None


def _problem_line(p: dict[str, Any]) -> str:
    where = " ".join(str(p[k]) for k in ("index", "object_id", "field") if k in p)
    return f"{where}: {p['reason']}" if where else str(p["reason"])
