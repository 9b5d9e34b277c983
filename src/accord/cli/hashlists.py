"""``accord hash``: hash lists from the command line."""

from __future__ import annotations

import typer

commands = typer.Typer()
