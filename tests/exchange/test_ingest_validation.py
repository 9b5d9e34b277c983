"""The differential validation corpus, through a node's ingest, on every backend.

Each case is posted on its own: stix2-validator's verdict decides whether the node
stores it (all of it) or refuses it with a problem naming it (and stores nothing).
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from accord.domain.scope import Scope
from accord.errors import InvalidInput
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.store.tables import stix_objects
from tests.builders import org, principal
from tests.exchange.test_validation import ALL_CASES


def _stored(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(stix_objects)).scalar_one())


def test_ingest_agrees_with_stix2_validator_on_the_corpus(node: Node) -> None:
    me = principal(node, org(node, "SingCERT"))
    request = ShareRequest(scope=Scope.ORGANISATION)  # every marking allows it
    disagreements = []
    for name, build, valid in ALL_CASES:
        before = _stored(node)
        payload = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [build()]}
        try:
            node.exchange.ingest(me, payload, request)
            accepted = True
        except InvalidInput as exc:
            accepted = False
            assert exc.problems or "type" in exc.detail, name
            assert _stored(node) == before, f"{name}: refused but something was stored"
        if accepted is not valid:
            disagreements.append(name)
    assert disagreements == []
