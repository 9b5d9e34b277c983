"""Communication checks: exercises that prove the directory works.

Each contact in a check gets its own acknowledgement token: 256 random bits, sent once
(by e-mail and to the organiser through the API) and stored only as a SHA-256 hash,
compared in constant time. Acknowledging is idempotent; after the deadline a token
answers "expired". A successful acknowledgement updates the contact's "last confirmed",
writing a new version to its history exactly as a manual confirm does.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import statistics
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from accord.coordinate import notify
from accord.coordinate.access import audited, reader_of, record_read
from accord.coordinate.directory import Directory
from accord.coordinate.model import (
    Acknowledgement,
    CheckResults,
    CheckTrend,
    IssuedToken,
    Rate,
    StartedCheck,
    Unanswered,
)
from accord.domain.audit import NOT_RECORDED, Recorder
from accord.domain.coordination import OPERATOR
from accord.domain.model import Principal, Role
from accord.errors import Conflict, Forbidden, InvalidInput, NotFound
from accord.store.accounts import GroupRepository
from accord.store.checks import CheckRepository, CheckTarget, NewCheck, NewTarget, TokenTarget
from accord.store.notifications import NewNotification

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from accord.coordinate.federation import Link
    from accord.coordinate.model import Contact

_FORGED = "this acknowledgement link is not valid; use the link from the latest e-mail"
TOKEN_PREFIX = "ack_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100): the smallest value with at least ``pct``
    percent of the values at or below it; 0 for no values. The benches use it too."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


class Checks:
    def __init__(
        self,
        repo: CheckRepository,
        directory: Directory,
        groups: GroupRepository,
        base_url: str,
        reminder_at: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._repo = repo
        self._directory = directory
        self._groups = groups
        self._base_url = base_url.rstrip("/")
        self._reminder_at = reminder_at
        self._clock = clock
        self.recorder: Recorder = NOT_RECORDED  # the audit capability hands in its log
        # Checks between nodes (``coordinate.federation``); None: this node only.
        self.relay: Link | None = None

    def link(self, token: str) -> str:
        return f"{self._base_url}/api/v1/checks/ack/{token}"

    def start(
        self,
        actor: Principal | None,
        title: str,
        deadline: datetime,
        *,
        organiser: int | None = None,
        group: str | None = None,
        states: Sequence[str] | None = None,
        kind: str | None = None,
    ) -> StartedCheck:
        """Start a check over the contacts the organiser can see (all, a group's, some states').

        An organisation's liaison or admin organises for their organisation; the operator
        (``actor`` None) names the ``organiser``. Each contact's token and link are in the
        answer, this once.
        """
        if actor is not None:
            if actor.org is None:
                raise Forbidden("only an organisation organises checks")
            if actor.role not in (Role.ADMIN, Role.LIAISON):
                raise Forbidden("only liaisons and admins organise communication checks")
            organiser = actor.org
        if organiser is None:
            raise InvalidInput("name the organisation that organises the check")
        now = self._clock()
        if deadline.tzinfo is None or deadline <= now:
            raise InvalidInput("the deadline must be a future, timezone-aware time")
        if not title.strip():
            raise InvalidInput("a check needs a title")
        org_ids = None
        if group is not None:
            org_ids = sorted(self._groups.get(group).members)
        contacts = self._directory.search(actor, states=states, kind=kind, org_ids=org_ids)
        # Copies of contacts homed on other nodes are checked by their home nodes: the
        # check travels there, which mails them with a link to itself, and their
        # acknowledgements come back. Without federation they are left out.
        if self.relay is None:
            contacts = [c for c in contacts if c.home_node is None]
        if not contacts:
            raise InvalidInput("no contacts match; widen the group, states or kind")
        elsewhere = [c for c in contacts if c.home_node is not None]
        targets, notices, issued = self._announce(
            [c for c in contacts if c.home_node is None], title, deadline, now
        )
        # Their targets here are answered only by their home nodes' signed messages.
        targets += [
            NewTarget(c.id, c.state, c.kind, _hash(secrets.token_urlsafe(32))) for c in elsewhere
        ]
        remind_at = now + (deadline - now) * self._reminder_at
        uid = f"check--{uuid.uuid4()}" if elsewhere else None
        check = NewCheck(organiser, title.strip()[:300], now, deadline, remind_at, uid)
        within = self._relay(uid, organiser, check, elsewhere)
        check_id = self._repo.add(check, targets, notices, within)
        if within is not None and self.relay is not None:
            self.relay.queued()
        return StartedCheck(check_id, tuple(issued))

    def _relay(
        self, uid: str | None, organiser: int, check: NewCheck, elsewhere: list[Contact]
    ) -> Callable[[Connection, int], None] | None:
        link = self.relay
        if link is None or uid is None:
            return None
        by_node: dict[str, list[int]] = {}
        for c in elsewhere:
            assert c.home_node is not None and c.remote_id is not None
            by_node.setdefault(c.home_node, []).append(c.remote_id)
        payload = link.check_payload(uid, organiser, check.title, check.deadline)

        def within(conn: Connection, check_id: int) -> None:
            for node, ids in sorted(by_node.items()):
                link.queue(conn, node, "check", None, {**payload, "contacts": sorted(ids)})

        return within

    def start_for(
        self,
        organiser: int,
        uid: str,
        origin_node: str,
        title: str,
        deadline: datetime,
        contacts: list[Contact],
        within: Callable[[Connection, int], None],
    ) -> int:
        """Run here, for an organiser homed on ``origin_node``, the part of its check that
        reaches this node's own contacts: mailed from here with links to here."""
        now = self._clock()
        targets, notices, _ = self._announce(contacts, title, deadline, now)
        remind_at = now + (deadline - now) * self._reminder_at
        check = NewCheck(organiser, title[:300], now, deadline, remind_at, uid, origin_node)
        return self._repo.add(check, targets, notices, within)

    def _announce(
        self, contacts: list[Contact], title: str, deadline: datetime, now: datetime
    ) -> tuple[list[NewTarget], list[NewNotification], list[IssuedToken]]:
        targets: list[NewTarget] = []
        notices: list[NewNotification] = []
        issued: list[IssuedToken] = []
        for c in contacts:
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            targets.append(NewTarget(c.id, c.state, c.kind, _hash(token)))
            issued.append(IssuedToken(c.id, c.name, token, self.link(token)))
            if c.email:
                notices.append(
                    notify.email(
                        to=c.email,
                        subject=f"[Accord] Communication check: {title.strip()}",
                        body=(
                            f"Dear {c.name},\n\nThis is a communication check. Please acknowledge "
                            f"by {deadline.isoformat()} by opening this link and pressing the "
                            f"button, or by POSTing to it:\n\n{self.link(token)}\n"
                        ),
                        topic="check.start",
                        org_id=None,
                        now=now,
                    )
                )
        return targets, notices, issued

    def _target(self, token: str) -> TokenTarget:
        row = self._repo.target_by_hash(_hash(token)) if token.startswith(TOKEN_PREFIX) else None
        # The lookup is by hash; the constant-time comparison guards against a partial match.
        if row is None or not hmac.compare_digest(row.token_hash, _hash(token)):
            raise NotFound(_FORGED)
        return row

    def show(self, token: str) -> Acknowledgement:
        """What an acknowledgement link shows: the check, the contact, and whether it is done."""
        row = self._target(token)
        record_read(
            self.recorder, "check-link", [f"check:{row.check_id}", f"contact:{row.contact_id}"]
        )
        return self._shown(row, None)

    def _shown(self, row: TokenTarget, acknowledged: datetime | None) -> Acknowledgement:
        return Acknowledgement(
            check=row.check_id,
            title=row.title,
            contact=row.contact_name,
            deadline=row.deadline,
            acknowledged=acknowledged or row.acknowledged,
            expired=self._clock() > row.deadline,
        )

    def acknowledge(self, token: str) -> Acknowledgement:
        """Record the acknowledgement (idempotent: a repeat returns the first time)."""
        row = self._target(token)
        now = self._clock()
        if row.acknowledged is not None:
            return self._shown(row, None)
        if now > row.deadline:
            raise Conflict("this check closed at its deadline; the link has expired")
        if self._repo.acknowledge(row.id, row.contact_id, now):
            if self.relay is not None:
                check = self._repo.get(row.check_id, reader=OPERATOR)
                if check.origin_node is not None and check.uid is not None:
                    # Back to the organiser's node, signed (queued just after the commit).
                    self.relay.check_acknowledged(check.origin_node, check.uid, row.contact_id, now)
            return self._shown(row, now)
        return self.show(token)  # a concurrent request recorded it first

    def send_reminders(self) -> int:
        """Queue one reminder per unacknowledged contact of each check at its reminder time."""
        now = self._clock()
        sent = 0
        for check in self._repo.due_reminders(now):
            notices = [
                notify.email(
                    to=t.email,
                    subject=f"[Accord] Reminder: communication check {check.title}",
                    body=(
                        f"Dear {t.contact_name},\n\nPlease acknowledge the communication check "
                        f"{check.title!r} before {check.deadline} with the link in the "
                        "first message.\n"
                    ),
                    topic="check.reminder",
                    org_id=t.org_id,
                    now=now,
                )
                for t in self._repo.targets(check.id)
                if t.acknowledged is None and t.email and t.home_node is None
            ]
            if self._repo.mark_reminded(check.id, notices):
                sent += len(notices)
        return sent

    def results(self, actor: Principal | None, check_id: int) -> CheckResults:
        """Response rates per state and kind, median and p90 response time, who never answered.

        Only the organiser (and node admins, and the operator) may read them; to anyone
        else the check does not exist.
        """
        with audited(self.recorder, actor, f"check:{check_id}"):
            check = self._repo.get(check_id, reader=reader_of(actor))
        targets = self._repo.targets(check_id)
        seconds = [
            (t.acknowledged - check.created) / timedelta(seconds=1)
            for t in targets
            if t.acknowledged is not None
        ]
        return CheckResults(
            check=check.id,
            title=check.title,
            created=check.created,
            deadline=check.deadline,
            closed=self._clock() > check.deadline,
            contacts=len(targets),
            acknowledged=len(seconds),
            rate=len(seconds) / len(targets) if targets else 0.0,
            by_state=_rates(targets, lambda t: t.state or "international"),
            by_kind=_rates(targets, lambda t: t.kind),
            by_node=_rates(targets, lambda t: t.home_node or THIS_NODE),
            median_seconds=statistics.median(seconds) if seconds else None,
            p90_seconds=percentile(seconds, 90) if seconds else None,
            never_answered=tuple(
                Unanswered(t.contact_id, t.contact_name, t.state, t.home_node)
                for t in targets
                if t.acknowledged is None
            ),
        )

    def awaiting_other_nodes(self, actor: Principal) -> int:
        """How many contacts homed on other nodes the actor's organisation's open checks
        still wait for (their home nodes send the acknowledgements back)."""
        if actor.org is None:
            return 0
        now = self._clock()
        return sum(
            1
            for check in self._repo.by_organiser(actor.org)
            if check.deadline >= now
            for t in self._repo.targets(check.id)
            if t.home_node is not None and t.acknowledged is None
        )

    def trend(self, actor: Principal) -> list[CheckTrend]:
        """The response rate of each of the actor's organisation's checks, oldest first."""
        if actor.org is None:
            raise Forbidden("only an organisation has checks")
        out = []
        for check in self._repo.by_organiser(actor.org):
            r = self.results(actor, check.id)
            out.append(CheckTrend(r.check, r.title, r.created, r.rate, r.median_seconds))
        return out


THIS_NODE = "this node"


def _rates(targets: Iterable[CheckTarget], key: Callable[[CheckTarget], str]) -> dict[str, Rate]:
    groups: dict[str, list[CheckTarget]] = {}
    for t in targets:
        groups.setdefault(key(t), []).append(t)
    out = {}
    for k, members in sorted(groups.items()):
        answered = sum(t.acknowledged is not None for t in members)
        out[k] = Rate(len(members), answered, answered / len(members))
    return out
