"""Witnessing during sync: two nodes that sync exchange signed tree heads, each checking
the other's against the last it saw; a rewritten log shows in peer status (API, console,
CLI) and in the witness's own audit log, and the sync itself still succeeds."""

from __future__ import annotations

from pathlib import Path

from accord.app import create_app
from accord.audit.capability import AUDIT
from accord.audit.witness import witnessed
from accord.domain.tlp import TLP
from tests.asgi import Client
from tests.audit.tamper import rewrite_from
from tests.builders import indicator
from tests.federation.cluster import analyst, local_cluster
from tests.web.test_pages import PASSWORD, _sign_in

BUNDLE = {"type": "bundle", "id": "bundle--5d6c8b4e-0e8b-4b8a-9d4f-9e2b1c3d4e5f"}


def test_syncing_peers_witness_each_other_and_catch_a_rewritten_log(tmp_path: Path) -> None:
    with local_cluster(tmp_path, ["alpha", "bravo"], [("alpha", "bravo")]) as m:
        alpha, bravo = m["alpha"], m["bravo"]
        alpha.node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        bravo.node.accounts.add_org(None, "bravo-cert", "national-cert", "MY")
        objs = [indicator(f"10.9.0.{i}", tlp=TLP.GREEN) for i in range(10)]
        alpha.node.exchange.ingest(analyst(alpha.node, "alpha-cert"), {**BUNDLE, "objects": objs})
        a_id, b_id = alpha.node.key.node_id, bravo.node.key.node_id
        alpha_log, bravo_log = AUDIT.service(alpha.node), AUDIT.service(bravo.node)

        bravo.sync("alpha")
        alpha.sync("bravo")
        seen_by_bravo = {w.peer: w for w in bravo_log.witnesses()}
        assert seen_by_bravo[a_id].state == "ok" and seen_by_bravo[a_id].size > 0
        assert [w.state for w in alpha_log.witnesses() if w.peer == b_id] == ["ok"]

        alpha.node.exchange.get(analyst(alpha.node, "alpha-cert"), objs[0]["id"])
        bravo.sync("alpha")  # a grown log is consistent with the last head seen
        grown = {w.peer: w for w in bravo_log.witnesses()}[a_id]
        assert grown.state == "ok" and grown.size > seen_by_bravo[a_id].size

        rewrite_from(alpha.node, 1, 30)  # alpha's operator rewrites history from entry 1
        report = bravo.sync("alpha")
        assert report.peer == "alpha"  # the sync itself succeeded
        caught = {w.peer: w for w in bravo_log.witnesses()}[a_id]
        assert caught.state == "forked" and "forked" in (caught.problem or "")
        assert witnessed(bravo_log)[a_id].startswith("FORKED")
        assert [e.decision for e in bravo_log.entries(None, 1)] == ["fork"]
        assert bravo.node.federation.peer("alpha").last_error is None

        token = bravo.node.accounts.create_token(None, "bravo-cert", "admin", "t", None)
        auth = {"Authorization": f"Bearer {token.plaintext}"}
        peers = bravo.http.get(f"{bravo.url}/api/v1/peers", headers=auth)
        assert peers.status_code == 200, peers.text
        (status,) = peers.json()
        assert status["name"] == "alpha" and status["witness"].startswith("FORKED: forked")
        bravo.node.accounts.add_user(None, "root", "bravo-cert", "admin", PASSWORD)
        with Client(create_app(node=bravo.node)) as console:
            _sign_in(console, "root")
            page = console.get("/peers")
            assert page.status_code == 200 and "Audit log" in page.text
            assert "FORKED: forked" in page.text
        # Alpha's view of bravo is untouched: bravo's log was not rewritten.
        alpha.sync("bravo")
        assert [w.state for w in alpha_log.witnesses() if w.peer == b_id] == ["ok"]
