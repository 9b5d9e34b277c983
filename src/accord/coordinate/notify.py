"""Notifications: e-mail over SMTP and signed webhooks, queued then delivered with retries.

A notification is written to the log in the transaction that causes it (an outbox), so
a crash never loses one and a rolled-back change never sends one. ``deliver_due`` sends
what is due: e-mails over one SMTP connection per run, webhooks as POSTs signed with
HMAC-SHA256 over ``<timestamp>.<body>`` (header ``X-Accord-Signature: t=<ts>,v1=<hex>``).
A failed attempt is retried after ``backoff * 2**(attempt-1)`` until ``attempts`` run out.

A webhook's URL is checked (``egress.Egress``) when it is registered and again at every
delivery, which connects to the very address it just checked and follows no redirect.
Whatever went wrong, the log (which admins read) says only "delivery failed": telling a
refused connection from an HTTP 404 would make webhooks a port scanner for whoever reads
it. The reason goes to the node's own log, one line, with a webhook's host but never its
URL (a URL may carry a receiver's token).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from accord.accounts import require_admin
from accord.coordinate.egress import Egress, Refused
from accord.domain.model import Principal, Role
from accord.errors import Forbidden, InvalidInput, Problem
from accord.store.notifications import (
    LoggedNotification,
    NewNotification,
    Notification,
    NotificationRepository,
    Outcome,
    RegisteredWebhook,
)

log = logging.getLogger("accord.coordinate.notify")

DELIVERY_FAILED = "delivery failed"  # all the log says of any failure; the reason: node log


def email(
    *, to: str, subject: str, body: str, topic: str, org_id: int | None, now: datetime
) -> NewNotification:
    """An e-mail to queue."""
    return NewNotification("email", org_id, to, topic, subject[:300], body, None, now)


def check_webhook_url(url: str, egress: Egress) -> None:
    """Raise InvalidInput (naming ``url``) unless ``egress`` lets webhooks reach ``url`` now."""
    try:
        if len(url.strip()) > 500:
            raise Refused("a webhook URL is at most 500 characters long")
        egress.check(url.strip())
    except Refused as exc:
        raise InvalidInput(
            f"{exc}; a webhook URL is http:// or https:// on a public address,"
            " e.g. https://soc.example.org/accord-hook",
            [Problem(str(exc), field="url")],
        ) from None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The webhook signature header value a receiver recomputes to trust a delivery."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True, slots=True)
class Delivery:
    sent: int
    retried: int
    failed: int


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How the node sends e-mail."""

    host: str
    port: int
    timeout: float
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """How often and how patiently a failed delivery is retried."""

    attempts: int  # in all, the first included
    backoff: float  # seconds before the first retry; doubled for each after it


class Notifier:
    def __init__(
        self,
        repo: NotificationRepository,
        smtp: SmtpSettings,
        retry: Retry,
        clock: Callable[[], datetime],
        egress: Egress,
        http: Callable[[], httpx.Client] | None = None,
    ) -> None:
        self._repo = repo
        self._smtp = smtp
        self._retry = retry
        self._clock = clock
        self.egress = egress  # where webhooks may go, and how their hosts are resolved
        self._http = http or (
            lambda: httpx.Client(timeout=smtp.timeout, follow_redirects=False, trust_env=False)
        )

    def log(
        self,
        actor: Principal | None,
        *,
        status: str | None = None,
        topic: str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[LoggedNotification]:
        """The log of e-mails and webhook calls, newest first (node admins; None: the operator)."""
        require_admin(actor)
        return self._repo.log(status=status, topic=topic, before=before, limit=limit)

    def register_webhook(self, actor: Principal, url: str, secret: str) -> int:
        """Register a webhook for the actor's organisation (its liaisons and admins)."""
        if actor.org is None or actor.role not in (Role.ADMIN, Role.LIAISON):
            raise Forbidden("only an organisation's liaisons or admins register webhooks")
        return self.add_webhook(actor.org, url, secret)

    def add_webhook(self, org_id: int, url: str, secret: str) -> int:
        """Register a webhook; its URL must reach a public address (or an allowed one) now,
        or InvalidInput (400): a name that does not resolve is refused too."""
        check_webhook_url(url, self.egress)
        return self._repo.add_webhook(org_id, url.strip(), secret, self._clock())

    def list_webhooks(self, actor: Principal | None) -> list[RegisteredWebhook]:
        """Every organisation's webhooks, secrets left out (node admins; None: the operator)."""
        require_admin(actor)
        return self._repo.all_webhooks()

    def delete_webhook(self, actor: Principal | None, hook_id: int) -> None:
        """Remove a webhook (node admins; None: the operator); NotFound when absent."""
        require_admin(actor)
        self._repo.delete_webhook(hook_id)

    def webhooks(
        self, org_id: int, topic: str, payload: dict[str, Any], now: datetime
    ) -> list[NewNotification]:
        """Webhook calls to queue, one for every webhook an organisation registered."""
        body = orjson.dumps({"topic": topic, **payload}).decode()
        return [
            NewNotification("webhook", org_id, hook.url, topic, topic, body, hook.secret, now)
            for hook in self._repo.webhooks(org_id)
        ]

    def has_due(self) -> bool:
        """Whether a notification is due now (one indexed query)."""
        return bool(self._repo.due(self._clock(), 1))

    def deliver_due(self, limit: int = 10_000) -> Delivery:
        """Send every notification due now (at most ``limit``) and log each outcome."""
        due = self._repo.due(self._clock(), limit)
        outcomes: list[Outcome] = []
        mails = [n for n in due if n.channel == "email"]
        hooks = [n for n in due if n.channel == "webhook"]
        if mails:
            outcomes.extend(self._send_mails(mails))
        if hooks:
            outcomes.extend(self._send_hooks(hooks))
        self._repo.record(outcomes)
        return Delivery(
            sent=sum(o.status == "sent" for o in outcomes),
            retried=sum(o.status == "pending" for o in outcomes),
            failed=sum(o.status == "failed" for o in outcomes),
        )

    def _outcome(self, row: Notification, error: str | None) -> Outcome:
        now = self._clock()
        attempts = row.attempts + 1
        if error is None:
            return Outcome(row.id, "sent", attempts, sent=now)
        give_up = attempts >= self._retry.attempts
        delay = timedelta(seconds=self._retry.backoff * 2 ** (attempts - 1))
        log.warning(
            "notification %d (%s to %s) attempt %d failed: %s",
            row.id,
            row.channel,
            _recipient(row),
            attempts,
            " ".join(error.split())[:500],
        )
        return Outcome(
            row.id,
            "failed" if give_up else "pending",
            attempts,
            next_attempt=now + delay,
            last_error=DELIVERY_FAILED,
        )

    def _send_mails(self, rows: Sequence[Notification]) -> list[Outcome]:
        s = self._smtp
        try:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        except OSError as exc:
            return [self._outcome(r, f"cannot reach SMTP {s.host}:{s.port}: {exc}") for r in rows]
        outcomes: list[Outcome] = []
        try:
            if s.starttls:
                # smtplib's default context does not verify the server; this one does.
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
            for row in rows:
                message = EmailMessage()
                message["From"] = s.sender
                message["To"] = row.target
                message["Subject"] = row.subject
                message["Message-ID"] = make_msgid(domain="accord")
                message["X-Accord-Topic"] = row.topic
                message.set_content(row.body)
                try:
                    smtp.send_message(message)
                    outcomes.append(self._outcome(row, None))
                except smtplib.SMTPException as exc:
                    outcomes.append(self._outcome(row, f"SMTP refused: {exc}"))
        except (smtplib.SMTPException, OSError) as exc:
            done = {o.id for o in outcomes}
            outcomes.extend(
                self._outcome(r, f"SMTP failed: {exc}") for r in rows if r.id not in done
            )
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
        return outcomes

    def _send_hooks(self, rows: Sequence[Notification]) -> list[Outcome]:
        return [self._outcome(row, self._post(row)) for row in rows]

    def _post(self, row: Notification) -> str | None:
        """Deliver one webhook call; None when it was accepted (2xx), else why not."""
        body = row.body.encode()
        stamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Accord-Topic": row.topic,
            "X-Accord-Delivery": str(row.id),
            "X-Accord-Signature": sign(row.secret or "", stamp, body),
        }
        try:
            request, destination = self.egress.request(row.target, content=body, headers=headers)
        except Refused as exc:
            return f"refused: {exc}"
        # A client per call: a connection is never reused for a host it was not checked for.
        with self._http() as client:
            try:
                response = client.send(request, follow_redirects=False, stream=True)
                response.close()  # the body is not read: a receiver cannot make the node wait
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__} from {destination.address}: {exc}"
        if response.is_success:
            return None
        if response.is_redirect:
            return f"HTTP {response.status_code} from {destination.address} (not followed)"
        return f"HTTP {response.status_code} from {destination.address}"


def _recipient(row: Notification) -> str:
    """Who a notification is for, as the node log may name it: a webhook by its host only."""
    if row.channel != "webhook":
        return row.target
    try:
        return urlsplit(row.target).hostname or "?"
    except ValueError:
        return "?"
