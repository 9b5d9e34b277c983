"""Scheduled sync inside ``accord serve``: every peer with a token, every ``sync_interval``."""

from __future__ import annotations

import logging

from accord.errors import AccordError
from accord.federation.sync import peer_http, sync_peer
from accord.node import Node
from accord.periodic import Periodic

log = logging.getLogger("accord.federation")


def sync_scheduler(node: Node) -> Periodic:
    """A background job that syncs each peer in turn; one failing peer does not stop the rest."""
    settings = node.settings

    def sync_all() -> None:
        with peer_http(settings.federation_timeout) as http:
            for peer in node.federation.peers.all():
                if peer.token is None:
                    continue
                try:
                    sync_peer(
                        node.federation,
                        peer.name,
                        http,
                        page=settings.federation_page,
                        max_bytes=settings.max_body_bytes,
                    )
                except AccordError as exc:
                    log.warning("scheduled sync with %s failed: %s", peer.name, exc.detail)

    return Periodic("sync", settings.sync_interval, sync_all)
