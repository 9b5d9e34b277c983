"""Each process reuses a token's row for ``TOKEN_CACHE``; revocation stays bounded.

A second ``Node`` on the same database stands for another worker process (or the CLI):
what it changes reaches this one's cache within ``TOKEN_CACHE``; what this one changes
takes effect here at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from accord.accounts import TOKEN_CACHE
from accord.errors import NotAuthenticated
from accord.node import Node
from accord.settings import Settings
from tests.conftest import Clock


@pytest.fixture
def other(settings: Settings, clock: Clock) -> Iterator[Node]:
    """Another process's node over the same database."""
    opened = Node.open(settings, clock=clock)
    yield opened
    opened.close()


def _token(node: Node, expires_in: timedelta | None = None) -> tuple[int, str]:
    node.accounts.add_org(None, "SingCERT", "national-cert", "SG")
    issued = node.accounts.create_token(None, "SingCERT", "analyst", "cached", expires_in)
    return issued.info.id, issued.plaintext


def test_a_token_revoked_by_another_process_stops_working_within_the_cache_bound(
    node: Node, other: Node, clock: Clock
) -> None:
    token_id, token = _token(node)
    assert node.accounts.authenticate(token).token_id == token_id  # now cached here
    other.accounts.revoke_token(None, token_id)
    clock.advance(seconds=TOKEN_CACHE.total_seconds())
    with pytest.raises(NotAuthenticated, match="revoked"):
        node.accounts.authenticate(token)


def test_a_token_revoked_in_this_process_stops_working_at_once(node: Node) -> None:
    token_id, token = _token(node)
    node.accounts.authenticate(token)
    node.accounts.revoke_token(None, token_id)
    with pytest.raises(NotAuthenticated, match="revoked"):
        node.accounts.authenticate(token)


def test_signing_out_ends_the_session_at_once_in_this_process(node: Node) -> None:
    _, token = _token(node)
    session = node.accounts.open_session(token).plaintext
    principal = node.accounts.authenticate(session)
    node.accounts.end_session(principal)
    with pytest.raises(NotAuthenticated, match="revoked"):
        node.accounts.authenticate(session)
    assert node.accounts.authenticate(token).org == principal.org  # the API token lives on


def test_a_cached_token_still_needs_its_secret(node: Node) -> None:
    _, token = _token(node)
    node.accounts.authenticate(token)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(NotAuthenticated, match="unknown or malformed"):
        node.accounts.authenticate(forged)


def test_a_cached_token_expires_on_time(node: Node, clock: Clock) -> None:
    _, token = _token(node, expires_in=TOKEN_CACHE / 2)
    node.accounts.authenticate(token)
    clock.advance(seconds=(TOKEN_CACHE / 2).total_seconds())
    with pytest.raises(NotAuthenticated, match="expired"):
        node.accounts.authenticate(token)


def test_group_changes_reach_a_cached_principal(node: Node, other: Node, clock: Clock) -> None:
    _, token = _token(node)
    node.accounts.add_group(None, "asean", "ASEAN")
    assert node.accounts.authenticate(token).groups == frozenset()
    node.accounts.set_member(None, "asean", "SingCERT", True)  # here: at once
    (group,) = node.accounts.authenticate(token).groups
    other.accounts.set_member(None, "asean", "SingCERT", False)  # elsewhere: within the bound
    clock.advance(seconds=TOKEN_CACHE.total_seconds())
    assert group not in node.accounts.authenticate(token).groups


def test_a_token_in_steady_use_is_written_once_a_minute(node: Node, clock: Clock) -> None:
    token_id, token = _token(node)

    def last_used() -> object:
        (info,) = [t for t in node.accounts.list_tokens(None) if t.id == token_id]
        return info.last_used

    node.accounts.authenticate(token)
    first = last_used()
    assert first == clock()
    for _ in range(20):  # past several cache refreshes, within the minute
        clock.advance(seconds=2)
        node.accounts.authenticate(token)
    assert last_used() == first
    clock.advance(minutes=1)
    node.accounts.authenticate(token)
    assert last_used() == clock()
