"""Group commit: small writes from many threads, committed together in one transaction."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from accord.store.db import write

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Small writes from many threads, committed together ("group commit").

    ``submit`` queues one item and returns what ``write_one`` returned for it once it is
    committed, or raises what it raised. Whichever caller takes its turn first writes every
    item queued by then in one transaction; the callers whose items it wrote find their
    results ready. Under load that is one BEGIN/COMMIT, and one wait for SQLite's single
    writer slot, for many writes instead of one each. When a batch fails it is retried one
    item at a time, so a failing write fails only its own caller.
    """

    def __init__(self, engine: Engine, write_one: Callable[[Connection, T], R]) -> None:
        self._engine = engine
        self._write_one = write_one
        self._queued: list[_Pending[T, R]] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()

    def submit(self, item: T) -> R:
        pending = _Pending[T, R](item)
        with self._queue_lock:
            self._queued.append(pending)
        with self._turn:
            if not pending.done:
                with self._queue_lock:
                    batch, self._queued = self._queued, []
                self._write(batch)
        if pending.error is not None:
            raise pending.error
        return cast(R, pending.result)

    def _write(self, batch: list[_Pending[T, R]]) -> None:
        try:
            with write(self._engine) as conn:
                results = [self._write_one(conn, p.item) for p in batch]
        except Exception as exc:
            if len(batch) == 1:
                batch[0].fail(exc)
            else:
                for pending in batch:
                    self._write([pending])
            return
        except BaseException:
            for pending in batch:
                pending.fail(RuntimeError("the write was interrupted"))
            raise
        for pending, result in zip(batch, results, strict=True):
            pending.result, pending.done = result, True


class _Pending(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        self.error, self.done = error, True
