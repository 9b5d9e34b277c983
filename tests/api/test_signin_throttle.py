"""Sign-in throttling on every surface that takes a password, on SQLite and PostgreSQL:
the API's /auth/token, the console's sign-in form and TAXII HTTP Basic."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

import accord.accounts
from accord.app import create_app
from accord.domain.model import Role
from accord.errors import AccordError
from accord.node import Node
from accord.settings import Settings
from accord.store.tables import signin_streaks
from tests.asgi import Client
from tests.builders import org, principal
from tests.conftest import Clock, migrated_sqlite
from tests.server import running_node

USER = "analyst@mycert"
PASSWORD = "correct horse battery"
WRONG = "not the password at all"
TAXII = "application/taxii+json;version=2.1"

# One attempt with a username and password from a client: the response.
Attempt = Callable[[Client, str, str], httpx.Response]


def api(client: Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def console(client: Client, username: str, password: str) -> httpx.Response:
    form = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    fields = {"method": "password", "username": username, "password": password, "next": "/"}
    return client.post("/signin", data={**fields, "csrf": csrf.group(1)})


def taxii(client: Client, username: str, password: str) -> httpx.Response:
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}", "Accept": TAXII}
    return client.get("/taxii2/api/collections/", headers=headers)


SURFACES = {"api": api, "console": console, "taxii": taxii}
SIGNED_IN = {"api": 201, "console": 303, "taxii": 200}


@dataclass
class Setup:
    node: Node
    clocked: Clock

    def client(self, address: str = "127.0.0.1") -> Client:
        return Client(create_app(node=self.node), address=address)


@pytest.fixture
def n(settings: Settings, clock: Clock, migrated: None) -> Iterator[Setup]:
    opened = Node.open(settings, clock=clock)
    org(opened, "MyCERT", state="MY")
    opened.accounts.add_user(None, USER, "MyCERT", "analyst", PASSWORD)
    yield Setup(opened, clock)
    opened.close()


def _refused(response: httpx.Response, surface: str) -> int:
    """The Retry-After of a throttled answer, after checking its shape on ``surface``."""
    assert response.status_code == 429, response.text
    seconds = int(response.headers["retry-after"])
    assert seconds >= 1
    if surface == "api":
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"] == "/api/v1/problems/too-many-attempts" and body["status"] == 429
    elif surface == "taxii":
        assert response.headers["content-type"] == TAXII
        assert response.json()["http_status"] == "429"
    else:
        assert "text/html" in response.headers["content-type"]
        assert "too many failed sign-ins; try again in" in response.text
    return seconds


@pytest.mark.parametrize("surface", SURFACES)
def test_wrong_passwords_back_off_then_the_right_one_works_after_the_wait(
    n: Setup, surface: str
) -> None:
    attempt = SURFACES[surface]
    with n.client() as c:
        for _ in range(5):
            assert attempt(c, USER, WRONG).status_code == 401
        # Even the right password waits: the answer says nothing about it.
        assert _refused(attempt(c, USER, PASSWORD), surface) == 1
        n.clocked.advance(seconds=1)
        assert attempt(c, USER, PASSWORD).status_code == SIGNED_IN[surface]


def test_waits_double_with_each_failure_up_to_the_cap(n: Setup) -> None:
    waits = []
    with n.client() as c:
        for _ in range(5):
            assert api(c, USER, WRONG).status_code == 401
        for _ in range(12):
            wait = _refused(api(c, USER, WRONG), "api")
            waits.append(wait)
            n.clocked.advance(seconds=wait - 0.5)
            assert _refused(api(c, USER, PASSWORD), "api") == 1  # not a moment early
            n.clocked.advance(seconds=0.5)
            assert api(c, USER, WRONG).status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords argon2 checked, in order."""
    checked: list[str] = []
    hasher = accord.accounts._HASHER

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            checked.append(password)
            return hasher.verify(stored, password)

        def __getattr__(self, name: str) -> object:
            return getattr(hasher, name)

    monkeypatch.setattr(accord.accounts, "_HASHER", Counting())
    return checked


def test_throttled_attempts_cost_no_password_hashing(n: Setup, verified: list[str]) -> None:
    with n.client() as c:
        for _ in range(5):
            api(c, USER, WRONG)
        for surface, attempt in SURFACES.items():
            for _ in range(20):
                _refused(attempt(c, USER, PASSWORD), surface)
    assert len(verified) == 5


def test_a_flood_of_guesses_at_once_gets_few_password_checks(n: Setup, verified: list[str]) -> None:
    """Attempts queued for the four argon2 slots look at the streak again once in one."""

    def guess(_: int) -> int:
        try:
            n.node.accounts.login(USER, WRONG, "127.0.0.5")
        except AccordError as exc:
            return exc.status
        return 201

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(guess, range(48)))
    # Five free failures, and at most three more checked beside the fifth.
    assert 5 <= len(verified) <= 5 + 3
    assert answers.count(401) == len(verified) and answers.count(429) == 48 - len(verified)


def test_another_address_waits_at_most_the_account_cap_and_a_known_one_not_at_all(
    n: Setup,
) -> None:
    def guess(address: str, times: int) -> None:
        """Wrong passwords from ``address``, each once any wait is over."""
        with n.client(address) as guesser:
            for _ in range(times):
                answer = api(guesser, USER, WRONG)
                while answer.status_code == 429:
                    n.clocked.advance(seconds=int(answer.headers["retry-after"]))
                    answer = api(guesser, USER, WRONG)
                assert answer.status_code == 401

    with n.client("127.0.0.9") as known:
        assert api(known, USER, PASSWORD).status_code == 201
    # A guesser at the account from four addresses, under each pair's free failures.
    for i, times in enumerate((4, 4, 4, 3)):
        guess(f"127.0.0.{i + 2}", times)
    with n.client("::1") as owner:  # 15 failures of the account: 2**(15 - 10) seconds
        assert _refused(api(owner, USER, PASSWORD), "api") == 32
        with n.client("127.0.0.9") as known:  # signed in here before: not held up
            assert api(known, USER, PASSWORD).status_code == 201
        n.clocked.advance(seconds=32)
        assert api(owner, USER, PASSWORD).status_code == 201
    # However long the guessing goes on, a stranger address waits a minute at most.
    for i in range(5):
        guess(f"127.0.1.{i}", 4)
    with n.client("127.0.2.1") as stranger:
        assert _refused(api(stranger, USER, PASSWORD), "api") == 60


def test_spraying_many_usernames_from_one_address_is_throttled(n: Setup) -> None:
    with n.client() as sprayer:
        for i in range(20):
            assert api(sprayer, f"user{i}@nowhere", WRONG).status_code == 401
        assert _refused(api(sprayer, USER, PASSWORD), "api") == 1
        assert _refused(taxii(sprayer, "someone-else", WRONG), "taxii") == 1
    with n.client("127.0.0.2") as elsewhere:  # the address waits, not the accounts
        assert api(elsewhere, USER, PASSWORD).status_code == 201


def test_unknown_usernames_are_throttled_exactly_like_known_ones(n: Setup) -> None:
    def answers(username: str, address: str) -> list[tuple[int, str, str | None]]:
        seen = []
        with n.client(address) as c:
            for _ in range(8):
                r = api(c, username, WRONG)
                seen.append((r.status_code, r.json()["detail"], r.headers.get("retry-after")))
        return seen

    known, unknown = answers(USER, "127.0.0.2"), answers("nobody@nowhere", "127.0.0.3")
    assert known == unknown
    assert [status for status, _, _ in known] == [401] * 5 + [429] * 3


def test_a_right_password_ends_the_streak_of_its_address(n: Setup) -> None:
    with n.client() as c:
        for _ in range(4):
            assert api(c, USER, WRONG).status_code == 401
        assert api(c, USER, PASSWORD).status_code == 201
        for _ in range(5):
            assert api(c, USER, WRONG).status_code == 401
        _refused(api(c, USER, PASSWORD), "api")


def test_a_quiet_hour_forgets_the_streak(n: Setup) -> None:
    with n.client() as c:
        for _ in range(6):
            api(c, USER, WRONG)
        n.clocked.advance(hours=1)
        for _ in range(5):
            assert api(c, USER, WRONG).status_code == 401


def test_every_worker_and_a_restarted_node_see_the_streaks(n: Setup, settings: Settings) -> None:
    with n.client() as c:
        for _ in range(5):
            api(c, USER, WRONG)
    other = Node.open(settings, clock=n.clocked)  # another worker, or the node restarted
    try:
        with Client(create_app(node=other)) as c:
            assert _refused(api(c, USER, PASSWORD), "api") == 1
            assert _refused(taxii(c, USER, PASSWORD), "taxii") == 1
    finally:
        other.close()


def test_quiet_streaks_are_pruned(n: Setup) -> None:
    def rows() -> int:
        with n.node.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(signin_streaks)).scalar_one())

    with n.client() as c:
        for i in range(10):
            api(c, f"user{i}@nowhere", WRONG)
        assert rows() == 10 + 1 + 10  # a pair and an account each, one address
        n.clocked.advance(hours=2)
        api(c, "last@nowhere", WRONG)  # the next failure sweeps
    assert rows() == 3


def test_admins_see_failed_sign_ins_and_who_waits(n: Setup) -> None:
    admin = principal(n.node, org(n.node, "SingCERT"), Role.ADMIN)
    token = n.node.accounts.create_token(admin, "SingCERT", "admin", "t", None).plaintext
    n.node.accounts.add_user(admin, "root@singcert", "SingCERT", "admin", PASSWORD)
    with n.client("127.0.0.7") as c:
        for _ in range(6):
            api(c, USER, WRONG)
        report = c.get("/api/v1/auth/failures", headers={"Authorization": f"Bearer {token}"}).json()
        assert report["failures_24h"] == 5
        (waiting,) = report["throttled"]
        assert (waiting["kind"], waiting["username"], waiting["address"]) == (
            "pair",
            USER,
            "127.0.0.7",
        )
        assert waiting["failures"] == 5
        analyst = n.node.accounts.create_token(admin, "MyCERT", "analyst", "t", None).plaintext
        refused = c.get("/api/v1/auth/failures", headers={"Authorization": f"Bearer {analyst}"})
        assert refused.status_code == 403
    with n.client() as browser:
        assert console(browser, "root@singcert", PASSWORD).status_code == 303
        page = browser.get("/signins")
        assert page.status_code == 200
        assert "<strong>5</strong> failed sign-ins in the last 24 hours" in page.text
        assert "127.0.0.7" in page.text and USER in page.text
        assert 'href="/signins"' in page.text
    n.clocked.advance(hours=25)
    assert n.node.accounts.signin_report(admin).failures_24h == 0


def test_odd_usernames_are_counted_never_a_server_error(n: Setup) -> None:
    with n.client() as c:
        # The API's schema refuses a username with NUL or over its length before any
        # sign-in (400 naming the field, not counted); TAXII Basic refuses a NUL name before
        # sign-in too (401, not counted: no account can have it), and so does the console's
        # form check (400 naming the field); the rest are counted.
        refused = {name: api(c, name, WRONG) for name in ("nul\0name", "x" * 500)}
        for r in refused.values():
            assert r.status_code == 400 and r.json()["problems"][0]["field"] == "username"
        for name in ("", "ünïcode name"):
            assert api(c, name, WRONG).status_code == 401
        for name in ("nul\0name", "x" * 500, "", "ünïcode name"):
            assert taxii(c, name, WRONG).status_code == 401
        assert console(c, "nul\0name", WRONG).status_code == 400
        assert console(c, "ünïcode name", WRONG).status_code == 401
    assert n.node.accounts.signin_report(None).failures_24h == 6


@pytest.mark.server
def test_a_served_node_throttles_across_its_workers_by_forwarded_address(
    tmp_path: Path,
) -> None:
    """Two worker processes share the streaks; a proxy on the node's own host (uvicorn
    trusts its X-Forwarded-For by default) gives each client its own address."""
    database = migrated_sqlite(tmp_path, "node.db")
    setup = Node.open(Settings(database_url=database, _env_file=None))  # type: ignore[call-arg]
    org(setup, "MyCERT", state="MY")
    setup.accounts.add_user(None, USER, "MyCERT", "analyst", PASSWORD)
    setup.close()
    with running_node(tmp_path, database, workers="2") as (url, _):

        def attempt(password: str, client: str) -> httpx.Response:
            # A connection each: the two workers take turns accepting them.
            return httpx.post(
                f"{url}/api/v1/auth/token",
                json={"username": USER, "password": password},
                headers={"X-Forwarded-For": client},
                timeout=30,
            )

        for _ in range(5):
            assert attempt(WRONG, "127.0.0.10").status_code == 401
        for _ in range(4):
            refused = attempt(PASSWORD, "127.0.0.10")
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert attempt(PASSWORD, "127.0.0.11").status_code == 201


def test_a_streak_may_not_be_forgotten_before_its_longest_wait() -> None:
    with pytest.raises(ValidationError, match="ACCORD_SIGNIN_FORGET_AFTER"):
        Settings(signin_forget_after=600, _env_file=None)  # type: ignore[call-arg]
    assert Settings(signin_forget_after=900, _env_file=None).signin_forget_after == 900  # type: ignore[call-arg]
