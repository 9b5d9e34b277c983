"""Coordination as a capability: points of contact, communication checks, assistance
requests and consultations, and the notifications they send."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from accord.capability import Capability, NavEntry

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter
    from sqlalchemy import Table

    from accord.coordinate.service import Coordination
    from accord.node import Node
    from accord.periodic import Periodic


def _wire(node: Node) -> Coordination:
    from datetime import timedelta

    from accord.coordinate.egress import Egress
    from accord.coordinate.federation import Link
    from accord.coordinate.notify import Retry, SmtpSettings
    from accord.coordinate.service import Coordination
    from accord.coordinate.workflow import deadlines_from_hours
    from accord.store.checks import CheckRepository
    from accord.store.contacts import ContactRepository
    from accord.store.coordfed import OutboxRepository
    from accord.store.notifications import NotificationRepository
    from accord.store.peers import PeerRepository
    from accord.store.requests import RequestRepository

    settings, engine = node.settings, node.engine
    contacts = ContactRepository(engine)
    link = Link(
        outbox=OutboxRepository(engine),
        peers=PeerRepository(engine),
        repo=RequestRepository(engine),
        orgs=node.orgs,
        contacts=contacts,
        groups=node.groups,
        # The federation's key, which it may rotate; the node's own until it is wired.
        key=lambda: node.federation.key if "federation" in node.services else node.key,
        clock=node.clock,
        max_skew=timedelta(seconds=settings.federation_max_skew),
    )
    return Coordination(
        contacts=contacts,
        checks=CheckRepository(engine),
        requests=RequestRepository(engine),
        notifications=NotificationRepository(engine),
        orgs=node.orgs,
        groups=node.groups,
        evidence=node.exchange,
        smtp=SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            timeout=settings.smtp_timeout,
            sender=settings.smtp_sender,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
        ),
        retry=Retry(settings.notify_attempts, settings.notify_backoff),
        egress=Egress(allow=tuple(settings.webhook_allow)),
        deadlines=deadlines_from_hours(settings.request_deadlines),
        reminder_at=settings.check_reminder_at,
        base_url=settings.base_url,
        clock=node.clock,
        link=link,
    )


def _jobs(node: Node) -> Sequence[Periodic]:
    from accord.coordinate.federation import Courier
    from accord.coordinate.service import coordination_scheduler

    settings = node.settings
    coordination = COORDINATE.service(node)
    scheduler = coordination_scheduler(coordination, settings.coordination_interval)
    jobs = [scheduler]
    if coordination.link is not None:
        jobs.append(
            Courier(
                coordination.link,
                poll=settings.federation_push_poll,
                timeout=settings.federation_timeout,
                backoff=settings.federation_push_backoff,
                backoff_max=settings.federation_push_backoff_max,
                # E-mails a received message queued leave at once, not at the next tick.
                after=scheduler.wake,
                due=coordination.notifier.has_due,
            )
        )
    return jobs


def _routes() -> Sequence[APIRouter]:
    from accord.api import coordination_federation

    return [coordination_federation.router]


def _api() -> Sequence[APIRouter]:
    from accord.api.routes import checks, contacts, notifications, requests

    return [contacts.router, checks.router, requests.router, notifications.router]


def _pages() -> Sequence[APIRouter]:
    from accord.web.pages import checks, directory, requests

    return [directory.router, checks.router, requests.router]


def _commands() -> Sequence[typer.Typer]:
    from accord.cli import coordinate

    return [coordinate.commands]


def _tables() -> Sequence[Table]:
    from accord.store import checks, contacts, coordfed, notifications, requests

    return [
        coordfed.coord_outbox,
        coordfed.coord_fed_seen,
        contacts.coord_contacts,
        contacts.coord_contact_history,
        requests.coord_requests,
        requests.coord_request_events,
        requests.coord_messages,
        checks.coord_checks,
        checks.coord_check_targets,
        notifications.coord_webhooks,
        notifications.coord_notifications,
    ]


COORDINATE: Capability[Coordination] = Capability(
    name="coordinate",
    summary="Points of contact, communication checks, assistance requests, consultations.",
    wire=_wire,
    api=_api,
    pages=_pages,
    nav=(
        NavEntry("Directory", "/directory"),
        NavEntry("Checks", "/checks"),
        NavEntry("Requests", "/requests"),
    ),
    routes=_routes,
    commands=_commands,
    jobs=_jobs,
    tables=_tables,
)
