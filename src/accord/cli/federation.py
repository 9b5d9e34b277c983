"""This node's identity, its peers, and syncing with them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TaskID

from accord.cli.common import err, open_node, out, progress
from accord.errors import AccordError, InvalidInput

if TYPE_CHECKING:
    from accord.node import Node

commands = typer.Typer()

node_app = typer.Typer(help="This node's identity.", no_args_is_help=True)
peer_app = typer.Typer(help="Peer nodes this node federates with.", no_args_is_help=True)
commands.add_typer(node_app, name="node")
commands.add_typer(peer_app, name="peer")


@node_app.command("info")
def node_info() -> None:
    """Show this node's id, public key and address, to give to peers."""
    node = open_node()
    out.print(f"name        {node.settings.node_name}")
    out.print(f"node id     {node.key.node_id}")
    out.print(f"public key  {node.key.public_b64}")
    out.print(f"fingerprint {node.federation.fingerprint}")
    out.print(f"url         {node.settings.base_url}")


@node_app.command("rotate-key")
def node_rotate_key() -> None:
    """Hand this node's identity over to a new key; peers follow it from the next sync."""
    node = open_node()
    key = node.federation.rotate_key(None)
    out.print(f"node id     {key.node_id} (unchanged)")
    out.print(f"public key  {key.public_b64}")
    out.print(f"fingerprint {node.federation.fingerprint}")
    err.print(
        "restart `accord serve` so it signs with the new key; peers follow the handover "
        "(signed by the old key) on the next message, with nothing to do on their side"
    )


@peer_app.command("add")
def peer_add(
    name: str,
    url: str,
    key: Annotated[str, typer.Option("--key", help="The peer's public key (accord node info).")],
    token: Annotated[
        str | None, typer.Option("--token", help="The token the peer issued for this node.")
    ] = None,
    node_id: Annotated[
        str | None,
        typer.Option("--node-id", help="The peer's node id, for a peer that has rotated its key."),
    ] = None,
    confirmed: Annotated[
        str | None,
        typer.Option(
            "--fingerprint",
            help="The key's fingerprint as the peer's operator read it to you (SHA256:...).",
        ),
    ] = None,
) -> None:
    """Register a peer node; prints the token to give to the peer's operator (shown once).

    As SSH does on first contact, it shows the key's fingerprint: confirm it with the
    peer's operator over another channel (a call), then answer yes or pass --fingerprint.
    """
    node = open_node()
    shown = node.federation.peer_fingerprint(url, key)
    err.print(f"{name}'s key fingerprint is {shown}")
    if confirmed is not None:
        if confirmed.strip() != shown:
            raise InvalidInput(
                f"the key's fingerprint is {shown}, not {confirmed.strip()}: check the key "
                "with the peer's operator before adding it"
            )
    elif not sys.stdin.isatty():
        raise InvalidInput(
            "confirm the key first: ask the peer's operator to read out `accord node info`'s "
            f"fingerprint, then pass --fingerprint {shown}"
        )
    elif not typer.confirm("Is this the fingerprint the peer's operator read out to you?"):
        raise InvalidInput("peer not added: the fingerprint was not confirmed")
    peer, issued = node.federation.add_peer(name, url, key, token, node_id)
    err.print(f"peer {peer.name} added (node id {peer.node_id}). Give its operator this token:")
    out.print(issued, soft_wrap=True)


@peer_app.command("token")
def peer_token(name: str, token: str) -> None:
    """Set the token a peer issued for this node."""
    open_node().federation.set_peer_token(name, token)
    out.print(f"token for {name} set")


@peer_app.command("list")
def peer_list() -> None:
    """List peers."""
    _status_table(open_node())


@peer_app.command("status")
def peer_status() -> None:
    """Each peer's last success, lag and last error."""
    _status_table(open_node())


def _status_table(node: Node) -> None:
    """One block per peer: too many figures for a table in a terminal's width."""
    from accord.audit.capability import AUDIT
    from accord.audit.witness import describe, witnessed

    statuses = node.federation.statuses(None)
    logs = witnessed(AUDIT.service(node)) if AUDIT.runs_on(node) else None
    if not statuses:
        out.print("no peers yet: `accord peer add` registers one")
    for s in statuses:
        lag = f"{s.lag_seconds:.0f} s" if s.lag_seconds is not None else "-"
        out.print(f"[bold]{s.name}[/bold]  {s.url}", soft_wrap=True)
        for label, value in (
            ("fingerprint", s.fingerprint),
            ("token", "held" if s.has_token else "none yet"),
            ("pushed", str(s.pushed)),
            ("pulled", str(s.pulled)),
            ("last success", f"{s.last_success or 'never'} (lag {lag})"),
            ("last error", s.last_error or "-"),
            ("refused by it", _count(s.refused, s.last_refusal)),
            ("rejected from it", _count(s.rejected, s.last_rejection)),
            ("pending here", _count(s.pending, s.pending_reason)),
            *([("audit log", logs.get(s.node_id, describe(None)))] if logs is not None else []),
        ):
            out.print(f"  {label:<17} {value}", soft_wrap=True, highlight=False, markup=False)


def _count(count: int, reason: str | None) -> str:
    return f"{count}: {reason}" if count and reason else str(count)


@commands.command()
def sync(
    peer: Annotated[str | None, typer.Argument(help="One peer; default: all.")] = None,
) -> None:
    """Sync with peers now: pull what they offer, push what they may receive."""
    from accord.runtime import settle

    node = open_node()
    settle(warm=False)  # a sync may carry millions of objects: freeze start-up's heap
    names = [peer] if peer else node.federation.peer_names()
    failed = 0
    from accord.federation.sync import peer_http, sync_peer

    with peer_http(node.settings.federation_timeout) as http:
        for name in names:
            with progress() as bar:
                task = bar.add_task(f"sync {name}", total=None)

                def advance(_what: str, n: int, task: TaskID = task) -> None:
                    bar.advance(task, n)

                try:
                    report = sync_peer(
                        node.federation,
                        name,
                        http,
                        page=node.settings.federation_page,
                        max_bytes=node.settings.max_body_bytes,
                        progress=advance,
                    )
                except AccordError as exc:
                    if len(names) == 1:
                        raise
                    err.print(f"error: {name}: {exc.detail}", markup=False, highlight=False)
                    failed += 1
                    continue
            note = f", {report.undeliverable} undeliverable" if report.undeliverable else ""
            out.print(f"{name}: pulled {report.pulled}, pushed {report.pushed}{note}")
    if failed:
        raise typer.Exit(7)
