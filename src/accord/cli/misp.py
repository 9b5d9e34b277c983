"""MISP: import events or feeds, export events or a feed directory, link sharing groups,
and the feeds pulled on schedule."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from accord.domain.model import Role
from accord.errors import InvalidInput

if TYPE_CHECKING:
    from accord.domain.tlp import TLP

commands = typer.Typer()
misp_app = typer.Typer(help="MISP events and feeds.", no_args_is_help=True)
commands.add_typer(misp_app, name="misp")
feed_app = typer.Typer(help="MISP feeds this node pulls on schedule.", no_args_is_help=True)
misp_app.add_typer(feed_app, name="feed")

TlpOption = Annotated[str | None, typer.Option(help="TLP for events with no tlp: tag.")]
DistOption = Annotated[
    int | None, typer.Option(min=0, max=4, help="Distribution for events with none (0-4).")
]


def _tlp(text: str | None) -> TLP | None:
    """The ``--tlp`` given, None when none was; InvalidInput for a label that is no TLP."""
    from accord.domain.tlp import TLP

    try:
        return TLP.parse(text) if text else None
    except ValueError as exc:
        raise InvalidInput(f"--tlp: {exc}") from None


def _events_of(path: Path, data: bytes) -> list[Any]:
    """The events of one file: an event, ``{"response": [...]}`` or a list of events."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not JSON (truncated?): {exc}") from None
    if isinstance(doc, dict) and isinstance(doc.get("response"), list):
        return list(doc["response"])
    if isinstance(doc, list):
        return doc
    return [doc]


@misp_app.command("import")
def import_(
    source: Annotated[str, typer.Argument(help="A MISP event file, a directory, or a feed URL.")],
    org: Annotated[str, typer.Option("--org", help="Import as this organisation.")],
    tlp: TlpOption = None,
    distribution: DistOption = None,
) -> None:
    """Import MISP events: every event is read and checked before any is stored, then each
    is stored whole. A directory with a manifest.json, or a URL, is read as a MISP feed."""
    node = open_node()
    from accord.exchange.misp.convert import ImportReport
    from accord.exchange.misp.feeds import fetch_events
    from accord.exchange.misp.feeds import source as feed_source
    from accord.exchange.misp.mapping import MispDistribution
    from accord.exchange.misp.service import bulk

    principal = act_as(node, org, Role.ANALYST)
    default_tlp = _tlp(tlp)
    default_dist = MispDistribution(distribution) if distribution is not None else None
    path = Path(source)
    payloads: list[Any] = []
    names: list[str] = []
    if source.startswith(("http://", "https://")) or (path / "manifest.json").is_file():
        import httpx

        with httpx.Client(timeout=30, follow_redirects=False) as client:
            payloads_b, names, _ = fetch_events(feed_source(source, client), {})
        payloads = list(payloads_b)
    elif path.is_dir():
        for file in sorted(p for p in path.glob("*.json") if p.is_file()):
            events = _events_of(file, read_file(file))
            payloads += events
            names += [f"{file}#{i}" if len(events) > 1 else str(file) for i in range(len(events))]
    elif path.is_file():
        payloads = _events_of(path, read_file(path))
        names = [f"{path}#{i}" for i in range(len(payloads))] if len(payloads) > 1 else [str(path)]
    else:
        raise InvalidInput(f"no such file, directory or http(s) URL: {source}")
    if not payloads:
        raise InvalidInput(f"{source}: no MISP events")
    report = ImportReport()
    misp = node.misp
    with progress() as bar, bulk():
        task = bar.add_task("checking", total=len(payloads))
        prepared = misp.prepare(
            principal,
            payloads,
            report,
            tlp=default_tlp,
            distribution=default_dist,
            names=names,
            on_checked=lambda: bar.advance(task),
        )
        task = bar.add_task("storing", total=len(prepared))
        misp.store_all(principal, prepared, report, lambda _: bar.advance(task))
    _print_report(report.as_dict())


def _print_report(report: dict[str, Any]) -> None:
    table = Table("MISP", "Accord", "count", title="mapped")
    for row in report["mapped"]:
        table.add_row(row["misp"], row["accord"], str(row["count"]))
    out.print(table)
    for note in report["notes"]:
        out.print(f"note ({note['count']}x): {note['note']}")
    out.print(
        f"imported {len(report['events'])} events ({report['attributes']} attributes, "
        f"{report['objects']} objects): stored {report['stored']} object versions "
        f"({report['duplicates']} already stored)"
    )


@misp_app.command("export")
def export(
    org: OrgOption = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File; default stdout.")
    ] = None,
    feed: Annotated[
        Path | None,
        typer.Option("--feed", help="Write a MISP feed directory (manifest, events, hashes)."),
    ] = None,
) -> None:
    """Export the MISP events an organisation may read: core format ({"response": [...]},
    distribution and sharing groups kept), or as a MISP feed directory."""
    node = open_node()
    principal = act_as(node, org)
    misp = node.misp
    if feed is not None:
        count = write_feed(misp, principal, feed)
        err.print(f"wrote {count} events to the feed {feed}")
        return

    def chunks() -> Any:
        yield b'{"response":['
        for i, event in enumerate(misp.export(principal)):
            yield (b"," if i else b"") + orjson.dumps(event)
        yield b"]}"

    if output is None:
        for chunk in chunks():
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.write(b"\n")
        return
    write_file(output, chunks())
    err.print(f"wrote {output}")


def write_feed(misp: Any, principal: Any, directory: Path) -> int:
    """A MISP feed directory as PyMISP's feed generator writes one."""
    from pymisp import MISPEvent

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot write {directory}: {exc.strerror or exc}") from None
    manifest: dict[str, Any] = {}
    hashes: list[bytes] = []
    count = 0
    for event in misp.export(principal):
        ev = MISPEvent()
        ev.load(event)
        write_file(directory / f"{ev.uuid}.json", [orjson.dumps(ev.to_feed())])
        manifest.update(ev.manifest)
        hashes += [f"{h},{ev.uuid}\n".encode() for h in ev.attributes_hashes("md5")]
        count += 1
    write_file(directory / "hashes.csv", hashes)
    write_file(directory / "manifest.json", [orjson.dumps(manifest)])
    return count


@misp_app.command("link-group")
def link_group(
    misp_uuid: Annotated[str, typer.Argument(help="The MISP sharing group's UUID.")],
    group: Annotated[str, typer.Argument(help="The local sharing group's slug.")],
    org: Annotated[str, typer.Option("--org", help="An admin's organisation.")],
) -> None:
    """Link a MISP sharing group to a local sharing group (events name it by UUID)."""
    node = open_node()
    node.misp.link_group(act_as(node, org, Role.ADMIN), misp_uuid, group)
    out.print(f"MISP sharing group {misp_uuid} is the local group {group}")


@feed_app.command("add")
def feed_add(
    name: str,
    url: Annotated[str, typer.Argument(help="A directory or an http(s) URL.")],
    org: Annotated[str, typer.Option("--org", help="Import as this organisation.")],
    tlp: TlpOption = None,
    distribution: Annotated[
        int, typer.Option(min=0, max=4, help="Distribution for events with none.")
    ] = 0,
) -> None:
    """Pull a MISP feed on schedule (``accord serve``)."""
    default_tlp = _tlp(tlp)
    if not url.startswith(("http://", "https://")) and not Path(url).is_dir():
        raise InvalidInput(f"no feed directory or http(s) URL: {url}")
    node = open_node()
    node.misp.add_feed(
        act_as(node, org, Role.ADMIN),
        name,
        url,
        distribution=distribution,
        tlp=default_tlp,
        directory=True,
    )
    out.print(f"added MISP feed {name}")


@feed_app.command("list")
def feed_list() -> None:
    """The feeds this node pulls, with how far each has got."""
    node = open_node()
    table = Table("name", "url", "events", "last pulled", "last error")
    for f in node.misp.repo.feeds():
        pulled = f.last_pulled.isoformat() if f.last_pulled else ""
        table.add_row(f.name, f.url, str(len(f.cursor)), pulled, f.last_error or "")
    out.print(table)


@feed_app.command("pull")
def feed_pull(name: str) -> None:
    """Pull one feed now (what is new since its cursor)."""
    node = open_node()
    from accord.exchange.misp.feeds import pull_feed

    feed = node.misp.repo.feed(name)
    if feed is None:
        raise InvalidInput(f"no MISP feed {name!r}")
    result = pull_feed(node.misp, feed)
    _print_report(result.report.as_dict())
    out.print(f"{result.fetched} events fetched, {result.up_to_date} up to date")
