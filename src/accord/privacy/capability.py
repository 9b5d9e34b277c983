"""Privacy as a capability: personal data found and rewritten per destination before it
leaves the node, the transfer log, retention, erasure across the federation, and access
requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from accord.capability import Capability, NavEntry

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.node import Node
    from accord.periodic import Periodic
    from accord.privacy.service import Privacy

RETENTION_INTERVAL = 3600.0  # seconds between purges and re-sent erasure requests


def _wire(node: Node) -> Privacy:
    from accord.federation.capability import FEDERATION
    from accord.privacy.erasure import Erasures
    from accord.privacy.service import Privacy
    from accord.store.peers import PeerRepository
    from accord.store.privacy import PrivacyRepository

    repo, peers = PrivacyRepository(node.engine), PeerRepository(node.engine)
    erasures = Erasures(
        repo,
        node.exchange,
        node.orgs,
        peers,
        node.key,
        node.clock,
        timedelta(seconds=node.settings.federation_max_skew),
    )
    privacy = Privacy(repo, node.exchange, node.orgs, node.groups, peers, node.clock, erasures)
    # Every read of another of the node's organisations' versions passes its rule too.
    node.exchange.disclosure = privacy
    if FEDERATION.runs_on(node):
        # Every object bound for a peer passes through the destination's rule.
        FEDERATION.service(node).add_transform(privacy)
    return privacy


def _api() -> Sequence[APIRouter]:
    from accord.api.routes import privacy

    return [privacy.router]


def _pages() -> Sequence[APIRouter]:
    from accord.web.pages import privacy

    return [privacy.router]


def _commands() -> Sequence[typer.Typer]:
    from accord.cli import privacy

    return [privacy.commands]


def _jobs(node: Node) -> Sequence[Periodic]:
    import httpx

    from accord.periodic import Periodic

    privacy = PRIVACY.service(node)

    def housekeeping() -> None:
        privacy.purge_expired()
        with httpx.Client(timeout=node.settings.federation_timeout) as http:
            privacy.erasures.resend_pending(http)  # to peers late with their receipts

    return [Periodic("privacy", RETENTION_INTERVAL, housekeeping)]


def _tables() -> Sequence[Table]:
    from accord.store import privacy as t

    return [
        t.privacy_rules,
        t.privacy_keys,
        t.privacy_transfers,
        t.privacy_retention,
        t.privacy_purges,
        t.privacy_erasures,
        t.privacy_erasure_peers,
        t.privacy_erasures_received,
    ]


PRIVACY: Capability[Privacy] = Capability(
    name="privacy",
    summary="Personal data redacted or pseudonymised per destination, the transfer log.",
    wire=_wire,
    api=_api,
    pages=_pages,
    nav=(NavEntry("Privacy", "/privacy"),),
    commands=_commands,
    jobs=_jobs,
    tables=_tables,
)
