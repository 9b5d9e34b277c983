"""``accord hash``: hash lists from the command line; files are hashed here, never sent."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from accord.cli.common import act_as, err, open_node, out, progress
from accord.errors import InvalidInput

if TYPE_CHECKING:
    from accord.hashlists.service import Item

commands = typer.Typer()
hash_app = typer.Typer(help="Shared hash lists (PDQ, MD5, SHA-256).", no_args_is_help=True)
commands.add_typer(hash_app, name="hash")

OrgOption = Annotated[str, typer.Option("--org", help="Act as this organisation.")]


def _files(paths: list[Path]) -> list[Path]:
    """Files named, and files under directories named (sorted), or InvalidInput."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or directory")
    return found


def _hash_all(files: list[Path], pdq: bool) -> list[tuple[Path, Item]]:
    """Every signal of every file, or InvalidInput naming the first that fails."""
    from accord.hashlists.service import Item
    from accord.hashlists.signals import SignalError, hash_file

    items: list[tuple[Path, Item]] = []
    with progress() as bar:
        task = bar.add_task("hashing", total=len(files))
        for path in files:
            try:
                hashed = hash_file(path, pdq=pdq)
            except SignalError as exc:
                raise InvalidInput(f"{path}: {exc}") from None
            items += [(path, Item(h.signal, h.value, h.quality)) for h in hashed]
            bar.advance(task)
    return items


@hash_app.command("match")
def match(
    paths: Annotated[list[Path], typer.Argument(help="Files and directories to hash and match.")],
    org: OrgOption,
    threshold: Annotated[
        int | None, typer.Option(help="PDQ Hamming threshold (default 31).")
    ] = None,
    sightings: Annotated[
        bool, typer.Option("--sightings", help="Report hits back to the owners as sightings.")
    ] = False,
) -> None:
    """Hash local files (content stays here) and print hits as JSON Lines."""
    from accord.hashlists.capability import HASHLISTS
    from accord.hashlists.signals import PDQ

    node = open_node()
    principal = act_as(node, org)
    lists = HASHLISTS.service(node)
    hashed = _hash_all(_files(paths), pdq=True)
    # A PDQ too flat to match on is left out, not refused: its MD5 and SHA-256 still count.
    usable = [
        (p, i) for p, i in hashed if i.signal != PDQ.name or (i.quality or 0) >= lists.quality
    ]
    hits = 0
    for start in range(0, len(usable), 10_000):
        batch = usable[start : start + 10_000]
        result = lists.match(
            principal, [i for _, i in batch], threshold=threshold, sightings=sightings
        )
        for hit in result.hits:
            path, item = batch[hit.query]
            line = {
                "path": str(path),
                "signal": item.signal,
                "entry": hit.entry,
                "list": hit.list_id,
                "list_name": hit.list_name,
                "distance": hit.distance,
                "labels": hit.labels,
                "state": hit.state.value,
                "held": hit.held,
            }
            sys.stdout.write(orjson.dumps(line).decode() + "\n")
            hits += 1
    sys.stdout.flush()
    err.print(f"{len({p for p, _ in hashed})} files, {len(usable)} hashes, {hits} hits")


@hash_app.command("lists")
def lists_(org: OrgOption) -> None:
    """The hash lists the organisation may read."""
    from accord.hashlists.capability import HASHLISTS

    node = open_node()
    for h in HASHLISTS.service(node).lists(act_as(node, org)):
        out.print(f"{h.id}\t{h.tlp.value}\t{h.scope.value}\t{h.polarity.value}\t{h.name}")


@hash_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The list's name.")],
    org: OrgOption,
    criterion: Annotated[
        list[str], typer.Option(help="An inclusion criterion, ID=TEXT (repeatable).")
    ],
    description: Annotated[str, typer.Option(help="What the list holds.")] = "",
    negative: Annotated[bool, typer.Option(help="A negative list: its hits suppress.")] = False,
    tlp: Annotated[str, typer.Option(help="TLP marking.")] = "amber",
    scope: Annotated[str | None, typer.Option(help="Distribution scope.")] = None,
    group: Annotated[str | None, typer.Option(help="Sharing group (scope group).")] = None,
) -> None:
    """Create a hash list owned by the organisation; prints its id."""
    from accord.exchange.service import ShareRequest
    from accord.hashlists.capability import HASHLISTS

    criteria = []
    for c in criterion:
        cid, sep, text = c.partition("=")
        if not sep:
            raise InvalidInput(f"--criterion {c[:40]!r}: write ID=TEXT")
        criteria.append({"id": cid, "text": text})
    node = open_node()
    created = HASHLISTS.service(node).create_list(
        act_as(node, org),
        name=name,
        description=description,
        criteria=criteria,
        polarity="negative" if negative else "positive",
        share=ShareRequest.parse(tlp, scope, [], group),
    )
    out.print(created.id)


@hash_app.command("add")
def add(
    list_id: Annotated[str, typer.Argument(help="The list's id.")],
    paths: Annotated[list[Path], typer.Argument(help="Files and directories to hash and add.")],
    org: OrgOption,
    criterion: Annotated[str, typer.Option(help="The list criterion the content meets.")],
    labels: Annotated[
        str, typer.Option(help='Labels as JSON, e.g. {"content_type": "image"}.')
    ] = "{}",
) -> None:
    """Hash local files and add their MD5 and SHA-256, and the PDQ of images."""
    from accord.hashlists.capability import HASHLISTS
    from accord.hashlists.service import NewEntry

    try:
        parsed = orjson.loads(labels)
    except orjson.JSONDecodeError:
        raise InvalidInput("--labels is not JSON") from None
    hashed = _hash_all(_files(paths), pdq=True)
    entries = [NewEntry(i.signal, i.value, criterion, parsed, i.quality) for _, i in hashed]
    node = open_node()
    ids = HASHLISTS.service(node).add_entries(act_as(node, org), list_id, entries)
    out.print(f"{len(ids)} entries added")


@hash_app.command("disable")
def disable(
    entry_id: Annotated[str, typer.Argument(help="The entry's id.")],
    org: OrgOption,
    reason: Annotated[str, typer.Option(help="Why (logged, and carried by the new version).")],
) -> None:
    """Disable one entry without disabling its list."""
    from accord.hashlists.capability import HASHLISTS

    node = open_node()
    HASHLISTS.service(node).set_disabled(act_as(node, org), entry_id, True, reason)
    out.print(f"{entry_id} disabled")


@hash_app.command("report")
def report(
    list_id: Annotated[str, typer.Argument(help="The list's id.")],
    org: OrgOption,
    days: Annotated[int, typer.Option(min=1, max=3660, help="The period: the last N days.")] = 30,
) -> None:
    """The list's transparency report for the last N days, as JSON."""
    from accord.hashlists.capability import HASHLISTS

    node = open_node()
    now = node.clock()
    found = HASHLISTS.service(node).report(
        act_as(node, org), list_id, now - timedelta(days=days), now + timedelta(seconds=1)
    )
    sys.stdout.write(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode() + "\n")
