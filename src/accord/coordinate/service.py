"""The coordination services wired together, and the periodic work they need.

``tick()`` is what the scheduler inside ``accord serve`` runs: check reminders,
request escalations, then delivery of every notification due. Tests call it after
moving their clock, so no test waits on real time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from accord.coordinate.checks import Checks
from accord.coordinate.directory import Directory
from accord.coordinate.notify import Delivery, Notifier
from accord.coordinate.requests import EvidenceReader, Requests
from accord.coordinate.workflow import Deadlines, Urgency
from accord.periodic import Periodic
from accord.settings import Settings
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.coordinate import (
    CheckRepository,
    ContactRepository,
    NotificationRepository,
    RequestRepository,
)

log = logging.getLogger("accord.coordinate")


@dataclass(frozen=True, slots=True)
class Tick:
    reminders: int
    escalations: int
    delivery: Delivery


class Coordination:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        evidence: EvidenceReader,
        clock: Callable[[], datetime],
    ) -> None:
        contacts = ContactRepository(engine)
        self.notifier = Notifier(NotificationRepository(engine), settings, clock)
        self.directory = Directory(contacts, orgs, groups, clock)
        deadlines = {
            Urgency(k): Deadlines(timedelta(hours=ack), timedelta(hours=respond))
            for k, (ack, respond) in settings.request_deadlines.items()
        }
        self.requests = Requests(
            RequestRepository(engine),
            contacts,
            orgs,
            evidence,
            self.notifier,
            deadlines,
            settings.base_url,
            clock,
        )
        self.checks = Checks(
            CheckRepository(engine),
            self.directory,
            groups,
            settings.base_url,
            settings.check_reminder_at,
            clock,
        )

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
