"""Federation between real node processes: a sync killed midway, the scheduled sync."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.exchange.service import ShareRequest
from accord.store.tables import stix_objects
from tests.builders import indicator
from tests.federation.cluster import analyst, cluster, stored_ids

pytestmark = pytest.mark.server
NAMES = ["alpha", "bravo"]


def test_sync_killed_midway_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    # Without push on publish: bravo's own sync, killed, is what carries the objects.
    with cluster(tmp_path, NAMES, [("alpha", "bravo")], federation_push="false") as m:
        alpha, bravo = m["alpha"], m["bravo"]
        alpha.node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        total = 5000
        objs = [indicator(f"10.0.{i // 250}.{i % 250}", tlp=TLP.GREEN) for i in range(total)]
        for start in range(0, total, 1000):
            alpha.node.exchange.ingest(
                analyst(alpha.node, "alpha-cert"),
                {
                    "type": "bundle",
                    "id": "bundle--5d6c8b4e-0e8b-4b8a-9d4f-9e2b1c3d4e5f",
                    "objects": objs[start : start + 1000],
                },
                ShareRequest(scope=Scope.FEDERATION),
            )
        env = {**bravo.env, "ACCORD_FEDERATION_PAGE": "50"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "accord", "sync", "alpha"], env=env, cwd=tmp_path
        )
        deadline = time.monotonic() + 60
        while (
            len(stored_ids(bravo.node)) < 300
            and time.monotonic() < deadline
            and proc.poll() is None
        ):
            time.sleep(0.02)
        assert proc.poll() is None, "the sync finished before it could be killed"
        proc.kill()  # SIGKILL, mid-sync
        proc.wait()
        partial = len(stored_ids(bravo.node))
        assert 0 < partial < total
        done = subprocess.run(
            [sys.executable, "-m", "accord", "sync", "alpha"],
            env=bravo.env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        with bravo.node.engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(stix_objects)).scalar_one()
        assert rows == total == len(stored_ids(bravo.node))


def test_serve_syncs_on_schedule(tmp_path: Path) -> None:
    off = {"federation_push": "false"}  # the schedule alone
    with cluster(tmp_path, NAMES, [("alpha", "bravo")], sync_interval="1", **off) as m:
        alpha = m["alpha"].node
        alpha.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        obj = indicator(tlp=TLP.GREEN)
        alpha.exchange.ingest(
            analyst(alpha, "alpha-cert"), obj, ShareRequest(scope=Scope.FEDERATION)
        )
        deadline = time.monotonic() + 90

        def arrived_and_recorded() -> bool:
            # Either side's scheduler may carry it; alpha's own sync must also succeed.
            synced = alpha.federation.peer("bravo").last_success is not None
            return synced and obj["id"] in stored_ids(m["bravo"].node)

        while not arrived_and_recorded() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert arrived_and_recorded()
