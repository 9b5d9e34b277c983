"""A report drafted on one node process, published to a group, read on another."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.federation.cluster import cluster

pytestmark = pytest.mark.server

# item: (TLP, scope) and whether it may reach bravo's group member / its other org.
ANSWERS = {
    "a": ("TLP:CLEAR", "public"),  # travels, everyone reads it
    "h": ("TLP:GREEN", "federation"),  # travels, every signed-in organisation
    "c": ("TLP:AMBER", "group"),  # travels to the group's members only
    "b": ("TLP:GREEN", "community"),  # alpha's own community: never leaves alpha
    "k": ("TLP:RED", "organisation"),  # alpha-cert alone
}


def _token(node: object, org: str) -> dict[str, str]:
    token = node.accounts.create_token(None, org, "analyst", "norms test", None)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token.plaintext}"}


def test_a_group_member_on_another_node_reads_exactly_its_answers(tmp_path: Path) -> None:
    with cluster(tmp_path, ["alpha", "bravo"], [("alpha", "bravo")]) as m:
        alpha, bravo = m["alpha"], m["bravo"]
        alpha.node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        for name in ("bravo-cert", "bravo-telco"):
            bravo.node.accounts.add_org(None, name, "national-cert", "MY")
        alpha.sync("bravo")  # hellos: each learns the other's organisations
        bravo.sync("alpha")
        for member in (alpha, bravo):  # groups match by slug across nodes
            member.node.accounts.add_group(None, "asean", "ASEAN CERTs")
            for org in ("alpha-cert", "bravo-cert"):
                member.node.accounts.set_member(None, "asean", org, member=True)

        http = httpx.Client(
            base_url=alpha.url + "/api/v1", headers=_token(alpha.node, "alpha-cert")
        )
        with http:
            version = http.post("/norms/versions", json={}).json()
            for item, (tlp, scope) in ANSWERS.items():
                r = http.put(
                    f"/norms/versions/{version['id']}/answers/{item}",
                    json={"measures": f"<b>{item}</b> measures", "tlp": tlp, "scope": scope},
                )
                assert r.status_code == 200, r.text
            r = http.post(
                f"/norms/versions/{version['id']}/publish",
                json={"target": "public", "group": "asean"},
            )
            assert r.status_code == 200, r.text
            late = http.put(f"/norms/versions/{version['id']}/answers/d", json={"measures": "x"})
            assert late.status_code == 409

            offer = {"kind": "training", "title": "CSIRT course", "tags": ["D3", "h"]}
            assert http.post("/norms/offers", json=offer).status_code == 201

        bravo.sync("alpha")
        seen = {}
        for org in ("bravo-cert", "bravo-telco"):
            with httpx.Client(
                base_url=bravo.url + "/api/v1", headers=_token(bravo.node, org)
            ) as reader:
                report = reader.get("/norms/reports/SG").json()
                seen[org] = {a["item"] for a in report["answers"]}
                assert report["version"] == 1 and "requests_received" in report["evidence"]
                if org == "bravo-cert":
                    html = reader.get("/norms/reports/SG/html").text
                    assert "&lt;b&gt;c&lt;/b&gt; measures" in html and "<b>c" not in html
                    assert reader.get("/norms/reports/SG/pdf").content.startswith(b"%PDF-")
                    matrix = reader.get("/norms/matrix").json()
                    row = next(r for r in matrix["rows"] if r["state"] == "SG")
                    assert row["cells"]["c"] == "reported" and row["cells"]["b"] == "none"
                    svg = reader.get("/norms/matrix.svg")
                    assert svg.headers["content-type"].startswith("image/svg+xml")
                    assert "SG, norm (c): Reported" in svg.text
        with httpx.Client(
            base_url=bravo.url + "/api/v1", headers=_token(bravo.node, "bravo-cert")
        ) as reader:
            need = {"kind": "training", "title": "Incident handling", "tags": ["h"]}
            assert reader.post("/norms/needs", json=need).status_code == 201
            [match] = reader.get("/norms/matches").json()  # a need here, an offer from alpha
            assert (match["need"]["state"], match["offer"]["state"]) == ("MY", "SG")
        anonymous = httpx.get(f"{bravo.url}/api/v1/norms/reports/SG").json()
        assert seen == {"bravo-cert": {"a", "h", "c"}, "bravo-telco": {"a", "h"}}
        assert {a["item"] for a in anonymous["answers"]} == {"a"}
