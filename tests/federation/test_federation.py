"""Federation policy between in-process nodes: what arrives where, forged and replayed
messages, unreachable peers, relays without echo."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from accord.domain.collections import FEDERATION_COLLECTION
from accord.domain.model import Principal, Role
from accord.domain.scope import ALLOWED_SCOPES, Scope
from accord.domain.tlp import TLP
from accord.errors import Forbidden, InvalidInput, NotAuthenticated, PeerUnavailable
from accord.exchange.service import ShareRequest
from accord.exchange.taxii import MEDIA_TYPE
from accord.federation.sync import SIGNATURE
from accord.store.objects import ObjectQuery
from tests.builders import indicator
from tests.federation.cluster import Member, analyst, local_cluster, stored_ids

NAMES = ["alpha", "bravo", "charlie"]
COMBOS = [(t, s) for t in TLP for s in sorted(ALLOWED_SCOPES[t])]


def _sync_all(members: dict[str, Member], rounds: int = 2) -> None:
    for _ in range(rounds):
        for a, b in itertools.permutations(members, 2):
            if b in members[a].node.federation.peer_names():
                members[a].sync(b)


def test_triangle_delivers_exactly_what_policy_allows(tmp_path: Path) -> None:
    edges = [("alpha", "bravo"), ("bravo", "charlie"), ("alpha", "charlie")]
    with local_cluster(tmp_path, NAMES, edges) as m:
        for name in NAMES:
            m[name].node.accounts.add_org(None, f"{name}-cert", "national-cert", "SG")
            m[name].node.accounts.add_org(None, f"{name}-telco", "private-sector", "SG")
        _sync_all(m, rounds=1)  # hellos: every node learns the others' organisations
        for name in NAMES:
            accounts = m[name].node.accounts
            accounts.add_group(None, "asean-certs", "ASEAN national CERTs")
            for member in (f"{name}-cert", "bravo-cert"):  # bravo's CERT is in every group
                accounts.set_member(None, "asean-certs", member, member=True)

        expected: dict[str, set[str]] = {n: set() for n in NAMES}
        for name in NAMES:
            node = m[name].node
            others = [n for n in NAMES if n != name]
            for n, (tlp, scope) in enumerate(COMBOS):
                obj = indicator(f"192.0.2.{n + 1}", tlp=tlp)
                to = others[n % 2]
                request = ShareRequest(
                    tlp=tlp,
                    scope=scope,
                    recipients=(f"{to}-telco",) if scope is Scope.RECIPIENTS else (),
                    group="asean-certs" if scope is Scope.GROUP else None,
                )
                node.exchange.ingest(analyst(node, f"{name}-cert"), obj, request)
                expected[name].add(obj["id"])
                if scope in (Scope.FEDERATION, Scope.PUBLIC):
                    for other in others:
                        expected[other].add(obj["id"])
                elif scope is Scope.RECIPIENTS:
                    expected[to].add(obj["id"])
                elif scope is Scope.GROUP and name != "bravo":
                    expected["bravo"].add(obj["id"])
        _sync_all(m)
        for name in NAMES:
            assert stored_ids(m[name].node) == expected[name], name

        # At bravo, the gate still decides: a group object is for the group's members only.
        bravo = m["bravo"].node
        in_group = {
            r.stix_id
            for r in bravo.exchange.page(analyst(bravo, "bravo-cert"), ObjectQuery(limit=1000)).rows
        }
        outside = {
            r.stix_id
            for r in bravo.exchange.page(
                analyst(bravo, "bravo-telco"), ObjectQuery(limit=1000)
            ).rows
        }
        group_from_alpha = {
            r.stix_id
            for r in m["alpha"]
            .node.exchange.page(analyst(m["alpha"].node, "alpha-cert"), ObjectQuery(limit=1000))
            .rows
            if r.scope is Scope.GROUP
        }
        assert group_from_alpha <= in_group and not group_from_alpha & outside
        # Provenance names where each object came from.
        latest, _ = bravo.exchange.get(analyst(bravo, "bravo-cert"), next(iter(group_from_alpha)))
        assert '"from_peer":"alpha"' in latest.provenance


def test_altered_unsigned_and_replayed_messages_are_rejected(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES[:2], [("alpha", "bravo")]) as m:
        alpha, bravo = m["alpha"], m["bravo"]
        alpha.node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        alpha.sync("bravo")
        alpha.node.exchange.ingest(
            analyst(alpha.node, "alpha-cert"),
            indicator(tlp=TLP.GREEN),
            ShareRequest(scope=Scope.FEDERATION),
        )
        peer = alpha.node.federation.peer("bravo")
        out = alpha.node.federation.outgoing(peer, peer.push_after, 100)
        feed = f"{bravo.url}/taxii2/api/collections/{FEDERATION_COLLECTION}/objects/"
        headers = {
            "Authorization": f"Bearer {peer.token}",
            "Content-Type": MEDIA_TYPE,
            "Accept": MEDIA_TYPE,
        }
        before = stored_ids(bravo.node)
        altered = out.body.replace(b"198.51.100.7", b"198.51.100.8")
        assert altered != out.body
        bad = alpha.http.post(feed, content=altered, headers={**headers, SIGNATURE: out.signature})
        assert bad.status_code == 403 and "signature" in bad.json()["description"]
        unsigned = alpha.http.post(feed, content=out.body, headers=headers)
        assert unsigned.status_code == 403
        good = alpha.http.post(
            feed, content=out.body, headers={**headers, SIGNATURE: out.signature}
        )
        assert good.status_code == 202 and good.json()["stored"] == 1
        replay = alpha.http.post(
            feed, content=out.body, headers={**headers, SIGNATURE: out.signature}
        )
        assert replay.status_code == 409
        assert len(stored_ids(bravo.node) - before) == 1
        # A token that is not a peer's cannot use the feed at all.
        user = alpha.node.accounts.create_token(None, "alpha-cert", "admin", "x", None).plaintext
        assert (
            alpha.http.get(
                f"{alpha.url}/taxii2/api/collections/{FEDERATION_COLLECTION}/objects/",
                headers={"Authorization": f"Bearer {user}"},
            ).status_code
            == 401
        )


def test_unreachable_peer_is_reported_not_crashed(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES[:1], []) as m:
        alpha = m["alpha"].node
        _, _ = alpha.federation.add_peer("ghost", "http://127.0.0.1:9", "A" * 43 + "=", "accord_x")
        with pytest.raises(PeerUnavailable):
            m["alpha"].sync("ghost")
        (status,) = alpha.federation.statuses(None)
        assert status.name == "ghost" and status.last_error and "unreachable" in status.last_error
        assert status.last_success is None and status.last_attempt is not None


def test_five_node_ring_converges_without_echo(tmp_path: Path) -> None:
    names = ["n1", "n2", "n3", "n4", "n5"]
    edges = [(names[i], names[(i + 1) % 5]) for i in range(5)]
    with local_cluster(tmp_path, names, edges) as m:
        shared = {}
        for name in names:
            m[name].node.accounts.add_org(None, f"{name}-cert", "national-cert", "SG")
            obj = indicator(tlp=TLP.GREEN)
            m[name].node.exchange.ingest(
                analyst(m[name].node, f"{name}-cert"), obj, ShareRequest(scope=Scope.FEDERATION)
            )
            shared[name] = obj["id"]
        for _ in range(3):
            _sync_all(m, rounds=1)
        everything = set(shared.values())
        for name in names:
            assert stored_ids(m[name].node) == everything, name
        # Revocation is a new version; it propagates the same way.
        n1 = m["n1"].node
        original = n1.exchange.get(analyst(n1, "n1-cert"), shared["n1"])[0]
        revoked = {
            **orjson.loads(original.doc),
            "modified": "2026-11-10T00:00:00.000Z",
            "revoked": True,
        }
        n1.exchange.ingest(analyst(n1, "n1-cert"), revoked, ShareRequest(scope=Scope.FEDERATION))
        for _ in range(3):
            _sync_all(m, rounds=1)
        for name in names:
            node = m[name].node
            latest, versions = node.exchange.get(analyst(node, f"{name}-cert"), shared["n1"])
            assert latest.revoked and len(versions) == 2, name
        # No echo: n2 received n1's object from n1 and never pushed it back.
        peer = m["n2"].node.federation.peer("n1")
        audience = m["n2"].node.federation.audience(peer)
        n2 = m["n2"].node
        back = n2.exchange.travel_page(n2.key.node_id, audience, None, 100)
        assert shared["n1"] not in {r.row.stix_id for r in back}


def test_cursors_carry_each_version_once_over_many_pages(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES[:2], [("alpha", "bravo")]) as m:
        alpha, bravo = m["alpha"], m["bravo"]
        alpha.node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        objs = [indicator(f"10.1.0.{i}", tlp=TLP.GREEN) for i in range(120)]
        bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objs}
        share = ShareRequest(scope=Scope.FEDERATION)
        alpha.node.exchange.ingest(analyst(alpha.node, "alpha-cert"), bundle, share)

        first = bravo.sync("alpha")  # three pages of 50 pulled
        assert (first.pulled, first.pushed) == (120, 0)
        assert stored_ids(bravo.node) == {o["id"] for o in objs}
        pulled = bravo.node.federation.peer("alpha")
        assert pulled.pulled == 120 and pulled.pull_after is not None

        again = bravo.sync("alpha")  # the cursor is past everything
        assert (again.pulled, again.pushed) == (0, 0)
        # alpha's push cursor is its own: it offers what bravo already pulled, which
        # arrives as duplicates (so counts as nothing pushed), and bravo offers none of it
        # back to its origin.
        back = alpha.sync("bravo")
        assert (back.pulled, back.pushed) == (0, 0)
        assert alpha.node.federation.peer("bravo").push_after is not None
        assert len(stored_ids(bravo.node)) == 120
        assert (alpha.sync("bravo").pushed, bravo.sync("alpha").pulled) == (0, 0)

        late = indicator("10.1.1.1", tlp=TLP.GREEN)
        alpha.node.exchange.ingest(analyst(alpha.node, "alpha-cert"), late, share)
        pushed = alpha.sync("bravo")  # now by push, from alpha's own cursor
        assert (pushed.pulled, pushed.pushed) == (0, 1)
        assert alpha.node.federation.peer("bravo").pushed == 1
        assert bravo.sync("alpha").pulled == 1  # offered again by pull: a no-op on arrival
        assert len(stored_ids(bravo.node)) == 121


def test_the_feed_serves_peers_only_and_statuses_admins_only(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES[:2], [("alpha", "bravo")]) as m:
        alpha = m["alpha"].node
        alpha.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        share = ShareRequest(scope=Scope.FEDERATION)
        alpha.exchange.ingest(analyst(alpha, "alpha-cert"), indicator(tlp=TLP.GREEN), share)
        federation = alpha.federation
        bravo = Principal(org=None, peer=federation.peer("bravo").id)

        assert federation.feed(bravo, None, 10).count == 1
        assert federation.feed(bravo, "2999-01-01T00:00:00Z", 10).count == 0
        with pytest.raises(InvalidInput, match="'added_after'"):
            federation.feed(bravo, "yesterday", 10)
        with pytest.raises(NotAuthenticated):
            federation.feed(analyst(alpha, "alpha-cert"), None, 10)

        with pytest.raises(Forbidden):
            federation.statuses(analyst(alpha, "alpha-cert"))
        admin = replace(analyst(alpha, "alpha-cert"), role=Role.ADMIN)
        assert [s.name for s in federation.statuses(admin)] == ["bravo"]
        federation.add_peer("ghost", "http://127.0.0.1:9", "A" * 43 + "=", None)
        assert [s.has_token for s in federation.statuses(None)] == [True, False]
        assert federation.peer_names() == ["bravo", "ghost"]
        assert federation.peer_names(with_token=True) == ["bravo"]  # what the schedule syncs
