"""Background jobs inside ``accord serve``: each runs on its own thread at its own interval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("accord")


class Periodic:
    """Calls ``job`` every ``interval`` seconds until stopped; a failed run is logged, not fatal.

    ``wake`` runs it as soon as the current run (if any) ends, without waiting out the
    interval; wake-ups that arrive during a run coalesce into one more run.
    """

    def __init__(self, name: str, interval: float, job: Callable[[], None]) -> None:
        self.name = name
        self._interval = interval
        self._job = job
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"accord-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Run the job now rather than at the end of the interval (cheap, from any thread)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._job()
            except Exception:  # the node must outlive any one bad run
                log.exception("background job %s crashed", self.name)
