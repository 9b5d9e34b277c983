"""The OpenAPI document is true of a real node process, and no input makes it answer 500.

Schemathesis reads ``/api/v1/openapi.json`` from a node serving a seeded demo region
and, for every operation, sends schema-valid and schema-invalid requests as an admin
(and, for a few, with no credentials). Each answer must be below 500, have a documented
status code and content type, match the documented schema, and carry the documented
headers. Generation is derandomised and bounded, so a run is repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accord.demo import seed_region
from accord.node import Node
from accord.settings import Settings
from tests.conftest import MIGRATED, migrated_sqlite
from tests.server import running_node

pytestmark = [pytest.mark.server, pytest.mark.xdist_group("schemathesis")]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Examples per operation and generation mode; small, so each store's run stays short.
EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 5}
ANONYMOUS_EXAMPLES = 2


def _seed(url: str) -> tuple[str, int]:
    """A demo region with contacts, a check, a request and a webhook; an admin token."""
    node = Node.open(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    try:
        seed_region(node, 40, lambda _n: None)
        issued = node.accounts.create_token(None, "SingCERT", "admin", "fuzz", timedelta(days=1))
        return issued.plaintext, issued.info.id
    finally:
        node.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def fuzzed_node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, int]]:
    """A seeded node process: its base URL, an admin token and that token's id."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([migrated_sqlite(tmp_path, "node.db")])
    else:
        urls = MIGRATED.postgres_lease()
    url = next(urls)
    try:
        token, token_id = _seed(url)
        # The setup's webhook points at loopback, which only an allowed network may be.
        allow = '["127.0.0.0/8"]'
        with running_node(tmp_path, database_url=url, webhook_allow=allow) as (base, _env):
            yield base, token, token_id
    finally:
        for _ in urls:  # drops a PostgreSQL database
            pass


def _setup(base: str, admin: dict[str, str]) -> None:
    """Rows the ids in generated paths may name: a contact, a check, a request, a webhook."""
    rows = {
        "contacts": {
            "kind": "24-7-desk",
            "name": "Duty desk",
            "email": "desk@singcert.example.org",
            "languages": ["en"],
        },
        "checks": {"title": "Ping", "deadline": "2099-01-01T00:00:00Z"},
        "requests": {
            "kind": "assistance",
            "title": "Help",
            "recipients": ["MyCERT"],
            "urgency": "low",
            "incident_category": "availability/ddos",
            "sector": "energy",
            "asks": ["information"],
        },
        "webhooks": {"url": "http://127.0.0.1:9/hook", "secret": "s" * 16},
    }
    for path, body in rows.items():
        created = httpx.post(f"{base}/api/v1/{path}", json=body, headers=admin, timeout=30)
        assert created.status_code == 201, created.text


def _run(
    base: str,
    headers: dict[str, str],
    mode: GenerationMode,
    examples: int,
    token_id: int,
    failures: list[str],
) -> None:
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: Case) -> None:
            # Keep the admin token that signs every other call.
            assume(case.path_parameters is None or case.path_parameters.get("token_id") != token_id)
            case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=30)

        try:
            call()
        except Unsatisfiable:  # nothing to make invalid: an operation without parameters
            continue
        except (AssertionError, FailureGroup) as exc:  # every operation's failures are reported
            failures.append(f"{mode.value} {operation.label}: {_first_lines(exc)}")


def _first_lines(exc: BaseException, count: int = 14) -> str:
    return "\n".join(str(exc).splitlines()[:count])


def test_openapi_document_is_true_and_no_input_is_a_server_error(
    fuzzed_node: tuple[str, str, int],
) -> None:
    base, token, token_id = fuzzed_node
    admin = {"Authorization": f"Bearer {token}"}
    _setup(base, admin)
    failures: list[str] = []
    for mode, examples in EXAMPLES.items():
        _run(base, admin, mode, examples, token_id, failures)
    _run(base, {}, GenerationMode.POSITIVE, ANONYMOUS_EXAMPLES, token_id, failures)
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)
