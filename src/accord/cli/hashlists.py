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


def _hash_arg(text: str, index: int) -> Item:
    """``SIGNAL:VALUE`` or, for PDQ, ``pdq:VALUE:QUALITY``, as an item (checked later)."""
    from accord.hashlists.service import Item

    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidInput(
            f"hash {index + 1} ({text[:40]!r}): write SIGNAL:VALUE or pdq:VALUE:QUALITY"
        )
    quality = None
    if len(parts) == 3:
        try:
            quality = int(parts[2])
        except ValueError:
            raise InvalidInput(f"hash {index + 1}: the PDQ quality is a number, 0 to 100") from None
    return Item(parts[0].lower(), parts[1], quality)


@hash_app.command("lookup")
def lookup(
    list_id: Annotated[str, typer.Argument(help="The list's id.")],
    hashes: Annotated[
        list[str], typer.Argument(help="Hashes, each SIGNAL:VALUE (pdq:VALUE:QUALITY for PDQ).")
    ],
    org: OrgOption,
    peer: Annotated[
        str | None,
        typer.Option("--node", help="The peer node holding the list (its name or id)."),
    ] = None,
) -> None:
    """Look hashes up in a list the organisation may not read (granted to it or its node):
    hit or no hit with labels, as JSON Lines."""
    from accord.hashlists.capability import HASHLISTS

    items = [_hash_arg(h, i) for i, h in enumerate(hashes)]
    node = open_node()
    principal = act_as(node, org)
    lists = HASHLISTS.service(node)
    if peer is None:
        answers = lists.lookup(principal, list_id, items)
    elif lists.remote is None:
        raise InvalidInput("this node runs without federation: it has no peer nodes")
    else:
        answers = lists.remote.ask(principal, peer, list_id, items)
    for a in answers:
        line = {
            "hash": hashes[a.query],
            "hit": a.hit,
            "labels": a.labels,
            "distance": a.distance,
        }
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
    sys.stdout.flush()
    err.print(f"{len(answers)} hashes, {sum(a.hit for a in answers)} hits")


GranteeOption = Annotated[
    str | None, typer.Option("--to", help="An organisation (name or identity id).")
]
NodeOption = Annotated[
    str | None, typer.Option("--node", help="A peer node (its name here, or its node id).")
]


def _grantee(to: str | None, peer: str | None) -> None:
    if (to is None) == (peer is None):
        raise InvalidInput("give --to ORGANISATION or --node PEER, not both")


@hash_app.command("grant")
def grant(
    list_id: Annotated[str, typer.Argument(help="The list's id.")],
    org: OrgOption,
    to: GranteeOption = None,
    peer: NodeOption = None,
) -> None:
    """Let an organisation, or a peer node's organisations, look the list up without
    reading it."""
    from accord.hashlists.capability import HASHLISTS

    _grantee(to, peer)
    node = open_node()
    lists = HASHLISTS.service(node)
    if peer is not None:
        found = lists.grant_node(act_as(node, org), list_id, peer)
        out.print(f"node {found.node_id} ({found.name}) may look up {list_id}")
    else:
        lists.grant(act_as(node, org), list_id, to or "")
        out.print(f"{to} may look up {list_id}")


@hash_app.command("revoke")
def revoke(
    list_id: Annotated[str, typer.Argument(help="The list's id.")],
    org: OrgOption,
    to: GranteeOption = None,
    peer: NodeOption = None,
) -> None:
    """Withdraw an organisation's or a peer node's lookups."""
    from accord.hashlists.capability import HASHLISTS

    _grantee(to, peer)
    node = open_node()
    lists = HASHLISTS.service(node)
    if peer is not None:
        found = lists.revoke_node(act_as(node, org), list_id, peer)
        out.print(f"node {found.node_id} ({found.name}) may no longer look up {list_id}")
    else:
        lists.revoke(act_as(node, org), list_id, to or "")
        out.print(f"{to} may no longer look up {list_id}")
