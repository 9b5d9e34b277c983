"""Sovereign federation between real node processes: four nodes, each homing its own
organisations; one node's group enforced on the others with no step there."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
import rfc8785

from accord.domain.collections import FEDERATION_COLLECTION
from accord.exchange.taxii import MEDIA_TYPE
from accord.federation.sync import SIGNATURE
from tests.builders import indicator
from tests.federation.cluster import Member, cluster, stored_ids

pytestmark = pytest.mark.server
NAMES = ["alpha", "bravo", "charlie", "delta"]


def _token(member: Member, org: str) -> str:
    return member.node.accounts.create_token(None, org, "analyst", "test", None).plaintext


def _get(member: Member, token: str, stix_id: str) -> int:
    return httpx.get(
        f"{member.url}/api/v1/objects/{stix_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).status_code


def _cli(member: Member, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord", *argv],
        env=member.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _sync_all(m: dict[str, Member]) -> None:
    for a in m:
        for b in m[a].node.federation.peer_names():
            m[a].sync(b)


def test_four_sovereign_nodes(tmp_path: Path) -> None:
    edges = [(a, b) for i, a in enumerate(NAMES) for b in NAMES[i + 1 :]]
    with cluster(tmp_path, NAMES, edges) as m:
        for name in NAMES:
            m[name].node.accounts.add_org(None, f"{name}-cert", "national-cert", "SG")
            m[name].node.accounts.add_org(None, f"{name}-bank", "private-sector", "SG")
        _sync_all(m)
        alpha, bravo, charlie, delta = (m[n] for n in NAMES)

        # Node alpha cannot speak for bravo's CERT: no token, one clear line.
        refused = _cli(alpha, "token", "create", "bravo-cert", "--role", "analyst")
        assert refused.returncode != 0 and "homed on node" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and not refused.stdout

        # A group owned on alpha, with members on bravo and charlie: no step there.
        for argv in (
            ("group", "add", "asean-certs", "--name", "ASEAN national CERTs"),
            ("group", "member", "asean-certs", "alpha-cert"),
            ("group", "member", "asean-certs", "bravo-cert"),
            ("group", "member", "asean-certs", "charlie-cert"),
        ):
            done = _cli(alpha, *argv)
            assert done.returncode == 0, done.stderr
        obj = indicator("203.0.113.77")
        posted = httpx.post(
            f"{alpha.url}/api/v1/objects",
            params={"tlp": "amber", "scope": "group", "group": "asean-certs"},
            content=orjson.dumps(obj),
            headers={
                "Authorization": f"Bearer {_token(alpha, 'alpha-cert')}",
                "Content-Type": "application/stix+json",
            },
            timeout=30,
        )
        assert posted.status_code == 201, posted.text
        _sync_all(m)
        assert _get(bravo, _token(bravo, "bravo-cert"), obj["id"]) == 200
        assert _get(charlie, _token(charlie, "charlie-cert"), obj["id"]) == 200
        assert _get(bravo, _token(bravo, "bravo-bank"), obj["id"]) == 404
        assert obj["id"] not in stored_ids(delta.node)
        copy = next(g for g in bravo.node.accounts.groups.all() if g.owner_node is not None)
        changed = _cli(bravo, "group", "member", copy.slug, "bravo-bank")
        assert changed.returncode != 0 and "only that node" in changed.stderr

        # A late joiner on delta receives the backlog.
        assert _cli(alpha, "group", "member", "asean-certs", "delta-cert").returncode == 0
        _sync_all(m)
        assert _get(delta, _token(delta, "delta-cert"), obj["id"]) == 200

        # A forged message from alpha speaking for bravo's CERT: rejected, counted.
        peer = alpha.node.federation.peer("bravo")
        message = orjson.loads(alpha.node.federation.outgoing(peer, None, 10).body)
        message["objects"] = [indicator("203.0.113.78")]
        message["x_accord_meta"] = [
            dict(
                message["x_accord_meta"][0],
                owner=bravo.node.accounts.orgs.find("bravo-cert").identity_id,
            )
        ]
        message["x_accord_nonce"] = uuid.uuid4().hex
        body = rfc8785.dumps(message)
        answer = httpx.post(
            f"{bravo.url}/taxii2/api/collections/{FEDERATION_COLLECTION}/objects/",
            content=body,
            headers={
                "Authorization": f"Bearer {peer.token}",
                "Content-Type": MEDIA_TYPE,
                "Accept": MEDIA_TYPE,
                SIGNATURE: alpha.node.key.sign(body),
            },
            timeout=30,
        )
        assert answer.status_code == 403
        status = _cli(bravo, "peer", "status")
        assert status.returncode == 0 and "rejected from it  1: " in status.stdout
