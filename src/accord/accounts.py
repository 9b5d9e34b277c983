"""Organisations, sharing groups and API tokens, and turning a token into a principal.

Admin operations take the acting principal; ``None`` is the operator at the node's
own console (the CLI), who is trusted the way a database superuser is.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from accord.domain.audit import NOT_RECORDED, Event, Recorder, actor_of
from accord.domain.clock import Clock
from accord.domain.model import (
    Organisation,
    OrgKind,
    Principal,
    Role,
    SharingGroup,
    new_identity_id,
)
from accord.domain.states import parse_state
from accord.domain.throttle import Backoff, Key, SigninRules, Streak, retry_after
from accord.domain.tokens import issue_token, secret_matches, split_token
from accord.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound, TooManyAttempts
from accord.settings import Settings
from accord.store.accounts import (
    GroupRepository,
    KeyedToken,
    OrganisationRepository,
    TokenRepository,
    UserLogin,
    UserRepository,
)
from accord.store.accounts import TokenInfo as TokenInfo
from accord.store.accounts import UserInfo as UserInfo
from accord.store.signins import SigninRepository, Throttled

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,78}[a-z0-9]$")
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,118}[A-Za-z0-9]$")
_BAD_TOKEN = "the API token is unknown or malformed; ask a node admin for a new one"
_BAD_LOGIN = "the username or password is wrong"
MIN_PASSWORD = 12
SESSION = timedelta(hours=12)
BASIC_CACHE = timedelta(minutes=1)
# tokens.last_used is as fresh as this: a token in steady use costs one write a minute,
# not one per request.
LAST_USED_EVERY = timedelta(minutes=1)
# A process reuses a token's row and its organisation's groups for this long after reading
# them, so a request costs no token queries (the secret is still checked every time). A
# token revoked, or a group membership changed, takes effect at once in the process that
# made the change, and within this bound in the node's other worker processes and after
# a command-line `accord token revoke`.
TOKEN_CACHE = timedelta(seconds=5)
_TOKEN_CACHE_MAX = 10_000
_HASHER = PasswordHasher()
# Each argon2 check holds 64 MiB for its duration: a burst of sign-ins queues here
# rather than growing the process by 64 MiB per concurrent attempt.
_VERIFYING = threading.BoundedSemaphore(4)
# An address that signed in to an account within this long is not slowed by guessing
# at that account from elsewhere (the account-wide wait).
KNOWN_ADDRESS = timedelta(days=30)
# Quiet streaks are dropped at most this often, by whichever worker fails a sign-in.
PRUNE_EVERY = timedelta(minutes=1)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both failures take as long.

    Made on first use: an argon2 hash at import would cost every command ~0.2 s.
    """
    return _HASHER.hash("accord-no-such-user")


@dataclass(frozen=True, slots=True)
class _Known:
    """A token's row and its organisation's groups, as read at ``read``."""

    token: KeyedToken
    groups: frozenset[int]
    read: datetime


@dataclass(frozen=True, slots=True)
class NewToken:
    info: TokenInfo
    plaintext: str


@dataclass(frozen=True, slots=True)
class SigninReport:
    """Failed sign-ins lately, and the keys that must wait now, for node admins."""

    failures_24h: int
    throttled: list[Throttled]


def signin_rules(settings: Settings) -> SigninRules:
    """The node's sign-in throttling, from its settings."""
    first = timedelta(seconds=settings.signin_first_wait)

    def backoff(free: int, cap: float) -> Backoff:
        return Backoff(free=free, first=first, cap=timedelta(seconds=cap))

    return SigninRules(
        pair=backoff(settings.signin_free_failures, settings.signin_max_wait),
        address=backoff(settings.signin_address_free_failures, settings.signin_address_max_wait),
        account=backoff(settings.signin_account_free_failures, settings.signin_account_max_wait),
        forget=timedelta(seconds=settings.signin_forget_after),
        known=KNOWN_ADDRESS,
    )


def require_admin(actor: Principal | None) -> None:
    if actor is not None and not actor.is_admin():
        raise Forbidden("only a node admin may do this")


def _require_credentials(actor: Principal | None) -> None:
    if actor is not None and actor.org is None and actor.peer is None:
        raise NotAuthenticated("this needs credentials: 'Authorization: Bearer <token>'")


class Accounts:
    def __init__(
        self,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        users: UserRepository,
        tokens: TokenRepository,
        signins: SigninRepository,
        rules: SigninRules,
        clock: Clock,
    ) -> None:
        self.orgs = orgs
        self.groups = groups
        self._users = users
        self._tokens = tokens
        self._signins = signins
        self._rules = rules
        self._clock = clock
        self._basic_cache: dict[str, tuple[Principal, datetime]] = {}
        self._pruned: datetime | None = None
        self._known: dict[str, _Known] = {}  # by token key; see TOKEN_CACHE
        self.audit: Recorder = NOT_RECORDED  # the audit capability hands in its log

    def _admin_act(self, actor: Principal | None, what: str, ref: str | None = None) -> None:
        who = actor_of(actor.org, actor.role, actor.token_id, actor.peer) if actor else "operator"
        self.audit.record([Event(who, "admin", object_ref=ref, detail=what)])

    # Organisations ------------------------------------------------------------------
    def add_org(
        self, actor: Principal | None, name: str, kind: str, state: str | None
    ) -> Organisation:
        require_admin(actor)
        name = name.strip()
        if not name:
            raise InvalidInput("an organisation needs a name")
        try:
            org_kind = OrgKind(kind)
        except ValueError:
            kinds = ", ".join(k.value for k in OrgKind)
            raise InvalidInput(f"unknown organisation kind {kind!r}; use one of: {kinds}") from None
        try:
            code = parse_state(state) if state else None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        added = self.orgs.add(name, org_kind, code, new_identity_id(), self._clock())
        self._admin_act(actor, f"add organisation {added.id}", added.identity_id)
        return added

    def organisations(self, actor: Principal | None) -> list[Organisation]:
        """Every organisation on the node, by name, to anyone who presented credentials."""
        _require_credentials(actor)
        return self.orgs.all()

    def organisation(self, actor: Principal | None, ref: str) -> Organisation:
        """One organisation, by STIX identity id or exact name."""
        _require_credentials(actor)
        return self.orgs.find(ref)

    # Sharing groups -----------------------------------------------------------------
    def add_group(
        self, actor: Principal | None, slug: str, name: str, description: str = ""
    ) -> SharingGroup:
        require_admin(actor)
        if not _SLUG.match(slug):
            raise InvalidInput(
                f"group slug {slug!r} must be 3-80 lower-case letters, digits and hyphens"
            )
        added = self.groups.add(slug, name.strip() or slug, description)
        self._admin_act(actor, f"add group {slug}")
        return added

    def visible_groups(self, actor: Principal | None) -> list[SharingGroup]:
        """Admins see every group; anyone else only the groups their organisation is in."""
        groups = self.groups.all()
        if actor is None or actor.is_admin():
            return groups
        return [g for g in groups if actor.org in g.members]

    def group(self, actor: Principal | None, slug: str) -> SharingGroup:
        """One group; to a non-member it does not exist."""
        for g in self.visible_groups(actor):
            if g.slug == slug:
                return g
        raise NotFound(f"no sharing group {slug!r}")

    def set_member(self, actor: Principal | None, slug: str, org_ref: str, member: bool) -> None:
        """Add or remove a member of a group this node owns (a new membership version, which
        federation sends to the nodes of its members)."""
        require_admin(actor)
        group = self.groups.get(slug)
        if not group.owned:
            raise Forbidden(
                f"sharing group {slug!r} is owned by node {group.owner_node}: only that node "
                "changes its membership"
            )
        org = self.orgs.find(org_ref)
        if member:
            self.groups.add_member(group.id, org.id)
        else:
            self.groups.remove_member(group.id, org.id)
        self._known.clear()
        self._admin_act(actor, f"{'add' if member else 'remove'} org {org.id} in group {slug}")

    # Users ---------------------------------------------------------------------------
    def add_user(
        self, actor: Principal | None, username: str, org_ref: str, role: str, password: str
    ) -> UserInfo:
        """Add a person who signs in with a password (stored as an argon2 hash)."""
        require_admin(actor)
        if not _USERNAME.match(username):
            raise InvalidInput(
                f"username {username!r} must be 3-120 letters, digits and . _ @ - characters"
            )
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"a password needs at least {MIN_PASSWORD} characters")
        org = _homed_here(self.orgs.find(org_ref), "users")
        user_role = _role(role)
        added = self._users.add(username, org.id, user_role, _HASHER.hash(password), self._clock())
        self._admin_act(actor, f"add user {username} to org {org.id}")
        return added

    def list_users(self, actor: Principal | None) -> list[UserInfo]:
        """Every user, by username (admins only); never a password hash."""
        require_admin(actor)
        return self._users.list()

    def _password_matches(self, username: str, password: str, address: str) -> UserLogin:
        """The user when the password matches; NotAuthenticated otherwise, and
        TooManyAttempts, before any hashing, while this sign-in must wait.

        An unknown username is checked against a dummy hash, so both failures take as long,
        and is throttled the same way as a known one.
        """
        self._refuse_if_waiting(username, address)  # cheap refusals, never queued
        with _VERIFYING:
            # Again in the slot: attempts queued behind a failure see the streak it left.
            pair = self._refuse_if_waiting(username, address).get(Key.PAIR)
            # A name no user can have is not looked up (nor can it carry a NUL to the database).
            found = self._users.by_username(username) if _USERNAME.match(username) else None
            try:
                _HASHER.verify(found.password_hash if found else _dummy_hash(), password)
            except (VerificationError, InvalidHashError):
                found = None
            if found is None:
                self._failed(username, address)
                self.audit.record([Event(f"user:{username[:120]}", "sign-in", "refused")])
                raise NotAuthenticated(_BAD_LOGIN)
        self._succeeded(username, address, pair)
        self.audit.record([Event(f"user:{username}", "sign-in")])
        return found

    def _refuse_if_waiting(self, username: str, address: str) -> dict[Key, Streak]:
        """The streaks of this sign-in; TooManyAttempts while any of them must wait."""
        streaks = self._signins.streaks(username, address)
        wait = self._rules.wait(streaks, self._clock())
        if wait:
            seconds = retry_after(wait)
            raise TooManyAttempts(
                f"too many failed sign-ins; try again in {_duration(seconds)}", seconds
            )
        return streaks

    def _failed(self, username: str, address: str) -> None:
        now = self._clock()
        rules = self._rules

        def failed(streaks: dict[Key, Streak]) -> dict[Key, Streak]:
            return {
                k: streaks.get(k, Streak()).failed(now, rules.backoff(k), rules.forget) for k in Key
            }

        self._signins.change(username, address, failed, failed_at=now)
        if self._pruned is None or now - self._pruned >= PRUNE_EVERY:
            self._pruned = now
            self._signins.prune(now, rules.forget, rules.known)

    def _succeeded(self, username: str, address: str, pair: Streak | None) -> None:
        """A right password ends the pair's streak and makes the address known to the
        account; the address's and the account's streaks only fade with time."""
        now = self._clock()
        if pair is not None and not pair.failures and pair.last_success is not None:
            if now - pair.last_success < LAST_USED_EVERY:
                return  # as fresh as a token's last use: no write for each page of a client

        def succeeded(streaks: dict[Key, Streak]) -> dict[Key, Streak]:
            return {Key.PAIR: streaks.get(Key.PAIR, Streak()).succeeded(now)}

        self._signins.change(username, address, succeeded)

    def signin_report(self, actor: Principal | None) -> SigninReport:
        """Failed sign-ins over the last 24 hours (by the hour) and who must wait now."""
        require_admin(actor)
        now = self._clock()
        return SigninReport(
            self._signins.failures_since(now - timedelta(hours=24)),
            self._signins.throttled(now),
        )

    def login(self, username: str, password: str, address: str) -> NewToken:
        """A short-lived token for a user whose password matches; NotAuthenticated otherwise.

        ``address`` is where the attempt came from: failures there are throttled.
        """
        found = self._password_matches(username, password, address)
        user = found.user
        if user.disabled is not None:
            raise NotAuthenticated("this account is disabled; ask a node admin")
        if _HASHER.check_needs_rehash(found.password_hash):
            self._users.set_password_hash(user.id, _HASHER.hash(password))
        return self._issue(user.org, user.role, f"session of {username}", SESSION, user.id)

    def authenticate_basic(self, username: str, password: str, address: str) -> Principal:
        """HTTP Basic: an API token as the password (any username), or a user's password.

        Password checks are cached for a minute by a hash of the pair, so a TAXII client
        paging with Basic auth pays for argon2 once, not on every page.
        """
        if password.startswith("accord_"):
            return self.authenticate(password)
        key = hashlib.sha256(f"{username}\0{password}".encode()).hexdigest()
        now = self._clock()
        cached = self._basic_cache.get(key)
        if cached and cached[1] > now:
            return cached[0]
        user = self._password_matches(username, password, address).user
        if user.disabled is not None:
            raise NotAuthenticated(_BAD_LOGIN)
        principal = Principal(org=user.org, role=user.role, groups=self.groups.of_org(user.org))
        if len(self._basic_cache) > 1000:
            self._basic_cache.clear()
        self._basic_cache[key] = (principal, now + BASIC_CACHE)
        return principal

    # Web sessions -------------------------------------------------------------------
    def open_session(self, token: str) -> NewToken:
        """Trade an API token for a session token acting the same way.

        The web console keeps only session tokens in its cookie: signing out revokes
        the session and never the API token, which also stays out of the browser.
        """
        principal = self.authenticate(token)
        if principal.org is None or principal.role is None or principal.token_id is None:
            raise NotAuthenticated("a peer node's token cannot sign in to the console")
        held = self._tokens.get(principal.token_id)
        lifetime = SESSION
        if held.expires is not None:
            lifetime = min(SESSION, held.expires - self._clock())
        return self._issue(
            principal.org, principal.role, f"session via token {held.id}", lifetime, held.user
        )

    def end_session(self, principal: Principal) -> None:
        """Revoke the session token behind ``principal`` (signing out)."""
        if principal.token_id is not None:
            self._tokens.revoke(principal.token_id, self._clock())
            self._known.clear()

    # Tokens -------------------------------------------------------------------------
    def create_token(
        self,
        actor: Principal | None,
        org_ref: str,
        role: str,
        name: str,
        expires_in: timedelta | None,
    ) -> NewToken:
        require_admin(actor)
        org = _homed_here(self.orgs.find(org_ref), "tokens")
        if expires_in is not None and expires_in <= timedelta(0):
            raise InvalidInput("a token's lifetime must be positive")
        issued = self._issue(org.id, _role(role), name, expires_in, None)
        self._admin_act(actor, f"create token {issued.info.id} for org {org.id}")
        return issued

    def _issue(
        self,
        org_id: int | None,
        role: Role,
        name: str,
        expires_in: timedelta | None,
        user_id: int | None,
        peer_id: int | None = None,
    ) -> NewToken:
        now = self._clock()
        expires = now + expires_in if expires_in else None
        issued = issue_token()
        token_id = self._tokens.add(
            key=issued.key,
            secret_hash=issued.secret_hash,
            org_id=org_id,
            role=role,
            name=name,
            created=now,
            expires=expires,
            user_id=user_id,
            peer_id=peer_id,
        )
        info = TokenInfo(token_id, org_id, role, name, now, expires, None, None, user_id, peer_id)
        return NewToken(info=info, plaintext=issued.plaintext)

    def list_tokens(self, actor: Principal | None) -> list[TokenInfo]:
        require_admin(actor)
        return self._tokens.list()

    def revoke_token(self, actor: Principal | None, token_id: int) -> None:
        require_admin(actor)
        self._tokens.revoke(token_id, self._clock())
        self._known.clear()
        self._admin_act(actor, f"revoke token {token_id}")

    def authenticate(self, token: str) -> Principal:
        """The principal a token acts as, or NotAuthenticated saying what to do next."""
        parts = split_token(token.strip())
        now = self._clock()
        known = self._lookup(parts[0], now) if parts else None
        found = known.token if known is not None else None
        # The hash comparison runs for well-formed tokens whether or not the key exists.
        stored_hash = found.secret_hash if found is not None else "0" * 64
        if parts is None or not secret_matches(parts[1], stored_hash) or known is None:
            raise NotAuthenticated(_BAD_TOKEN)
        info = known.token.info
        if info.revoked is not None:
            raise NotAuthenticated("this API token was revoked; ask a node admin for a new one")
        if info.expires is not None and info.expires <= now:
            raise NotAuthenticated("this API token has expired; ask a node admin for a new one")
        if info.last_used is None or now - info.last_used >= LAST_USED_EVERY:
            if self._tokens.touch(info.id, now):  # skipped while another writer holds it
                used = replace(known.token, info=replace(info, last_used=now))
                self._known[parts[0]] = replace(known, token=used)
        if info.peer is not None:
            return Principal(org=None, token_id=info.id, peer=info.peer)
        if info.org is None:
            raise NotAuthenticated(_BAD_TOKEN)  # only peer tokens act for no organisation
        return Principal(org=info.org, role=info.role, groups=known.groups, token_id=info.id)

    def _lookup(self, key: str, now: datetime) -> _Known | None:
        """The token with this key and its organisation's groups: from this process's
        cache when read less than TOKEN_CACHE ago, else from the database."""
        known = self._known.get(key)
        if known is not None and timedelta(0) <= now - known.read < TOKEN_CACHE:
            return known
        found = self._tokens.by_key(key)
        if found is None:
            self._known.pop(key, None)
            return None
        org = found.info.org
        groups = self.groups.of_org(org) if org is not None else frozenset[int]()
        if len(self._known) >= _TOKEN_CACHE_MAX:
            self._known.clear()
        known = _Known(found, groups, now)
        self._known[key] = known
        return known

    def forget_principals(self) -> None:
        """Drop this process's cached tokens, e.g. after group memberships changed."""
        self._known.clear()

    def issue_peer_token(self, peer_id: int, name: str) -> str:
        """A token for a peer node to present here; shown once."""
        return self._issue(None, Role.READER, f"peer {name}", None, None, peer_id).plaintext


def _homed_here(org: Organisation, what: str) -> Organisation:
    """``org`` when this node is its home; only the home node issues its credentials."""
    if not org.local:
        raise Forbidden(
            f"{org.name} is homed on node {org.home}: only its home node issues its {what}"
        )
    return org


def _duration(seconds: int) -> str:
    """``seconds`` in words: "1 second", "45 seconds", "15 minutes" (rounded up)."""
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{-(-seconds // 60)} minutes"


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {role!r}; use one of: {roles}") from None
