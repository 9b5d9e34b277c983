"""The coordination services wired together, and the periodic work they need.

``tick()`` is what the scheduler inside ``accord serve`` runs: check reminders,
request escalations, then delivery of every notification due. Tests call it after
moving their clock, so no test waits on real time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from accord.coordinate.checks import Checks
from accord.coordinate.directory import Directory
from accord.coordinate.egress import Egress
from accord.coordinate.federation import Link
from accord.coordinate.notify import Delivery, Notifier, Retry, SmtpSettings
from accord.coordinate.requests import EvidenceReader, Requests
from accord.coordinate.workflow import Deadlines, Urgency
from accord.domain.audit import Recorder
from accord.domain.clock import Clock
from accord.periodic import Periodic
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.checks import CheckRepository
from accord.store.contacts import ContactRepository
from accord.store.notifications import NotificationRepository
from accord.store.requests import RequestRepository

log = logging.getLogger("accord.coordinate")


@dataclass(frozen=True, slots=True)
class Tick:
    reminders: int
    escalations: int
    delivery: Delivery


class Coordination:
    def __init__(
        self,
        *,
        contacts: ContactRepository,
        checks: CheckRepository,
        requests: RequestRepository,
        notifications: NotificationRepository,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        evidence: EvidenceReader,
        smtp: SmtpSettings,
        retry: Retry,
        egress: Egress,
        deadlines: Mapping[Urgency, Deadlines],
        reminder_at: float,
        base_url: str,
        clock: Clock,
        link: Link | None = None,
    ) -> None:
        self.notifier = Notifier(notifications, smtp, retry, clock, egress)
        self.directory = Directory(contacts, orgs, groups, clock)
        self.requests = Requests(
            requests, contacts, orgs, evidence, self.notifier, deadlines, base_url, clock
        )
        self.checks = Checks(checks, self.directory, groups, base_url, reminder_at, clock)
        # Requests between nodes; None where the node runs without federation.
        self.link = link
        if link is not None:
            self.requests.link = link
            link.requests = self.requests
            contacts.on_change = link.contact_changed  # the regional directory
            self.checks.relay = link
            link.checks = self.checks
            link.directory = self.directory
            link.check_repo = checks

    def record_reads(self, log: Recorder) -> None:
        """Record every read of contacts, checks and requests in ``log`` (the audit's)."""
        self.directory.recorder = self.requests.recorder = self.checks.recorder = log

    def tick(self) -> Tick:
        """Reminders, escalations and deliveries due now."""
        reminders = self.checks.send_reminders()
        escalations = self.requests.escalate_overdue()
        return Tick(reminders, escalations, self.notifier.deliver_due())


def coordination_scheduler(coordination: Coordination, interval: float) -> Periodic:
    """A background job running ``Coordination.tick`` every ``interval`` seconds."""

    def tick() -> None:
        done = coordination.tick()
        if done.reminders or done.escalations or done.delivery.sent:
            log.info("coordination: %s", done)

    return Periodic("coordinate", interval, tick)
