"""Sharing, listing, showing and exporting STIX objects."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from accord.cli.common import (
    OrgOption,
    act_as,
    err,
    open_node,
    out,
    progress,
    read_file,
    write_file,
)
from accord.errors import AccordError, InvalidInput

commands = typer.Typer()

objects_app = typer.Typer(help="Stored STIX objects.", no_args_is_help=True)
commands.add_typer(objects_app, name="objects")


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise InvalidInput(f"no such file or directory: {path}")
    if not found:
        raise InvalidInput("no .json files to share")
    return found


@commands.command()
def share(
    paths: Annotated[list[Path], typer.Argument(help="STIX bundle files or directories.")],
    org: Annotated[str, typer.Option("--org", help="Share as this organisation.")],
    tlp: Annotated[str | None, typer.Option(help="TLP for unmarked objects.")] = None,
    scope: Annotated[str | None, typer.Option(help="Distribution scope.")] = None,
    recipient: Annotated[list[str] | None, typer.Option(help="Recipient organisation.")] = None,
    group: Annotated[str | None, typer.Option(help="Sharing group slug.")] = None,
) -> None:
    """Share STIX bundles from files; each file is stored all or nothing.

    Every file is read and parsed before any is stored, so a file that is missing,
    unreadable or not JSON stops the command with nothing stored.
    """
    node = open_node()
    principal = act_as(node, org)
    from accord.exchange.service import ShareRequest, parse_payload

    request = ShareRequest.parse(tlp, scope, recipient or [], group)
    files = _files(paths)
    for path in files:
        try:
            parse_payload(read_file(path))
        except AccordError as exc:
            exc.detail = f"{path}: {exc.detail}"
            raise
    stored = duplicates = 0
    with progress() as bar:
        task = bar.add_task("sharing", total=len(files))
        for path in files:
            try:
                report = node.exchange.ingest(principal, read_file(path), request)
            except AccordError as exc:
                exc.detail = f"{path}: {exc.detail}"
                raise
            stored += len(report.stored)
            duplicates += len(report.duplicates)
            bar.advance(task)
    out.print(
        f"stored {stored} object versions from {len(files)} files ({duplicates} already stored)"
    )


@objects_app.command("list")
def objects_list(
    org: OrgOption = None,
    type: Annotated[list[str] | None, typer.Option(help="STIX type.")] = None,
    search: Annotated[str | None, typer.Option(help="Text in name, description, pattern.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List the latest objects an organisation may read."""
    node = open_node()
    from accord.store.objects import ObjectQuery

    query = ObjectQuery(types=tuple(type or ()), text=search, limit=limit)
    page = node.exchange.page(act_as(node, org), query)
    table = Table("id", "type", "tlp", "scope", "modified", "name")
    for row in page.rows:
        obj = orjson.loads(row.doc)
        name = obj.get("name") or obj.get("value") or ""
        table.add_row(row.stix_id, row.type, row.tlp.value, row.scope.value, row.modified, name)
    out.print(table)


@objects_app.command("show")
def objects_show(stix_id: str, org: OrgOption = None) -> None:
    """Show one object (its latest version) as JSON."""
    node = open_node()
    latest, versions = node.exchange.get(act_as(node, org), stix_id)
    err.print(f"{latest.tlp.value}  scope {latest.scope.value}  {len(versions)} version(s)")
    out.print_json(latest.doc)


@commands.command()
def export(
    org: OrgOption = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File; default stdout.")
    ] = None,
) -> None:
    """Export what an organisation may read as one STIX 2.1 bundle."""
    node = open_node()
    from accord.store.objects import ObjectQuery

    chunks = node.exchange.export(act_as(node, org), ObjectQuery(limit=1000))
    if output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.write(b"\n")
        return
    write_file(output, chunks)
    err.print(f"wrote {output}")
