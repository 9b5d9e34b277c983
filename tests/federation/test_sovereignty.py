"""Sovereign nodes: only an organisation's home node speaks for it, a group's owner alone
decides its membership, a late member receives the backlog, and refusals are reported.

The attacks are made as a misbehaving peer would make them: a message composed by hand,
signed with that peer's own key (so it passes the envelope check), and pushed to the
receiver's federation endpoint.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import rfc8785

from accord.cli.common import act_as
from accord.domain.collections import FEDERATION_COLLECTION
from accord.domain.scope import Scope
from accord.domain.tlp import TLP
from accord.errors import Forbidden
from accord.exchange.service import ShareRequest
from accord.exchange.taxii import MEDIA_TYPE
from accord.federation.sync import SIGNATURE
from accord.store.objects import ObjectQuery
from tests.builders import indicator
from tests.federation.cluster import Member, analyst, local_cluster, stored_ids


def _readable(member: Member, org: str) -> set[str]:
    node = member.node
    return {r.stix_id for r in node.exchange.page(analyst(node, org), ObjectQuery(limit=1000)).rows}


def _push(sender: Member, to: Member, message: dict[str, Any]) -> Any:
    """Sign ``message`` with the sender's own key and push it, as a rogue peer would."""
    peer = sender.node.federation.peer(to.name)
    message["x_accord_nonce"] = uuid.uuid4().hex
    body = rfc8785.dumps(message)
    return sender.http.post(
        f"{to.url}/taxii2/api/collections/{FEDERATION_COLLECTION}/objects/",
        content=body,
        headers={
            "Authorization": f"Bearer {peer.token}",
            "Content-Type": MEDIA_TYPE,
            "Accept": MEDIA_TYPE,
            SIGNATURE: sender.node.federation.key.sign(body),
        },
    )


def _outgoing(sender: Member, to: str) -> dict[str, Any]:
    peer = sender.node.federation.peer(to)
    message: dict[str, Any] = orjson.loads(sender.node.federation.outgoing(peer, None, 100).body)
    return message


def _rejected(member: Member, peer: str) -> int:
    return member.node.federation.status(member.node.federation.peer(peer)).rejected


def _share(member: Member, org: str, request: ShareRequest, tlp: TLP = TLP.GREEN) -> str:
    obj = indicator(f"192.0.2.{uuid.uuid4().int % 250 + 1}", tlp=tlp)
    member.node.exchange.ingest(analyst(member.node, org), obj, request)
    return str(obj["id"])


def _three(m: dict[str, Member]) -> None:
    for name in m:
        m[name].node.accounts.add_org(None, f"{name}-cert", "national-cert", "SG")
        m[name].node.accounts.add_org(None, f"{name}-bank", "private-sector", "SG")
    _sync_all(m)


def _sync_all(m: dict[str, Member], rounds: int = 1) -> None:
    for _ in range(rounds):
        for a in m:
            for b in m[a].node.federation.peer_names():
                m[a].sync(b)


NAMES = ["alpha", "bravo", "charlie"]
TRIANGLE = [("alpha", "bravo"), ("bravo", "charlie"), ("alpha", "charlie")]


def test_a_node_issues_credentials_only_for_organisations_it_homes(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES[:2], [("alpha", "bravo")]) as m:
        _three(m)
        accounts = m["alpha"].node.accounts
        remote = accounts.orgs.find("bravo-cert")
        assert remote.home == m["bravo"].node.key.node_id
        with pytest.raises(Forbidden, match="homed on node"):
            accounts.create_token(None, "bravo-cert", "analyst", "forged", None)
        with pytest.raises(Forbidden, match="homed on node"):
            accounts.add_user(None, "mallory", "bravo-cert", "analyst", "a long enough password")
        assert accounts.create_token(None, "alpha-cert", "analyst", "own", None).plaintext


def test_forged_relayed_and_claimed_organisations_are_rejected_and_counted(
    tmp_path: Path,
) -> None:
    with local_cluster(tmp_path, NAMES, TRIANGLE) as m:
        _three(m)
        alpha, bravo, charlie = m["alpha"], m["bravo"], m["charlie"]
        # A genuine federation-scope object of bravo's, relayed by alpha to charlie.
        genuine = _share(bravo, "bravo-cert", ShareRequest(scope=Scope.FEDERATION))
        bravo.sync("alpha")
        assert genuine in stored_ids(alpha.node)
        before = {n: stored_ids(m[n].node) for n in m}

        template = _outgoing(alpha, "charlie")
        relayed = next(i for i, o in enumerate(template["objects"]) if o["id"] == genuine)
        bravo_cert = alpha.node.accounts.orgs.find("bravo-cert").identity_id

        # 1. Speaking for an organisation homed on the receiver: bravo's own CERT.
        forged = orjson.loads(orjson.dumps(template))
        forged["objects"] = [indicator("203.0.113.9")]
        forged["x_accord_meta"] = [dict(forged["x_accord_meta"][relayed], owner=bravo_cert)]
        forged["x_accord_meta"][0].pop("seal")
        forged["x_accord_to"] = bravo.node.key.node_id
        answer = _push(alpha, bravo, forged)
        assert answer.status_code == 403 and "homed on this node" in answer.json()["description"]

        # 2. Speaking for a third node's organisation without its seal.
        forged["x_accord_to"] = charlie.node.key.node_id
        answer = _push(alpha, charlie, forged)
        assert answer.status_code == 403 and "not sealed" in answer.json()["description"]

        # 3. A relayed version altered on the way (its seal no longer matches).
        altered = orjson.loads(orjson.dumps(template))
        altered["objects"][relayed]["name"] = "revoked by the relay"
        altered["objects"][relayed]["revoked"] = True
        answer = _push(alpha, charlie, altered)
        assert answer.status_code == 403 and "altered" in answer.json()["description"]

        # 4. A relay originating a "version" of bravo's object with bravo's old seal.
        newer = orjson.loads(orjson.dumps(template))
        newer["objects"][relayed]["modified"] = "2030-01-01T00:00:00.000Z"
        newer["objects"][relayed]["revoked"] = True
        answer = _push(alpha, charlie, newer)
        assert answer.status_code == 403

        # 5. Claiming an organisation another node holds.
        claim = orjson.loads(orjson.dumps(template))
        claim["objects"], claim["x_accord_meta"] = [], []
        stolen = alpha.node.accounts.orgs.find("bravo-bank").identity()
        claim["x_accord_members"].append(stolen)
        answer = _push(alpha, charlie, claim)
        assert answer.status_code == 403 and "homed on node" in answer.json()["description"]

        assert {n: stored_ids(m[n].node) for n in m} == before
        assert _rejected(bravo, "alpha") == 1 and _rejected(charlie, "alpha") == 4
        status = charlie.node.federation.status(charlie.node.federation.peer("alpha"))
        assert status.last_rejection and "homed on node" in status.last_rejection

        # The genuine relay still goes through, with the home node's seal intact.
        alpha.sync("charlie")
        assert genuine in stored_ids(charlie.node)
        latest, _ = charlie.node.exchange.get(analyst(charlie.node, "charlie-cert"), genuine)
        assert '"from_peer":"alpha"' in latest.provenance and '"seal"' in latest.provenance


def test_a_bad_seal_from_the_home_node_is_stored_but_never_relayed(tmp_path: Path) -> None:
    """Sent by its home node, a version's authority is the message's signature; its seal
    is checked by the relay that would rely on it, which withholds a bad one rather than
    pass on what would make the next node refuse its whole message."""
    with local_cluster(tmp_path, NAMES, TRIANGLE) as m:
        _three(m)
        alpha, bravo, charlie = m["alpha"], m["bravo"], m["charlie"]
        good = _share(bravo, "bravo-cert", ShareRequest(scope=Scope.FEDERATION))
        bad = _share(bravo, "bravo-cert", ShareRequest(scope=Scope.FEDERATION))
        message = _outgoing(bravo, "alpha")
        index = next(i for i, o in enumerate(message["objects"]) if o["id"] == bad)
        message["x_accord_meta"][index]["seal"]["sig"] = message["x_accord_meta"][1 - index][
            "seal"
        ]["sig"]
        assert _push(bravo, alpha, message).status_code in {200, 202}
        assert {good, bad} <= stored_ids(alpha.node)
        alpha.sync("charlie")
        assert good in stored_ids(charlie.node) and bad not in stored_ids(charlie.node)
        assert _rejected(charlie, "alpha") == 0


def test_a_group_owned_on_one_node_is_enforced_on_the_others(tmp_path: Path) -> None:
    names = ["alpha", "bravo", "charlie", "delta"]
    edges = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    with local_cluster(tmp_path, names, edges) as m:
        _three(m)
        owner = m["alpha"].node.accounts
        owner.add_group(None, "asean-certs", "ASEAN national CERTs")
        for member in ("alpha-cert", "bravo-cert", "charlie-cert"):
            owner.set_member(None, "asean-certs", member, member=True)
        _sync_all(m)  # no step at all on bravo, charlie or delta
        group = owner.group(None, "asean-certs")
        for name in ("bravo", "charlie"):
            copy = next(g for g in m[name].node.accounts.groups.all() if g.uuid == group.uuid)
            assert copy.owner_node == m["alpha"].node.key.node_id
            assert copy.version == group.version
            with pytest.raises(Forbidden, match="only that node"):
                m[name].node.accounts.set_member(None, copy.slug, f"{name}-bank", member=True)
        # Membership stays confidential to the members' nodes.
        assert not [g for g in m["delta"].node.accounts.groups.all() if g.uuid == group.uuid]

        amber = _share(
            m["alpha"],
            "alpha-cert",
            ShareRequest(tlp=TLP.AMBER, scope=Scope.GROUP, group="asean-certs"),
            TLP.AMBER,
        )
        _sync_all(m)
        assert amber in _readable(m["bravo"], "bravo-cert")
        assert amber in _readable(m["charlie"], "charlie-cert")
        assert amber not in _readable(m["bravo"], "bravo-bank")
        assert amber not in stored_ids(m["delta"].node)

        # A member on another node shares with the group too; the owner's copy decides.
        copy = next(g for g in m["bravo"].node.accounts.groups.all() if g.uuid == group.uuid)
        from_bravo = _share(
            m["bravo"],
            "bravo-cert",
            ShareRequest(tlp=TLP.AMBER, scope=Scope.GROUP, group=copy.slug),
            TLP.AMBER,
        )
        _sync_all(m)
        assert from_bravo in _readable(m["charlie"], "charlie-cert")
        assert from_bravo in _readable(m["alpha"], "alpha-cert")

        # A state that leaves stops receiving from then on.
        owner.set_member(None, "asean-certs", "charlie-cert", member=False)
        _sync_all(m)
        later = _share(
            m["alpha"],
            "alpha-cert",
            ShareRequest(tlp=TLP.AMBER, scope=Scope.GROUP, group="asean-certs"),
            TLP.AMBER,
        )
        _sync_all(m)
        assert later in _readable(m["bravo"], "bravo-cert")
        assert later not in stored_ids(m["charlie"].node)


def test_a_late_member_receives_the_backlog(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES[:2], [("alpha", "bravo")]) as m:
        _three(m)
        owner = m["alpha"].node.accounts
        owner.add_group(None, "ops", "Operations")
        owner.set_member(None, "ops", "alpha-cert", member=True)
        request = ShareRequest(tlp=TLP.AMBER, scope=Scope.GROUP, group="ops")
        backlog = {_share(m["alpha"], "alpha-cert", request, TLP.AMBER) for _ in range(30)}
        _sync_all(m)
        assert not backlog & stored_ids(m["bravo"].node)
        owner.set_member(None, "ops", "bravo-cert", member=True)
        _sync_all(m)
        assert backlog <= _readable(m["bravo"], "bravo-cert")


def test_an_object_a_peer_cannot_place_yet_is_pending_and_reported(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES, TRIANGLE) as m:
        _three(m)
        alpha, bravo, charlie = m["alpha"], m["bravo"], m["charlie"]
        charlie.node.accounts.add_group(None, "trio", "Trio")
        for member in ("alpha-cert", "bravo-cert", "charlie-cert"):
            charlie.node.accounts.set_member(None, "trio", member, member=True)
        charlie.sync("alpha")  # alpha learns the group; bravo does not yet
        copy = next(g for g in alpha.node.accounts.groups.all() if g.owner_node is not None)
        request = ShareRequest(tlp=TLP.AMBER, scope=Scope.GROUP, group=copy.slug)
        early = _share(alpha, "alpha-cert", request, TLP.AMBER)
        alpha.sync("bravo")
        assert early not in stored_ids(bravo.node)
        sender = alpha.node.federation.status(alpha.node.federation.peer("bravo"))
        assert sender.refused == 1 and sender.last_refusal and early in sender.last_refusal
        waiting = bravo.node.federation.statuses(None)
        assert [s.pending for s in waiting if s.name == "alpha"] == [1]
        charlie.sync("bravo")  # the owner's membership arrives: what waited is delivered
        assert early in _readable(bravo, "bravo-cert")
        assert [s.pending for s in bravo.node.federation.statuses(None) if s.name == "alpha"] == [0]


def test_membership_from_a_non_owner_or_replayed_is_rejected(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES, TRIANGLE) as m:
        _three(m)
        alpha, bravo, charlie = m["alpha"], m["bravo"], m["charlie"]
        charlie.node.accounts.add_group(None, "trio", "Trio")
        for member in ("alpha-cert", "bravo-cert"):
            charlie.node.accounts.set_member(None, "trio", member, member=True)
        _sync_all(m)
        group = charlie.node.accounts.group(None, "trio")
        doc = {
            "id": group.uuid,
            "slug": "trio",
            "name": "Trio",
            "owner_node": charlie.node.key.node_id,
            "version": group.version + 5,
            "members": [alpha.node.accounts.orgs.find("alpha-bank").identity_id],
        }
        peer = alpha.node.federation.peer("bravo")
        hello: dict[str, Any] = orjson.loads(alpha.node.federation.hello(peer).body)
        hello["x_accord_groups"] = [doc]
        answer = _push(alpha, bravo, hello)
        assert answer.status_code == 403 and "only a group's owner" in answer.json()["description"]
        # The owner's own older version, replayed inside a freshly signed message.
        old = orjson.loads(
            charlie.node.federation.hello(charlie.node.federation.peer("bravo")).body
        )
        charlie.node.accounts.set_member(None, "trio", "bravo-bank", member=True)
        charlie.sync("bravo")
        answer = _push(charlie, bravo, old)
        assert answer.status_code == 409 and "replay" in answer.json()["description"]
        copy = next(g for g in bravo.node.accounts.groups.all() if g.uuid == group.uuid)
        bank = bravo.node.accounts.orgs.find("bravo-bank").id
        assert bank in copy.members and copy.version == group.version + 1
        assert _rejected(bravo, "alpha") == 1 and _rejected(bravo, "charlie") == 1


def test_a_rotated_key_is_followed_by_peers_and_relays(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES, TRIANGLE) as m:
        _three(m)
        alpha, bravo, charlie = m["alpha"], m["bravo"], m["charlie"]
        node_id, first = alpha.node.key.node_id, alpha.node.key.public_b64
        alpha.node.federation.rotate_key(None)
        alpha.node.federation.rotate_key(None)  # twice: peers follow the whole chain
        rotated = alpha.node.federation.key
        assert rotated.node_id == node_id and rotated.public_b64 != first
        shared = _share(alpha, "alpha-cert", ShareRequest(scope=Scope.FEDERATION))
        alpha.sync("bravo")
        assert bravo.node.federation.peer("alpha").public_key == rotated.public_b64
        assert shared in stored_ids(bravo.node)
        # Charlie still knows alpha's first key: the seal's chain proves the new one.
        bravo.sync("charlie")
        assert shared in stored_ids(charlie.node)
        assert charlie.node.federation.peer("alpha").public_key == first

        # A handover not signed by the key before it is refused; the key stays.
        message = orjson.loads(
            alpha.node.federation.hello(alpha.node.federation.peer("charlie")).body
        )
        for record in message["x_accord_rotations"]:
            record["sig"] = rotated.sign(b"something else")
        answer = _push(alpha, charlie, message)
        assert answer.status_code == 403 and "rotations" in answer.json()["description"]
        assert charlie.node.federation.peer("alpha").public_key == first
        alpha.sync("charlie")
        assert charlie.node.federation.peer("alpha").public_key == rotated.public_b64


def test_the_operator_console_does_not_act_for_another_nodes_organisation(tmp_path: Path) -> None:
    with local_cluster(tmp_path, NAMES[:2], [("alpha", "bravo")]) as m:
        _three(m)
        with pytest.raises(Forbidden, match="homed on node"):
            act_as(m["alpha"].node, "bravo-cert")
        assert act_as(m["alpha"].node, "alpha-cert").org is not None
