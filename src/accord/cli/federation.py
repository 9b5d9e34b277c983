"""This node's identity, its peers, and syncing with them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TaskID
from rich.table import Table

from accord.cli.common import err, open_node, out, progress
from accord.errors import AccordError

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
    out.print(f"url         {node.settings.base_url}")


@peer_app.command("add")
def peer_add(
    name: str,
    url: str,
    key: Annotated[str, typer.Option("--key", help="The peer's public key (accord node info).")],
    token: Annotated[
        str | None, typer.Option("--token", help="The token the peer issued for this node.")
    ] = None,
) -> None:
    """Register a peer node; prints the token to give to the peer's operator (shown once)."""
    node = open_node()
    peer, issued = node.federation.add_peer(name, url, key, token)
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
    table = Table("peer", "url", "pushed", "pulled", "last success", "lag s", "last error")
    for s in node.federation.statuses(None):
        table.add_row(
            s.name,
            s.url,
            str(s.pushed),
            str(s.pulled),
            str(s.last_success or "never"),
            f"{s.lag_seconds:.0f}" if s.lag_seconds is not None else "-",
            s.last_error or "-",
        )
    out.print(table)


@commands.command()
def sync(
    peer: Annotated[str | None, typer.Argument(help="One peer; default: all.")] = None,
) -> None:
    """Sync with peers now: pull what they offer, push what they may receive."""
    node = open_node()
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
