"""Two real node processes: bravo witnesses alpha's log, and notices when alpha rewrites it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from accord.audit.capability import AUDIT
from accord.domain.tlp import TLP
from tests.audit.tamper import rewrite_from
from tests.builders import indicator
from tests.federation.cluster import analyst, cluster

pytestmark = pytest.mark.server


def _accord(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_peer_notices_a_rewritten_log(tmp_path: Path) -> None:
    with cluster(tmp_path, ["alpha", "bravo"], [("alpha", "bravo")]) as m:
        alpha, bravo = m["alpha"], m["bravo"]
        alpha.node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        objs = [indicator(f"10.9.0.{i}", tlp=TLP.GREEN) for i in range(10)]
        bundle = {"type": "bundle", "id": "bundle--5d6c8b4e-0e8b-4b8a-9d4f-9e2b1c3d4e5f"}
        alpha.node.exchange.ingest(analyst(alpha.node, "alpha-cert"), {**bundle, "objects": objs})

        log = AUDIT.service(alpha.node)
        first = _accord(bravo.env, tmp_path, "audit", "witness")
        assert first.returncode == 0, first.stderr
        assert f"{alpha.node.key.node_id} size {log.size()}: ok" in first.stdout

        alpha.node.exchange.get(analyst(alpha.node, "alpha-cert"), objs[0]["id"])
        again = _accord(bravo.env, tmp_path, "audit", "witness")
        seen_size = log.size()
        assert again.returncode == 0 and f"size {seen_size}: ok" in again.stdout

        rewrite_from(alpha.node, 1, 20)  # alpha's operator rewrites history from entry 1
        caught = _accord(bravo.env, tmp_path, "audit", "witness")
        assert caught.returncode == 1
        assert f"{alpha.node.key.node_id} size {seen_size}: FORKED: forked" in caught.stdout
        seen = AUDIT.service(bravo.node).witnesses()
        assert [w.state for w in seen] == ["forked"]
        assert [e.decision for e in AUDIT.service(bravo.node).entries(None, 1)] == ["fork"]

        verify = _accord(alpha.env, tmp_path, "audit", "verify")
        assert verify.returncode == 1
        assert verify.stderr.strip().startswith("audit log tampered: entry ")
