"""Push on publish: a share goes to every peer that may receive it within a second.

Inside ``accord serve`` one watcher thread looks at the store's change marker
(``accord.store.changes``: the newest ``date_added`` and onward share) every
``federation_push_poll`` seconds, and at once when this process's ``Exchange`` commits
a write (``Exchange.on_commit``). Writes land in the server's worker processes, the CLI
or a peer's message; the watcher runs once per node, in ``accord serve``'s own process,
so the marker is what crosses processes. When the marker moves, each peer's worker is
woken.

Each peer has its own worker thread and HTTP client, so a slow or unreachable peer
delays no other. A worker pushes with ``sync.push_peer``, the scheduled sync's own push:
signed messages of up to ``federation_page`` versions from the peer's push cursor, each
accepted by the peer before the cursor moves past it. So every guarantee of the sync
holds (all or nothing per message, a kill at any point loses and duplicates nothing,
nothing goes back to a node it came through). Wake-ups during a push coalesce into one
more push, which carries everything stored meanwhile: a burst of shares travels in a
few messages, not one per share. A failed push is retried after a wait that starts at
``federation_push_backoff`` seconds and doubles up to ``federation_push_backoff_max``;
the scheduled sync (``sync_interval``) remains the safety net.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from accord.errors import AccordError, NotFound
from accord.federation.service import Federation
from accord.federation.sync import PeerLocks, peer_http, push_peer
from accord.periodic import Periodic
from accord.settings import Settings
from accord.store.changes import Marker

log = logging.getLogger("accord.federation")
_UNSEEN = object()  # the marker before the first look: every peer is pushed to at start


class PeerPusher:
    """One peer's push worker: pushes when poked, backs off after a failure."""

    def __init__(
        self,
        name: str,
        push: Callable[[], int],
        close: Callable[[], None],
        *,
        gather: float,
        backoff: float,
        backoff_max: float,
    ) -> None:
        self.name = name
        self._push = push
        self._close = close
        self._gather = gather
        self._backoff = backoff
        self._backoff_max = backoff_max
        self._due = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"accord-push-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def poke(self) -> None:
        """There may be something new for this peer: push soon (coalesces with any pending)."""
        self._due.set()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._due.set()
        self._thread.join(timeout=max(timeout, 0))

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._close()

    def _loop(self) -> None:
        delay = 0.0
        while True:
            self._due.wait()
            # Let the rest of a burst land, so that it travels in one message.
            if self._stop.wait(self._gather):
                return
            self._due.clear()
            try:
                pushed = self._push()
                if pushed:
                    log.info("pushed %d versions to %s", pushed, self.name)
                delay = 0.0
                continue
            except NotFound:
                return  # the peer is gone
            except AccordError as exc:
                log.warning("push to %s failed: %s", self.name, exc.detail)
            except Exception:  # a bug must not end pushes to this peer for good
                log.exception("push to %s crashed", self.name)
            delay = min(max(2 * delay, self._backoff), self._backoff_max)
            self._due.set()  # what failed is still due: again after the wait
            if self._stop.wait(delay):
                return


class Pusher(Periodic):
    """The watcher: wakes each peer's ``PeerPusher`` whenever the change marker moves."""

    def __init__(
        self,
        federation: Federation,
        settings: Settings,
        changes: Callable[[], Marker],
        locks: PeerLocks,
    ) -> None:
        super().__init__("push", settings.federation_push_poll, self._look)
        self._federation = federation
        self._settings = settings
        self._changes = changes
        self._locks = locks
        self._seen: object = _UNSEEN
        self.peers: dict[str, PeerPusher] = {}

    def _look(self) -> None:
        marker = self._changes()
        moved = marker != self._seen
        self._seen = marker
        for name in self._federation.peer_names(with_token=True):
            worker = self.peers.get(name)
            if worker is None or not worker.alive:
                # A new peer (or one whose worker ended) gets what is due to it at once.
                worker = self.peers[name] = self._worker(name)
                worker.start()
                worker.poke()
            elif moved:
                worker.poke()

    def _worker(self, name: str) -> PeerPusher:
        settings = self._settings
        http = peer_http(settings.federation_timeout)

        def push() -> int:
            with self._locks(name):
                newest = self._changes()[0]  # before the first page is read
                return push_peer(
                    self._federation,
                    name,
                    http,
                    page=settings.federation_page,
                    max_bytes=settings.max_body_bytes,
                    horizon=newest,
                )

        return PeerPusher(
            name,
            push,
            http.close,
            gather=settings.federation_push_gather,
            backoff=settings.federation_push_backoff,
            backoff_max=settings.federation_push_backoff_max,
        )

    def stop(self) -> None:
        super().stop()
        deadline = time.monotonic() + 10
        for worker in self.peers.values():
            worker.stop(deadline - time.monotonic())
