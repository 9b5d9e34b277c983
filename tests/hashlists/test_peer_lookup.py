"""Lookup without export by peer nodes: an organisation on one node looks hashes up in a
list held on another node that it may not download, by a request its node signs; the
owner's node checks signature, addressing, replay, grant and rate, answers hit or no
hit with labels (signed), and records the lookup by node and organisation.

In one process (``local_cluster``: the first node on PostgreSQL when configured, so each
test runs with the owner on either store), and once between real node processes.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.audit.capability import AUDIT
from accord.domain.model import Role
from accord.domain.stix import format_timestamp
from accord.errors import Forbidden, InvalidInput, NotFound, PeerUnavailable, TooManyAttempts
from accord.exchange.service import ShareRequest
from accord.federation.keys import NodeKey
from accord.federation.sync import SIGNATURE
from accord.hashlists.capability import HASHLISTS
from accord.hashlists.remote import ANSWER, ENDPOINT, REQUEST, PeerLookups
from accord.hashlists.service import HashLists, Item, NewEntry
from accord.hashlists.stix import LIST_TYPE
from accord.node import Node
from accord.web.session import SESSION_COOKIE
from tests.federation.cluster import Member, analyst, cluster, local_cluster, stored_ids
from tests.hashlists.conftest import CRITERIA, flip, pdq

MD5 = "9e107d9d372bb6826bd81d3542a419d6"
LABELS = {"content_type": "video", "behaviours": ["recruitment-instruction"]}


def _remote(node: Node) -> PeerLookups:
    remote = HASHLISTS.service(node).remote
    assert remote is not None
    return remote


@contextmanager
def _pair(tmp_path: Path, owner_first: bool) -> Iterator[tuple[Member, Member]]:
    """Owner ``alpha`` and requester ``bravo``, peered and introduced; the first node of
    the cluster (PostgreSQL when configured) is the owner or the requester."""
    names = ["alpha", "bravo"] if owner_first else ["bravo", "alpha"]
    with local_cluster(tmp_path, names, [("alpha", "bravo")]) as m:
        alpha, bravo = m["alpha"], m["bravo"]
        alpha.node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        bravo.node.accounts.add_org(None, "bravo-cert", "national-cert", "MY")
        bravo.node.accounts.add_org(None, "bravo-telco", "private-sector", "MY")
        bravo.sync("alpha")  # hellos both ways: each node learns the other's organisations
        # Requests from bravo's API reach alpha through the cluster's client.
        _remote(bravo.node).http = lambda: nullcontext(bravo.http)
        yield alpha, bravo


def _secret_list(alpha: Node) -> tuple[HashLists, str, str]:
    """A TLP:RED list of alpha-cert's (never leaves alpha), with an MD5 and a PDQ entry."""
    owner = analyst(alpha, "alpha-cert")
    lists = HASHLISTS.service(alpha)
    red = ShareRequest.parse("red", "organisation", [], None)
    hl = lists.create_list(owner, name="secret", description="", criteria=CRITERIA, share=red)
    value = pdq(11)
    lists.add_entries(
        owner,
        hl.id,
        [
            NewEntry("md5", MD5, "tvec", LABELS),
            NewEntry("pdq", value, "tvec", {"content_type": "image"}, quality=90),
        ],
    )
    return lists, hl.id, value


def _token(member: Member, org: str) -> str:
    return member.node.accounts.create_token(None, org, "analyst", "t", None).plaintext


def _period(node: Node) -> tuple[Any, Any]:
    return node.clock() - timedelta(days=1), node.clock() + timedelta(days=1)


@pytest.mark.parametrize("owner_first", [True, False], ids=["owner-first", "requester-first"])
def test_a_peer_node_looks_up_a_list_it_may_not_download(tmp_path: Path, owner_first: bool) -> None:
    with _pair(tmp_path, owner_first) as (alpha, bravo):
        lists, list_id, value = _secret_list(alpha.node)
        owner = analyst(alpha.node, "alpha-cert")
        bravo.sync("alpha")
        assert list_id not in stored_ids(bravo.node)  # never downloaded
        token = _token(bravo, "bravo-cert")

        def api(body: dict[str, Any], who: str = token) -> httpx.Response:
            return bravo.http.post(
                f"{bravo.url}/api/v1/hashlists/{list_id}/lookup",
                json=body,
                headers={"Authorization": f"Bearer {who}"},
            )

        hashes = [
            {"signal": "md5", "value": MD5.upper()},
            {"signal": "md5", "value": "0" * 32},
            {"signal": "pdq", "value": flip(value, 7), "quality": 90},
        ]
        # No grant yet: the owner's node says so, in one line naming it.
        refused = api({"hashes": hashes, "node": "alpha"})
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"].startswith("alpha answered 404: no hash list")

        # Granted to bravo's node, by its node id: any of its organisations may look up.
        owner_token = {"Authorization": f"Bearer {_token(alpha, 'alpha-cert')}"}
        grants = f"{alpha.url}/api/v1/hashlists/{list_id}/grants"
        for bad in [{}, {"node": "bravo", "organisation": "x"}]:
            answer = alpha.http.post(grants, json=bad, headers=owner_token)
            assert answer.status_code == 400 and "not both" in answer.json()["detail"]
            assert answer.json()["problems"][0]["field"] == "organisation"
        unknown_node = alpha.http.post(grants, json={"node": "f" * 32}, headers=owner_token)
        assert unknown_node.status_code == 404, unknown_node.text
        made = alpha.http.post(grants, json={"node": bravo.node.key.node_id}, headers=owner_token)
        assert made.status_code == 204, made.text
        listed = alpha.http.get(grants, headers=owner_token)
        assert listed.json() == {"organisations": [], "nodes": [bravo.node.key.node_id]}
        got = api({"hashes": hashes, "node": "alpha"})
        assert got.status_code == 200, got.text
        assert [(a["hit"], a["labels"], a["distance"]) for a in got.json()] == [
            (True, [LABELS], 0),
            (False, [], None),
            (True, [{"content_type": "image"}], 7),
        ]
        assert "value" not in got.text and list_id not in stored_ids(bravo.node)
        telco = analyst(bravo.node, "bravo-telco")
        answers = _remote(bravo.node).ask(
            telco, alpha.node.key.node_id, list_id, [Item("md5", MD5)]
        )
        assert [a.hit for a in answers] == [True]

        # A disable at the owner takes effect for peers' lookups too.
        (md5_entry,) = [e.id for e in lists.entries(owner, list_id) if e.signal == "md5"]
        lists.set_disabled(owner, md5_entry, True, "wrong video")
        assert [a["hit"] for a in api({"hashes": hashes[:1], "node": "alpha"}).json()] == [False]
        lists.set_disabled(owner, md5_entry, False)

        # Granted instead to one organisation homed on bravo: only it may look up.
        gone = alpha.http.delete(f"{grants[:-6]}node-grants/bravo", headers=owner_token)
        assert gone.status_code == 204, gone.text
        lists.grant(owner, list_id, "bravo-telco")
        assert _remote(bravo.node).ask(telco, "alpha", list_id, [Item("md5", MD5)])[0].hit
        with pytest.raises(NotFound, match="alpha answered 404"):
            _remote(bravo.node).ask(
                analyst(bravo.node, "bravo-cert"), "alpha", list_id, [Item("md5", MD5)]
            )
        assert lists.grants(owner, list_id) == (
            [alpha.node.orgs.find("bravo-telco").identity_id],
            [],
        )

        # The per-requester rate limit: 429 with Retry-After at the owner and here.
        lists.grant_node(owner, list_id, "bravo")
        lists.lookup_rate = 3  # bravo-cert made 2 lookups this minute (one more passes)
        assert api({"hashes": hashes[:1], "node": "alpha"}).status_code == 200
        limited = api({"hashes": hashes[:1], "node": "alpha"})
        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "too many lookups" in limited.json()["detail"]
        with pytest.raises(TooManyAttempts) as caught:
            _remote(bravo.node).ask(
                analyst(bravo.node, "bravo-cert"), "alpha", list_id, [Item("md5", MD5)]
            )
        assert 1 <= caught.value.retry_after <= 60
        assert _remote(bravo.node).ask(telco, "alpha", list_id, [Item("md5", MD5)])[0].hit

        # The owner's transparency report: lookups by requester and by peer node.
        report = lists.report(owner, list_id, *_period(alpha.node))
        cert = alpha.node.orgs.find("bravo-cert").identity_id
        telco_id = alpha.node.orgs.find("bravo-telco").identity_id
        assert report["lookups"]["by_requester"] == {cert: 3, telco_id: 3}
        assert report["lookups"]["from_peer_nodes"] == 6
        assert report["lookups"]["by_node"] == {bravo.node.key.node_id: {"lookups": 6, "hashes": 8}}
        # And the node's tamper-evident audit log: each lookup, allowed or refused.
        bravo_actor = f"peer-node:{bravo.node.key.node_id}"
        logged = [
            (e.decision, e.detail or "")
            for e in AUDIT.service(alpha.node).entries(None, 10_000)
            if e.action == "hash-lookup" and e.actor == bravo_actor
        ]
        assert sum(d == "allowed" for d, _ in logged) == 6
        assert {d for d, _ in logged} == {"allowed", "denied"}
        assert any("too many lookups" in why for d, why in logged if d == "denied")
        page = alpha.http.get(
            f"{alpha.url}/hashlists/{list_id}/report",
            headers={"Cookie": f"{SESSION_COOKIE}={_token(alpha, 'alpha-cert')}"},
        )
        assert page.status_code == 200, page.text
        assert "Lookups by peer node" in page.text
        assert bravo.node.key.node_id in page.text and ">bravo<" in page.text


@pytest.mark.parametrize("owner_first", [True, False], ids=["owner-first", "requester-first"])
def test_forged_replayed_and_malformed_requests_are_refused_and_look_nothing_up(
    tmp_path: Path, owner_first: bool
) -> None:
    with _pair(tmp_path, owner_first) as (alpha, bravo):
        lists, list_id, _ = _secret_list(alpha.node)
        owner = analyst(alpha.node, "alpha-cert")
        lists.grant_node(owner, list_id, "bravo")
        peer = bravo.node.federation.peer("alpha")
        remote = _remote(bravo.node)
        cert = bravo.node.orgs.find("bravo-cert").identity_id

        def body(**changes: Any) -> dict[str, Any]:
            request = orjson.loads(remote.request_body(peer, cert, list_id, [Item("md5", MD5)]))
            assert isinstance(request, dict)
            request.update(changes)
            return request

        def post(
            raw: bytes,
            key: NodeKey | Ed25519PrivateKey | None = None,
            token: str | None = None,
            signed: bytes | None = None,
        ) -> httpx.Response:
            """Send ``raw`` with the signature of ``signed`` (default: ``raw``) by ``key``."""
            signer = key or bravo.node.federation.key
            what = raw if signed is None else signed
            signature = (
                signer.sign(what)
                if isinstance(signer, NodeKey)
                else base64.b64encode(signer.sign(what)).decode()
            )
            return bravo.http.post(
                alpha.url + ENDPOINT,
                content=raw,
                headers={
                    "Authorization": f"Bearer {token or peer.token}",
                    "Content-Type": "application/json",
                    SIGNATURE: signature,
                },
            )

        def refused(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
            assert response.status_code == status, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            problem: dict[str, Any] = response.json()
            assert problem["type"].endswith(f"/{slug}"), problem
            return problem

        def lookups() -> int:
            report = lists.report(owner, list_id, *_period(alpha.node))
            count: int = report["lookups"]["total"]
            return count

        good = rfc8785.dumps(body())
        first = post(good)
        assert first.status_code == 200, first.text
        answer = orjson.loads(first.content)
        assert (answer["type"], answer["to"], answer["answers"][0]["hit"]) == (
            ANSWER,
            bravo.node.key.node_id,
            True,
        )
        assert lookups() == 1
        rejected_before = alpha.node.federation.peer("bravo").rejected

        # Replayed: the same signed request again.
        assert "already answered" in refused(post(good), 409, "replayed")["detail"]
        # Stale or from the future: outside the allowed clock skew.
        old = format_timestamp(alpha.node.clock() - timedelta(hours=1))
        stale = refused(post(rfc8785.dumps(body(issued=old))), 409, "replayed")
        assert "from this node's clock" in stale["detail"]
        # Signed by another key, or altered after signing.
        forged = refused(
            post(rfc8785.dumps(body()), Ed25519PrivateKey.generate()), 403, "signature-rejected"
        )
        assert "valid signature" in forged["detail"]
        original = rfc8785.dumps(body())
        altered = original.replace(MD5.encode(), b"0" * 32)
        refused(post(altered, signed=original), 403, "signature-rejected")
        # Addressed to another node, or claiming to come from another.
        refused(post(rfc8785.dumps(body(to="0" * 32))), 403, "signature-rejected")
        refused(post(rfc8785.dumps(body(**{"from": "1" * 32}))), 403, "signature-rejected")
        assert alpha.node.federation.peer("bravo").rejected == rejected_before + 6

        # Malformed hashes: named field, nothing looked up.
        bad = refused(
            post(rfc8785.dumps(body(hashes=[{"signal": "md5", "value": "xyz"}]))),
            400,
            "invalid-input",
        )
        assert bad["problems"][0]["field"] == "hashes[0].value"
        shape = refused(post(rfc8785.dumps(body(hashes="md5"))), 400, "invalid-input")
        assert shape["problems"][0]["field"] == "hashes"
        # An unknown list; an organisation not homed on bravo; a user's token, not a peer's.
        unknown = refused(
            post(rfc8785.dumps(body(list=f"{LIST_TYPE}--{uuid.uuid4()}"))), 404, "not-found"
        )
        assert "no hash list" in unknown["detail"]
        alpha_cert = alpha.node.orgs.find("alpha-cert").identity_id
        refused(post(rfc8785.dumps(body(org=alpha_cert))), 403, "forbidden")
        refused(
            post(rfc8785.dumps(body()), token=_token(alpha, "alpha-cert")), 401, "not-authenticated"
        )
        assert lookups() == 1  # only the one good request was looked up and recorded

        # At the requesting node: bad input refused before anything is sent.
        asker = analyst(bravo.node, "bravo-cert")
        with pytest.raises(InvalidInput) as caught:
            remote.ask(asker, "alpha", list_id, [Item("md5", "nothex")])
        assert caught.value.problems[0].field == "hashes[0].value"
        with pytest.raises(NotFound, match="no peer"):
            remote.ask(asker, "0" * 32, list_id, [Item("md5", MD5)])
        reader = replace(owner, role=Role.READER)
        with pytest.raises(Forbidden):  # only the owner's analysts and admins grant
            lists.grant_node(reader, list_id, "bravo")
        assert lookups() == 1

        # An answer not signed by the owner's node is not believed.
        def forge(request: httpx.Request) -> httpx.Response:
            sent = orjson.loads(request.content)
            fake = rfc8785.dumps(
                {
                    "type": ANSWER,
                    "from": sent["to"],
                    "to": sent["from"],
                    "nonce": sent["nonce"],
                    "list": sent["list"],
                    "answers": [{"index": 0, "hit": True, "labels": [], "distance": 0}],
                }
            )
            other = Ed25519PrivateKey.generate().sign(fake)
            headers = {SIGNATURE: base64.b64encode(other).decode()}
            return httpx.Response(200, content=fake, headers=headers)

        with (
            httpx.Client(transport=httpx.MockTransport(forge)) as liar,
            pytest.raises(PeerUnavailable, match="valid signature"),
        ):
            remote.ask(asker, "alpha", list_id, [Item("md5", MD5)], liar)
        assert REQUEST in remote.request_body(peer, cert, list_id, [Item("md5", MD5)]).decode()

        # Either node rotates its key: the other follows the signed handover, as in sync.
        bravo.node.federation.rotate_key(None)
        alpha.node.federation.rotate_key(None)
        assert remote.ask(asker, "alpha", list_id, [Item("md5", MD5)])[0].hit
        # A handover not signed by the key before it is refused.
        rotated = body()
        rotated["rotations"][0]["new"] = base64.b64encode(b"\x01" * 32).decode()
        refused(post(rfc8785.dumps(rotated)), 403, "signature-rejected")
        assert lookups() == 2


@pytest.mark.server
def test_lookup_by_a_peer_node_between_real_processes(tmp_path: Path) -> None:
    with cluster(tmp_path, ["alpha", "bravo"], [("alpha", "bravo")]) as m:
        alpha, bravo = m["alpha"], m["bravo"]
        alpha.node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        bravo.node.accounts.add_org(None, "bravo-cert", "national-cert", "MY")
        bravo.sync("alpha")
        _, list_id, _ = _secret_list(alpha.node)

        def cli(member: Member, *argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "accord", *argv],
                env=member.env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
            )

        ask = ("hash", "lookup", list_id, f"md5:{MD5}", f"md5:{'1' * 32}", "--org", "bravo-cert")
        denied = cli(bravo, *ask, "--node", "alpha")
        assert denied.returncode == 5, denied.stderr
        (line,) = denied.stderr.strip().splitlines()
        assert line.startswith("error: alpha answered 404: no hash list")

        granted = cli(alpha, "hash", "grant", list_id, "--org", "alpha-cert", "--node", "bravo")
        assert granted.returncode == 0, granted.stderr
        found = cli(bravo, *ask, "--node", "alpha")
        assert found.returncode == 0, found.stderr
        answers = [orjson.loads(x) for x in found.stdout.splitlines()]
        assert [(a["hash"], a["hit"], a["labels"]) for a in answers] == [
            (f"md5:{MD5}", True, [LABELS]),
            (f"md5:{'1' * 32}", False, []),
        ]
        bad = cli(
            bravo, "hash", "lookup", list_id, "md5:zz", "--org", "bravo-cert", "--node", "alpha"
        )
        assert bad.returncode == 2 and bad.stderr.startswith("error: hashes[0].value"), bad.stderr

        # Through bravo's API, which signs and sends the request to alpha's process.
        token = _token(bravo, "bravo-cert")
        got = httpx.post(
            f"{bravo.url}/api/v1/hashlists/{list_id}/lookup",
            json={"hashes": [{"signal": "md5", "value": MD5}], "node": "alpha"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert got.status_code == 200, got.text
        assert got.json()[0]["hit"] is True

        report = httpx.get(
            f"{alpha.url}/api/v1/hashlists/{list_id}/report",
            headers={"Authorization": f"Bearer {_token(alpha, 'alpha-cert')}"},
            timeout=30,
        ).json()
        assert report["lookups"]["by_node"] == {bravo.node.key.node_id: {"lookups": 2, "hashes": 3}}
        cert = alpha.node.orgs.find("bravo-cert").identity_id
        assert report["lookups"]["by_requester"] == {cert: 2}
