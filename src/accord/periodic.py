"""Background jobs inside ``accord serve``: each runs on its own thread at its own interval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("accord")


class Periodic:
    """Calls ``job`` every ``interval`` seconds until stopped; a failed run is logged, not fatal."""

    def __init__(self, name: str, interval: float, job: Callable[[], None]) -> None:
        self._name = name
        self._interval = interval
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"accord-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._job()
            except Exception:  # the node must outlive any one bad run
                log.exception("background job %s crashed", self._name)
