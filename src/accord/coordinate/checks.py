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
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from accord.coordinate import notify
from accord.coordinate.directory import Directory
from accord.domain.model import Principal, Role
from accord.errors import Conflict, Forbidden, InvalidInput, NotFound
from accord.store.accounts import GroupRepository
from accord.store.coordinate import CheckRepository, aware

_FORGED = "this acknowledgement link is not valid; use the link from the latest e-mail"
TOKEN_PREFIX = "ack_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
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
        self.repo = repo
        self._directory = directory
        self._groups = groups
        self._base_url = base_url.rstrip("/")
        self._reminder_at = reminder_at
        self._clock = clock

    def link(self, token: str) -> str:
        return f"{self._base_url}/api/v1/checks/ack/{token}"

    def start(
        self,
        actor: Principal | None,
        title: str,
        deadline: datetime,
        *,
        organiser: int,
        group: str | None = None,
        states: Sequence[str] | None = None,
        kind: str | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """Start a check over the contacts the organiser can see (all, a group's, some states').

        Returns the check id and, per contact, its token and link (shown this once).
        """
        if actor is not None and actor.role not in (Role.ADMIN, Role.LIAISON):
            raise Forbidden("only liaisons and admins organise communication checks")
        now = self._clock()
        if deadline.tzinfo is None or deadline <= now:
            raise InvalidInput("the deadline must be a future, timezone-aware time")
        if not title.strip():
            raise InvalidInput("a check needs a title")
        org_ids = None
        if group is not None:
            org_ids = sorted(self._groups.get(group).members)
        contacts = self._directory.search(actor, states=states, kind=kind, org_ids=org_ids)
        if not contacts:
            raise InvalidInput("no contacts match; widen the group, states or kind")
        targets, notices, issued = [], [], []
        for c in contacts:
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            targets.append(
                {"contact_id": c.id, "state": c.state, "kind": c.kind, "token_hash": _hash(token)}
            )
            issued.append(
                {"contact": c.id, "name": c.name, "token": token, "link": self.link(token)}
            )
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
        remind_at = now + (deadline - now) * self._reminder_at
        check_id = self.repo.add(
            {
                "organiser_org": organiser,
                "title": title.strip()[:300],
                "created": now,
                "deadline": deadline,
                "remind_at": remind_at,
                "reminded": False,
            },
            targets,
            notices,
        )
        return check_id, issued

    def _target(self, token: str) -> Any:
        row = self.repo.target_by_hash(_hash(token)) if token.startswith(TOKEN_PREFIX) else None
        # The lookup is by hash; the constant-time comparison guards against a partial match.
        if row is None or not hmac.compare_digest(row.token_hash, _hash(token)):
            raise NotFound(_FORGED)
        return row

    def show(self, token: str) -> dict[str, Any]:
        """What an acknowledgement link shows: the check, the contact, and whether it is done."""
        return self._shown(self._target(token), None)

    def _shown(self, row: Any, acknowledged: datetime | None) -> dict[str, Any]:
        return {
            "check": row.check_id,
            "title": row.title,
            "contact": row.contact_name,
            "deadline": aware(row.deadline),
            "acknowledged": acknowledged or aware(row.acknowledged),
            "expired": self._clock() > (aware(row.deadline) or self._clock()),
        }

    def acknowledge(self, token: str) -> dict[str, Any]:
        """Record the acknowledgement (idempotent: a repeat returns the first time)."""
        row = self._target(token)
        now = self._clock()
        if row.acknowledged is not None:
            return self._shown(row, None)
        if now > (aware(row.deadline) or now):
            raise Conflict("this check closed at its deadline; the link has expired")
        if self.repo.acknowledge(row.id, row.contact_id, now):
            return self._shown(row, now)
        return self.show(token)  # a concurrent request recorded it first

    def send_reminders(self) -> int:
        """Queue one reminder per unacknowledged contact of each check at its reminder time."""
        now = self._clock()
        sent = 0
        for check in self.repo.due_reminders(now):
            notices = [
                notify.email(
                    to=t.email,
                    subject=f"[Accord] Reminder: communication check {check.title}",
                    body=(
                        f"Dear {t.contact_name},\n\nPlease acknowledge the communication check "
                        f"{check.title!r} before {aware(check.deadline)} with the link in the "
                        "first message.\n"
                    ),
                    topic="check.reminder",
                    org_id=t.org_id,
                    now=now,
                )
                for t in self.repo.targets(check.id)
                if t.acknowledged is None and t.email
            ]
            if self.repo.mark_reminded(check.id, notices):
                sent += len(notices)
        return sent

    def results(self, actor: Principal | None, check_id: int) -> dict[str, Any]:
        """Response rates per state and kind, median and p90 response time, who never answered."""
        check = self.repo.get(check_id)
        if actor is not None and not actor.is_admin() and actor.org != check.organiser_org:
            raise NotFound(f"no communication check {check_id}")
        targets = self.repo.targets(check_id)
        created = aware(check.created)
        assert created is not None
        seconds = [
            ((aware(t.acknowledged) or created) - created) / timedelta(seconds=1)
            for t in targets
            if t.acknowledged is not None
        ]

        def rates(key: str) -> dict[str, dict[str, Any]]:
            groups: dict[str, list[Any]] = {}
            for t in targets:
                groups.setdefault(getattr(t, key) or "international", []).append(t)
            return {
                k: {
                    "contacts": len(v),
                    "acknowledged": sum(t.acknowledged is not None for t in v),
                    "rate": sum(t.acknowledged is not None for t in v) / len(v),
                }
                for k, v in sorted(groups.items())
            }

        closed = self._clock() > (aware(check.deadline) or created)
        return {
            "check": check.id,
            "title": check.title,
            "created": created,
            "deadline": aware(check.deadline),
            "closed": closed,
            "contacts": len(targets),
            "acknowledged": len(seconds),
            "rate": len(seconds) / len(targets) if targets else 0.0,
            "by_state": rates("state"),
            "by_kind": rates("kind"),
            "median_seconds": statistics.median(seconds) if seconds else None,
            "p90_seconds": percentile(seconds, 0.9) if seconds else None,
            "never_answered": [
                {"contact": t.contact_id, "name": t.contact_name, "state": t.state}
                for t in targets
                if t.acknowledged is None
            ],
        }

    def trend(self, actor: Principal | None, organiser: int) -> list[dict[str, Any]]:
        """The response rate of each of an organiser's checks, oldest first."""
        out = []
        for check in self.repo.by_organiser(organiser):
            r = self.results(actor, check.id)
            out.append(
                {
                    "check": r["check"],
                    "title": r["title"],
                    "created": r["created"],
                    "rate": r["rate"],
                    "median_seconds": r["median_seconds"],
                }
            )
        return out
