"""A TLP:AMBER hash list shared to a group, across real node processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.exchange.service import ShareRequest
from accord.hashlists.capability import HASHLISTS
from accord.hashlists.service import NewEntry
from tests.federation.cluster import analyst, cluster
from tests.hashlists.conftest import CRITERIA, flip, pdq

pytestmark = pytest.mark.server


def test_a_group_list_is_matched_by_members_on_another_node_only(tmp_path: Path) -> None:
    with cluster(tmp_path, ["alpha", "bravo"], [("alpha", "bravo")]) as m:
        alpha, bravo = m["alpha"], m["bravo"]
        alpha.node.accounts.add_org(None, "alpha-cert", "national-cert", "SG")
        bravo.node.accounts.add_org(None, "bravo-cert", "national-cert", "MY")
        bravo.node.accounts.add_org(None, "bravo-telco", "private-sector", "MY")
        bravo.sync("alpha")
        alpha.sync("bravo")  # hellos: each node learns the other's organisations
        for member in (alpha, bravo):  # groups are matched by slug across nodes
            member.node.accounts.add_group(None, "tvec", "TVEC analysts", "")
            for name in ("alpha-cert", "bravo-cert"):
                member.node.accounts.set_member(None, "tvec", name, member=True)
        owner = analyst(alpha.node, "alpha-cert")
        lists = HASHLISTS.service(alpha.node)
        hl = lists.create_list(
            owner,
            name="TVEC",
            description="",
            criteria=CRITERIA,
            share=ShareRequest.parse("amber", "group", [], "tvec"),
        )
        value = pdq(3)
        (entry,) = lists.add_entries(owner, hl.id, [NewEntry("pdq", value, "tvec", quality=90)])
        bravo.sync("alpha")

        tokens = {
            org: bravo.node.accounts.create_token(None, org, "analyst", "t", None).plaintext
            for org in ("bravo-cert", "bravo-telco")
        }

        def match(org: str) -> list[dict[str, object]]:
            got = bravo.http.post(
                f"{bravo.url}/api/v1/hashes/match",
                json={"hashes": [{"signal": "pdq", "value": flip(value, 9), "quality": 90}]},
                headers={"Authorization": f"Bearer {tokens[org]}"},
            )
            assert got.status_code == 200, got.text
            hits: list[dict[str, object]] = got.json()["hits"]
            return hits

        (hit,) = match("bravo-cert")
        assert (hit["entry"], hit["list_id"], hit["distance"]) == (entry, hl.id, 9)
        assert match("bravo-telco") == []  # not in the group: no hit

        # An opinion travels back to the owner; the owner's disable travels out.
        opined = bravo.http.post(
            f"{bravo.url}/api/v1/hashlists/entries/{entry}/opinions",
            json={"verdict": "disputed", "explanation": "a news photo"},
            headers={"Authorization": f"Bearer {tokens['bravo-cert']}"},
        )
        assert opined.status_code == 201, opined.text
        alpha.sync("bravo")
        view = lists.entry(owner, entry)
        assert [o.verdict.value for o in view.opinions] == ["disputed"]
        assert view.state.value == "disputed"
        lists.set_disabled(owner, entry, True, "a news photo, confirmed")
        bravo.sync("alpha")
        assert match("bravo-cert") == []
