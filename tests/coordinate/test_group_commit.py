"""Group commit, the way acknowledgements are written: writes queued together go in one
transaction, each caller gets its own answer, and one failing write fails only its caller.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event, text

from accord.store.db import create_db_engine
from accord.store.groupcommit import GroupCommit


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = create_db_engine(f"sqlite:///{tmp_path}/group.db")
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE written (x INTEGER PRIMARY KEY)"))
    yield made
    made.dispose()


def _write(conn: Connection, x: int) -> int:
    """Store x and answer 2x; 13 is refused after it was written."""
    conn.execute(text("INSERT INTO written (x) VALUES (:x)"), {"x": x})
    if x == 13:
        raise ValueError("unlucky")
    return x * 2


def _stored(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT x FROM written ORDER BY x")).scalars())


def _commits(engine: Engine) -> list[None]:
    commits: list[None] = []
    event.listen(engine, "commit", lambda _conn: commits.append(None))
    return commits


def _queued_while_busy(group: GroupCommit[int, int], items: list[int]) -> list[Future[int]]:
    """Submit every item while another caller's turn is in progress, so they queue."""
    pool = ThreadPoolExecutor(len(items))
    with group._turn:  # as a writer in the middle of a commit would
        futures = [pool.submit(group.submit, x) for x in items]
        for _ in range(100_000):
            with group._queue_lock:
                if len(group._queued) == len(items):
                    break
            threading.Event().wait(0.001)
        else:
            pytest.fail("the callers never queued")
    pool.shutdown(wait=True)
    return futures


def test_writes_queued_together_commit_together(engine: Engine) -> None:
    group = GroupCommit(engine, _write)
    commits = _commits(engine)
    futures = _queued_while_busy(group, list(range(1, 9)))
    assert [f.result() for f in futures] == [x * 2 for x in range(1, 9)]
    assert _stored(engine) == list(range(1, 9)) and len(commits) == 1


def test_a_failing_write_fails_only_its_caller(engine: Engine) -> None:
    group = GroupCommit(engine, _write)
    futures = _queued_while_busy(group, [11, 12, 13, 14])
    with pytest.raises(ValueError, match="unlucky"):
        futures[2].result()
    assert [futures[i].result() for i in (0, 1, 3)] == [22, 24, 28]
    assert _stored(engine) == [11, 12, 14]  # 13's own insert went with its rollback


def test_one_caller_alone_is_written_at_once(engine: Engine) -> None:
    group = GroupCommit(engine, _write)
    assert group.submit(5) == 10
    with pytest.raises(ValueError):
        group.submit(13)
    assert group.submit(6) == 12
    assert _stored(engine) == [5, 6]
