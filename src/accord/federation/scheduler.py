"""Background sync inside ``accord serve``: each peer on its own interval."""

from __future__ import annotations

import logging
import threading

from accord.errors import AccordError
from accord.federation.sync import sync_peer
from accord.node import Node

log = logging.getLogger("accord.federation")


class SyncScheduler:
    """Syncs every peer that has a token, every ``sync_interval`` seconds, until stopped."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="accord-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        settings = self._node.settings
        while not self._stop.wait(settings.sync_interval):
            for peer in self._node.federation.peers.all():
                if peer.token is None or self._stop.is_set():
                    continue
                try:
                    sync_peer(
                        self._node.federation,
                        peer.name,
                        page=settings.federation_page,
                        timeout=settings.federation_timeout,
                        max_bytes=settings.max_body_bytes,
                    )
                except AccordError as exc:
                    log.warning("scheduled sync with %s failed: %s", peer.name, exc.detail)
                except Exception:  # the scheduler must outlive any one bad sync
                    log.exception("scheduled sync with %s crashed", peer.name)
