"""``accord match``: check logs against the indicators an organisation may read."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.table import Table

from accord.cli.common import act_as, err, open_node, progress
from accord.detect.readers import FORMATS, ReadStats, parse_mapping
from accord.errors import InvalidInput

if TYPE_CHECKING:
    from accord.detect.service import Match

commands = typer.Typer()


@commands.command()
def match(
    logs: Annotated[list[str], typer.Argument(help="Log files (gzip too); '-' reads stdin.")],
    org: Annotated[str, typer.Option("--org", help="Match as this organisation.")],
    fmt: Annotated[
        str, typer.Option("--format", help=f"Log format: {', '.join(FORMATS)}.")
    ] = "auto",
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="COLUMN=KIND for CSV/JSON (kinds: ipv4, domain, md5…)."),
    ] = None,
    subdomains: Annotated[
        bool, typer.Option(help="A domain indicator also matches its subdomains.")
    ] = False,
    sightings: Annotated[
        bool, typer.Option("--sightings", help="Report sightings back to indicators' owners.")
    ] = False,
    engine: Annotated[
        str,
        typer.Option(help="local: this process; dask: partitions of the logs on a Dask cluster."),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler to join (tcp://HOST:PORT); none: a local cluster."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes of the local Dask cluster.")
    ] = None,
    partition_mb: Annotated[
        int | None, typer.Option(help="Bytes of log per Dask task, in MiB (default 64).")
    ] = None,
) -> None:
    """Print matches as JSON Lines on stdout and a summary table on stderr.

    Logs are paths or fsspec URLs (file://, zip://…): CSV, JSON Lines, Zeek, Suricata,
    value lists or Parquet, gzip too. Sightings are reported once every log is matched.
    """
    from accord.detect.service import tally  # the service brings the store: loaded here

    if partition_mb is not None and partition_mb < 1:
        raise InvalidInput("--partition-mb must be at least 1")
    node = open_node()
    principal = act_as(node, org)
    mapping = parse_mapping(field or []) or None
    loaded = node.detection.load(principal, subdomains=subdomains, patterns=engine == "dask")
    stats = ReadStats()
    found: list[Match] = []
    with progress() as bar:
        task = bar.add_task("matching", total=None)
        # CSV and Parquet go through the vectorised screen: only rows that may match
        # become records; the dask engine runs the same over partitions of the logs.
        matches = node.detection.match_logs(
            loaded,
            logs,
            stats,
            fmt=fmt,
            mapping=mapping,
            engine=engine,
            scheduler=scheduler,
            workers=workers,
            partition_size=None if partition_mb is None else partition_mb << 20,
        )
        for hit in matches:
            sys.stdout.write(orjson.dumps(hit.as_dict()).decode() + "\n")
            found.append(hit)
            bar.update(task, completed=stats.records)
        bar.update(task, completed=stats.records)
    sys.stdout.flush()
    tallies = tally(found)
    table = Table("", "count", title="accord match")
    rows = [
        ("indicators compiled", loaded.matchers.stats.compiled),
        ("indicators on stix2-matcher (fallback)", loaded.matchers.stats.fallback),
        ("indicators rejected (unparseable)", len(loaded.matchers.stats.rejected)),
        ("indicators left out: revoked, expired, not yet valid", None),
        ("lines read", stats.lines),
        ("records", stats.records),
        ("malformed lines", stats.malformed),
        ("matches", len(found)),
        ("indicators matched", len(tallies)),
    ]
    for label, value in rows:
        shown = (
            f"{loaded.revoked}, {loaded.expired}, {loaded.not_yet_valid}"
            if value is None
            else str(value)
        )
        table.add_row(label, shown)
    err.print(table)
    for name, line, reason in stats.examples:
        err.print(f"malformed: {name} line {line}: {reason}", markup=False, highlight=False)
    if sightings and tallies:
        report = node.detection.report_sightings(principal, loaded, tallies)
        err.print(f"{len(report.stored)} sightings reported to the indicators' owners")
