"""Scheduled sync inside ``accord serve``: every peer with a token, every ``sync_interval``.

With push on publish (``accord.federation.push``) a share reaches the peers within a
second; the scheduled sync stays the safety net, for a peer that was down, and pulls
what peers hold for this node.
"""

from __future__ import annotations

import logging

from accord.errors import AccordError
from accord.federation.service import Federation
from accord.federation.sync import PeerLocks, peer_http, sync_peer
from accord.periodic import Periodic
from accord.settings import Settings

log = logging.getLogger("accord.federation")


def sync_scheduler(
    federation: Federation, settings: Settings, locks: PeerLocks | None = None
) -> Periodic:
    """A background job that syncs each peer in turn; one failing peer does not stop the rest.

    ``locks`` (shared with push on publish) keeps two pushes to one peer from overlapping.
    """
    held = locks or PeerLocks()

    def sync_all() -> None:
        with peer_http(settings.federation_timeout) as http:
            for name in federation.peer_names(with_token=True):
                try:
                    with held(name):
                        sync_peer(
                            federation,
                            name,
                            http,
                            page=settings.federation_page,
                            max_bytes=settings.max_body_bytes,
                        )
                except AccordError as exc:
                    log.warning("scheduled sync with %s failed: %s", name, exc.detail)

    return Periodic("sync", settings.sync_interval, sync_all)
