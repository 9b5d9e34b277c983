"""Assistance requests (UN GGE norm 13(h)) and consultations, driven by ``workflow``.

Only the two parties see a request; to anyone else it does not exist (404). Evidence
is read through the policy gate as the requester: an object the requester cannot read
is rejected exactly like one that does not exist. Every transition is permission-checked
by ``workflow.decide`` and logged in the same transaction that changes the state.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from accord.coordinate import notify
from accord.coordinate.access import audited, record_read
from accord.coordinate.contacts import ContactKind
from accord.coordinate.model import AuditEntry, Message, Request, RequestDetails, StateMetrics
from accord.coordinate.taxonomy import parse_category, parse_sector
from accord.coordinate.workflow import (
    ACTING_ROLES,
    FINAL,
    Action,
    Deadlines,
    IllegalTransition,
    Side,
    State,
    Urgency,
    allowed_actions,
    decide,
    overdue_phase,
)
from accord.domain.audit import NOT_RECORDED, Recorder
from accord.domain.coordination import OPERATOR
from accord.domain.model import Principal
from accord.domain.stix import format_timestamp
from accord.domain.tlp import TLP
from accord.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from accord.store.accounts import OrganisationRepository
from accord.store.contacts import ContactRepository
from accord.store.notifications import NewNotification, queue_in
from accord.store.requests import NewRequest, RequestEvent, RequestRepository, RequestRow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from accord.coordinate.federation import Link

KINDS = ("assistance", "consultation")
ASKS = ("information", "technical-assistance", "mitigation", "law-enforcement", "other")


class EvidenceReader(Protocol):
    """The policy gate's read: raises NotFound for absent and for invisible objects alike."""

    def get(self, principal: Principal, stix_id: str) -> object: ...


@dataclass(frozen=True, slots=True)
class RequestDraft:
    """A request as its author writes it, before the node checks it."""

    kind: str
    title: str
    recipients: tuple[str, ...]
    urgency: str
    tlp: str = "TLP:AMBER"
    description: str = ""
    incident_category: str | None = None
    sector: str | None = None
    asks: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    next_steps: str = ""
    evidence: tuple[str, ...] = ()
    requester_contact: int | None = None
    deadline: datetime | None = None
    submit: bool = True


class Requests:
    def __init__(
        self,
        repo: RequestRepository,
        contacts: ContactRepository,
        orgs: OrganisationRepository,
        evidence: EvidenceReader,
        notifier: notify.Notifier,
        deadlines: Mapping[Urgency, Deadlines],
        base_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._repo = repo
        self._contacts = contacts
        self._orgs = orgs
        self._evidence = evidence
        self._notifier = notifier
        self._deadlines = deadlines
        self._base_url = base_url
        self._clock = clock
        self.recorder: Recorder = NOT_RECORDED  # the audit capability hands in its log
        # Requests between nodes (``coordinate.federation``); None: this node only.
        self.link: Link | None = None

    # Creating ---------------------------------------------------------------------------
    def create(self, actor: Principal, draft: RequestDraft) -> list[Request]:
        """One request per recipient, sharing a case id; submitted at once unless a draft."""
        if (
            actor.org is None
            or actor.role is None
            or not allowed_actions(State.DRAFT, Side.REQUESTER, actor.role)
        ):
            raise Forbidden(
                "only an admin, analyst or liaison of an organisation may file requests"
            )
        details, problems = self._details(draft)
        try:
            urgency = Urgency(draft.urgency)
        except ValueError:
            problems.append(
                Problem(f"urgency must be one of: {', '.join(Urgency)}", field="urgency")
            )
            urgency = Urgency.LOW
        try:
            tlp = TLP.parse(draft.tlp)
        except ValueError as exc:
            problems.append(Problem(str(exc), field="tlp"))
            tlp = TLP.AMBER
        recipients: list[int] = []
        for ref in draft.recipients:
            try:
                org = self._orgs.find(ref)
            except NotFound:
                problems.append(Problem(f"no organisation {ref!r}", field="recipients"))
                continue
            if org.id == actor.org:
                problems.append(Problem("an organisation cannot ask itself", field="recipients"))
            recipients.append(org.id)
        if not draft.recipients:
            problems.append(Problem("name at least one recipient organisation", field="recipients"))
        for stix_id in draft.evidence:
            try:
                self._evidence.get(actor, stix_id)
            except NotFound:
                problems.append(
                    Problem("no such object that you may read", object_id=stix_id, field="evidence")
                )
        if draft.requester_contact is not None:
            try:
                # Any contact, then its organisation compared: another's answers as absent.
                contact = self._contacts.get(draft.requester_contact, reader=OPERATOR)
                if contact.org_id != actor.org:
                    raise NotFound("not ours")
            except NotFound:
                problems.append(
                    Problem("not a contact of your organisation", field="requester_contact")
                )
        now = self._clock()
        if draft.deadline is not None and (draft.deadline.tzinfo is None or draft.deadline <= now):
            problems.append(
                Problem("the deadline must be a future, timezone-aware time", field="deadline")
            )
        if not draft.title.strip():
            problems.append(Problem("a request needs a title", field="title"))
        if problems:
            raise InvalidInput("the request has invalid fields; correct them", problems)
        case_id = f"case--{uuid.uuid4()}"
        rows = [
            NewRequest(
                case_id=case_id,
                kind=draft.kind,
                requester_org=actor.org,
                requester_contact=draft.requester_contact,
                recipient_org=recipient,
                urgency=urgency.value,
                tlp=tlp.value,
                title=draft.title.strip()[:300],
                details=dict(details),
                evidence=tuple(dict.fromkeys(draft.evidence)),
                state=State.DRAFT.value,
                created=now,
                deadline=draft.deadline,
                uid=f"request--{uuid.uuid4()}",
            )
            for recipient in dict.fromkeys(recipients)
        ]
        events = [self._event(actor, "create", None, State.DRAFT, now, "") for _ in rows]
        ids = self._repo.add_many(rows, events)
        if draft.submit:
            for request_id in ids:
                self.act(actor, request_id, Action.SUBMIT)
        return [self.get(actor, i) for i in ids]

    def _details(self, draft: RequestDraft) -> tuple[RequestDetails, list[Problem]]:
        problems: list[Problem] = []
        if draft.kind not in KINDS:
            problems.append(Problem(f"kind must be one of: {', '.join(KINDS)}", field="kind"))
            return {}, problems
        details: RequestDetails = {"description": draft.description.strip()}
        if draft.kind == "assistance":
            for name, value, parse in (
                ("incident_category", draft.incident_category, parse_category),
                ("sector", draft.sector, parse_sector),
            ):
                if value is None:
                    problems.append(Problem(f"an assistance request needs {name}", field=name))
                    continue
                try:
                    parsed = parse(value)
                except ValueError as exc:
                    problems.append(Problem(str(exc), field=name))
                    continue
                if name == "sector":
                    details["sector"] = parsed
                else:
                    details["incident_category"] = parsed
            bad = [a for a in draft.asks if a not in ASKS]
            if bad or not draft.asks:
                problems.append(Problem(f"asks must be some of: {', '.join(ASKS)}", field="asks"))
            details["asks"] = sorted(set(draft.asks))
        else:
            if not draft.description.strip():
                problems.append(Problem("describe the incident", field="description"))
            if not draft.questions:
                problems.append(
                    Problem("a consultation asks at least one question", field="questions")
                )
            details["questions"] = [q.strip() for q in draft.questions if q.strip()]
            details["next_steps"] = draft.next_steps.strip()
            if draft.incident_category:
                try:
                    details["incident_category"] = parse_category(draft.incident_category)
                except ValueError as exc:
                    problems.append(Problem(str(exc), field="incident_category"))
        return details, problems

    # Moving -----------------------------------------------------------------------------
    def side(self, actor: Principal, row: RequestRow) -> Side | None:
        """Which party to a request the actor is (None: neither)."""
        if actor.org == row.requester_org:
            return Side.REQUESTER
        if actor.org == row.recipient_org and row.state != State.DRAFT:
            return Side.RECIPIENT
        return None

    def _row(self, actor: Principal, request_id: int) -> RequestRow:
        """The request, if the actor is a party to it (``coordinate.access``, in SQL)."""
        return self._repo.get(request_id, reader=actor)

    def act(self, actor: Principal, request_id: int, action: Action, reason: str = "") -> Request:
        """Take ``action``; 409 listing the allowed actions when the workflow forbids it."""
        row = self._row(actor, request_id)
        self._at_home(actor)
        state = State(row.state)
        try:
            target = decide(state, action, self.side(actor, row), actor.role, reason)
        except IllegalTransition as exc:
            allowed = ", ".join(exc.allowed) or "none"
            raise Conflict(
                f"{exc.why}; allowed now: {allowed}",
                [Problem(f"allowed: {a}", field="action") for a in exc.allowed],
            ) from None
        now = self._clock()
        values = self.values_after(action, target, now, reason)
        if action is Action.SUBMIT:
            ack_due, respond_due = self.due_dates(row.urgency, row.deadline, now)
            values.update(submitted=now, ack_due=ack_due, respond_due=respond_due)
        event = self._event(actor, action.value, state, target, now, reason.strip())
        notices = self._notices(row, action, target, now)
        within = self._relay(row, actor.org, action.value, event, values)
        self._repo.transition(request_id, state.value, values, event, notices, within=within)
        if within is not None and self.link is not None:
            self.link.queued()
        return self.get(actor, request_id)

    @staticmethod
    def values_after(action: Action, target: State, now: datetime, reason: str) -> dict[str, Any]:
        """What a transition sets on the request besides its state (a submission's due
        dates aside: they depend on the node that runs the deadlines)."""
        values: dict[str, Any] = {"state": target.value}
        if action is Action.ACKNOWLEDGE:
            values["acknowledged"] = now
        elif action is Action.RESPOND:
            values["responded"] = now
        elif action is Action.DECLINE:
            values["decline_reason"] = reason.strip()
        if target in FINAL:
            values["finished"] = now
        return values

    def _at_home(self, actor: Principal) -> None:
        """Refuse an action for an organisation homed on another node: it acts there."""
        if actor.org is None:
            return
        org = self._orgs.get(actor.org)
        if not org.local:
            raise Forbidden(
                f"{org.name} is homed on node {org.home}: its actions are taken on its home "
                "node only, and travel here from there"
            )

    def _relay(
        self,
        row: RequestRow,
        actor_org: int | None,
        action: str,
        event: RequestEvent,
        values: dict[str, Any],
    ) -> Callable[[Connection], None] | None:
        """What queues the other party's copy of a transition, when it is homed elsewhere."""
        link = self.link
        if link is None:
            return None
        other = row.recipient_org if actor_org == row.requester_org else row.requester_org
        node = link.home(other)
        if node is None:
            return None
        uid = row.uid
        if uid is None:  # filed before requests travelled: named now, for good
            uid = values["uid"] = f"request--{uuid.uuid4()}"
        payload = link.transition_payload(row, action, event, values)

        def within(conn: Connection) -> None:
            link.queue(conn, node, "transition", uid, payload)

        return within

    def queue_notices(
        self, conn: Connection, row: RequestRow, action: Action, target: State
    ) -> None:
        """Queue, inside ``conn``'s transaction, the notices of a transition that came from
        the other party's home node (to this node's own party's contacts and webhooks)."""
        queue_in(conn, self._notices(row, action, target, self._clock()))

    def due_dates(
        self, urgency: str, wanted_by: datetime | None, submitted: datetime
    ) -> tuple[datetime, datetime]:
        """The acknowledge-by and respond-by times of a request submitted at ``submitted``.

        Each urgency gives a time to acknowledge and a time to respond (setting
        ``request_deadlines``). When the requester named a deadline (``wanted_by``), the
        effective respond-by is the earlier of it and the urgency's, and acknowledging is
        due no later than responding. Escalation and the overdue figures use these, so a
        requester's deadline drives escalation as much as the urgency does. A deadline
        already past at submission makes the request overdue at once.
        """
        limits = self._deadlines[Urgency(urgency)]
        respond_due = submitted + limits.respond
        if wanted_by is not None:
            respond_due = min(respond_due, wanted_by)
        return min(submitted + limits.acknowledge, respond_due), respond_due

    @staticmethod
    def _event(
        actor: Principal | None,
        action: str,
        source: State | None,
        target: State | None,
        now: datetime,
        detail: str,
    ) -> RequestEvent:
        return RequestEvent(
            at=now,
            actor_org=actor.org if actor else None,
            actor_role=actor.role.value if actor and actor.role else None,
            action=action,
            source=source.value if source else None,
            target=target.value if target else None,
            detail=detail,
        )

    def _notices(
        self, row: RequestRow, action: Action, target: State, now: datetime
    ) -> list[NewNotification]:
        """E-mails to the other party's contacts, and its webhooks, about one transition."""
        to_org = (
            row.recipient_org if action in (Action.SUBMIT, Action.WITHDRAW) else row.requester_org
        )
        if action is Action.CLOSE:
            to_org = row.recipient_org
        if not self._orgs.get(to_org).local:
            return []  # its home node tells it, through its own contacts and webhooks
        topic = f"request.{action.value}"
        subject = f"[Accord {row.urgency}] {row.kind} request {row.id} is now {target}: {row.title}"
        body = (
            f"The {row.kind} request {row.id} ({row.title}) is now {target}.\n"
            f"Open it: {self._base_url}/api/v1/requests/{row.id}\n"
        )
        out = [
            notify.email(
                to=c.email, subject=subject, body=body, topic=topic, org_id=to_org, now=now
            )
            for c in self._contacts.search(org_ids=[to_org], reader=OPERATOR)
            if c.email and not c.groups
        ]
        payload = {"request": row.id, "case": row.case_id, "state": target.value}
        return out + self._notifier.webhooks(to_org, topic, payload, now)

    def escalate_overdue(self) -> int:
        """Mark overdue requests escalated and notify the recipient's backups and liaison desks.

        Runs from the scheduler; each request escalates once per late step.
        """
        now = self._clock()
        count = 0
        for row in self._repo.open_with_deadlines(now):
            phase = overdue_phase(State(row.state), now, row.ack_due, row.respond_due)
            if phase is None or row.escalated == phase:
                continue
            if not self._orgs.get(row.recipient_org).local:
                continue  # deadlines run at the recipient's home node, which tells this one
            contacts = self._contacts.search(org_ids=[row.recipient_org], reader=OPERATOR)
            backups = {b for c in contacts for b in c.backups}
            chosen = [c for c in contacts if c.id in backups or c.kind in _ESCALATION_DESKS]
            subject = f"[Accord ESCALATION] {row.kind} request {row.id} is overdue to {phase}"
            body = (
                f"The {row.urgency} {row.kind} request {row.id} ({row.title}) was due to be "
                f"{'acknowledged' if phase == 'acknowledge' else 'answered'} by "
                f"{row.ack_due if phase == 'acknowledge' else row.respond_due}.\n"
                f"Open it: {self._base_url}/api/v1/requests/{row.id}\n"
            )
            notices = [
                notify.email(
                    to=c.email,
                    subject=subject,
                    body=body,
                    topic="request.escalated",
                    org_id=row.recipient_org,
                    now=now,
                )
                for c in chosen
                if c.email
            ]
            notices += self._notifier.webhooks(
                row.recipient_org, "request.escalated", {"request": row.id, "overdue": phase}, now
            )
            state = State(row.state)
            event = self._event(None, "escalate", state, state, now, f"overdue to {phase}")
            within = self._relay_escalation(row, phase, now)
            try:
                self._repo.transition(
                    row.id, state.value, {"escalated": phase}, event, notices, within=within
                )
                count += 1
            except Conflict:
                continue  # moved on meanwhile; the next run looks again
        if count and self.link is not None:
            self.link.queued()
        return count

    def _relay_escalation(
        self, row: RequestRow, phase: str, now: datetime
    ) -> Callable[[Connection], None] | None:
        link = self.link
        node = link.home(row.requester_org) if link is not None else None
        if link is None or node is None or row.uid is None:
            return None
        uid = row.uid
        payload = {"phase": phase, "at": format_timestamp(now)}

        def within(conn: Connection) -> None:
            link.queue(conn, node, "escalate", uid, payload)

        return within

    # Reading ----------------------------------------------------------------------------
    def get(self, actor: Principal, request_id: int) -> Request:
        with audited(self.recorder, actor, f"request:{request_id}"):
            row = self._row(actor, request_id)
        return self._view(actor, row)

    def _view(
        self, actor: Principal, row: RequestRow, identities: Mapping[int, str] | None = None
    ) -> Request:
        """A request as a party sees it, with the actions open to ``actor`` now."""
        if identities is None:
            identities = self._orgs.identities([row.requester_org, row.recipient_org])
        homes = self._orgs.homes([identities[row.requester_org], identities[row.recipient_org]])
        recipient_node = homes.get(identities[row.recipient_org])
        delivery = None
        if recipient_node is not None and row.state != State.DRAFT:
            delivery = (
                f"refused: {row.delivery_error}"
                if row.delivery_error
                else "delivered"
                if row.delivered
                else "undelivered"
            )
        state = State(row.state)
        # The stored JSON is what ``_details`` built.
        details = cast(RequestDetails, row.details)
        return Request(
            id=row.id,
            case=row.case_id,
            kind=row.kind,
            title=row.title,
            requester=identities[row.requester_org],
            recipient=identities[row.recipient_org],
            requester_contact=row.requester_contact,
            urgency=row.urgency,
            tlp=row.tlp,
            details=details,
            evidence=row.evidence,
            state=state.value,
            escalated=row.escalated,
            overdue=overdue_phase(state, self._clock(), row.ack_due, row.respond_due),
            allowed_actions=tuple(
                a.value for a in allowed_actions(state, self.side(actor, row), actor.role)
            ),
            created=row.created,
            deadline=row.deadline,
            submitted=row.submitted,
            acknowledge_due=row.ack_due,
            respond_due=row.respond_due,
            acknowledged=row.acknowledged,
            responded=row.responded,
            finished=row.finished,
            decline_reason=row.decline_reason,
            requester_node=homes.get(identities[row.requester_org]),
            recipient_node=recipient_node,
            delivery=delivery,
        )

    def box(
        self, actor: Principal, box: str, state: str | None, before: int | None, limit: int
    ) -> list[Request]:
        """The actor's inbox (addressed to its organisation) or outbox, newest first."""
        if actor.org is None:
            raise Forbidden("only an organisation has requests")
        if box not in ("inbox", "outbox"):
            raise InvalidInput("box must be 'inbox' or 'outbox'")
        if state is not None and state not in set(State):
            raise InvalidInput(f"unknown state {state!r}; use one of: {', '.join(State)}")
        rows = self._repo.page(reader=actor, box=box, state=state, before=before, limit=limit)
        identities = self._orgs.identities(
            o for r in rows for o in (r.requester_org, r.recipient_org)
        )
        record_read(self.recorder, actor, [f"request:{r.id}" for r in rows])
        return [self._view(actor, r, identities) for r in rows]

    def waiting(self, actor: Principal, limit: int) -> list[Request]:
        """Requests in the actor's inbox still waiting on someone (not final), newest first."""
        items = self.box(actor, "inbox", None, None, limit)
        return [r for r in items if State(r.state) not in FINAL]

    def across_nodes(self, actor: Principal, limit: int) -> list[Request]:
        """The actor's open cases (inbox and outbox) with a party homed on another node,
        newest first: at most ``limit`` of each box looked at."""
        if actor.org is None:
            return []
        items = [
            r
            for box in ("inbox", "outbox")
            for r in self.box(actor, box, None, None, limit)
            if State(r.state) not in FINAL and (r.requester_node or r.recipient_node)
        ]
        return sorted(items, key=lambda r: r.created, reverse=True)

    def audit(self, actor: Principal, request_id: int) -> list[AuditEntry]:
        """Every transition of a request, oldest first."""
        with audited(self.recorder, actor, f"request:{request_id}", "read-history"):
            self._row(actor, request_id)
        events = self._repo.events(request_id)
        identities = self._orgs.identities(e.actor_org for e in events if e.actor_org is not None)
        return [
            AuditEntry(
                at=e.at,
                actor=identities.get(e.actor_org) if e.actor_org else None,
                role=e.actor_role,
                action=e.action,
                source=e.source,
                target=e.target,
                detail=e.detail,
            )
            for e in events
        ]

    # Messages ---------------------------------------------------------------------------
    def post_message(
        self, actor: Principal, request_id: int, body: str, attachments: Sequence[str]
    ) -> Message:
        """Add to the request's thread; attachments are STIX ids the author may read."""
        row = self._row(actor, request_id)
        if actor.role not in ACTING_ROLES or actor.org is None:
            raise Forbidden("readers may follow a request's thread, not write to it")
        if not body.strip():
            raise InvalidInput("a message needs text")
        problems = []
        for stix_id in attachments:
            try:
                self._evidence.get(actor, stix_id)
            except NotFound:
                problems.append(
                    Problem(
                        "no such object that you may read", object_id=stix_id, field="attachments"
                    )
                )
        if problems:
            raise InvalidInput("an attachment is not available to you", problems)
        self._at_home(actor)
        now, uid = self._clock(), f"message--{uuid.uuid4()}"
        kept = list(dict.fromkeys(attachments))
        within = self._relay_message(row, actor, uid, now, body.strip(), kept)
        message_id = self._repo.add_message(
            row.id, now, actor.org, body.strip(), kept, uid=uid, within=within
        )
        if within is not None and self.link is not None:
            self.link.queued()
        return next(m for m in self.messages(actor, request_id) if m.id == message_id)

    def _relay_message(
        self,
        row: RequestRow,
        actor: Principal,
        uid: str,
        now: datetime,
        body: str,
        attachments: list[str],
    ) -> Callable[[Connection], None] | None:
        """What queues a thread message for the other party's home node, if elsewhere."""
        link = self.link
        if link is None or row.uid is None or actor.org is None:
            return None
        other = row.recipient_org if actor.org == row.requester_org else row.requester_org
        node = link.home(other)
        if node is None:
            return None
        request_uid = row.uid
        event = self._event(actor, "message", None, None, now, "")
        payload = {
            "uid": uid,
            "actor": link.transition_payload(row, "message", event, {})["actor"],
            "at": format_timestamp(now),
            "body": body,
            "attachments": attachments,
        }

        def within(conn: Connection) -> None:
            link.queue(conn, node, "message", request_uid, payload)

        return within

    def messages(self, actor: Principal, request_id: int) -> list[Message]:
        """The request's thread, oldest first."""
        with audited(self.recorder, actor, f"request:{request_id}", "read-messages"):
            self._row(actor, request_id)
        rows = self._repo.messages(request_id)
        identities = self._orgs.identities(m.author_org for m in rows)
        return [Message(m.id, m.at, identities[m.author_org], m.body, m.attachments) for m in rows]

    # Figures ----------------------------------------------------------------------------
    def metrics(self) -> dict[str, StateMetrics]:
        """Per recipient state: median hours to acknowledge and to respond, share overdue."""
        now = self._clock()
        by_state: dict[str, list[RequestRow]] = {}
        for recipient_state, row in self._repo.for_metrics():
            by_state.setdefault(recipient_state or "international", []).append(row)
        return {state: _state_metrics(rows, now) for state, rows in sorted(by_state.items())}


# Escalation goes to every backup contact and to the liaison desks.
_ESCALATION_DESKS = frozenset({ContactKind.DIPLOMATIC, ContactKind.DESK_24_7})


def _state_metrics(rows: Sequence[RequestRow], now: datetime) -> StateMetrics:
    to_ack = [_hours(r.acknowledged, r.submitted) for r in rows if r.acknowledged]
    to_respond = [_hours(r.responded, r.submitted) for r in rows if r.responded]
    late = [r for r in rows if _was_late(r, now)]
    return StateMetrics(
        requests=len(rows),
        median_hours_to_acknowledge=statistics.median(to_ack) if to_ack else None,
        median_hours_to_respond=statistics.median(to_respond) if to_respond else None,
        share_overdue=len(late) / len(rows),
    )


def _was_late(r: RequestRow, now: datetime) -> bool:
    """Late now, or late when it acknowledged or responded."""
    if overdue_phase(State(r.state), now, r.ack_due, r.respond_due):
        return True
    if r.acknowledged and r.ack_due and r.acknowledged > r.ack_due:
        return True
    return bool(r.responded and r.respond_due and r.responded > r.respond_due)


def _hours(later: datetime | None, earlier: datetime | None) -> float:
    assert later is not None and earlier is not None
    return (later - earlier) / timedelta(hours=1)
