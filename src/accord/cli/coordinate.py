"""Points of contact, communication checks, requests and notifications from the console."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from accord.cli.common import act_as, err, open_node, out, read_text_file, write_file

# Services load inside each command: building the command tree (``accord --help``)
# must stay fast.
from accord.domain.model import Role
from accord.errors import InvalidInput, NotFound

commands = typer.Typer()

contact_app = typer.Typer(help="The directory of points of contact.", no_args_is_help=True)
check_app = typer.Typer(help="Communication checks.", no_args_is_help=True)
request_app = typer.Typer(help="Assistance requests and consultations.", no_args_is_help=True)
notify_app = typer.Typer(help="Notifications: deliver and inspect the log.", no_args_is_help=True)
webhook_app = typer.Typer(help="Organisations' webhooks (operator).", no_args_is_help=True)
commands.add_typer(contact_app, name="contact")
commands.add_typer(check_app, name="check")
commands.add_typer(request_app, name="request")
commands.add_typer(notify_app, name="notify")
commands.add_typer(webhook_app, name="webhook")

Org = Annotated[str, typer.Option("--org", help="Organisation (name or identity id).")]


@contact_app.command("add")
def contact_add(
    org: Org,
    kind: Annotated[
        str, typer.Option(help="diplomatic, technical, policy, law-enforcement, 24-7-desk")
    ],
    name: Annotated[str, typer.Option(help="Person or desk name.")],
    role: Annotated[str, typer.Option(help="Their role.")] = "",
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone in E.164, e.g. +6561234567.")] = None,
    messaging: Annotated[str | None, typer.Option(help="Secure-messaging handle.")] = None,
    language: Annotated[list[str], typer.Option(help="ISO 639-1 code; repeat.")] = ["en"],  # noqa: B006
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "UTC",
    group: Annotated[list[str], typer.Option(help="Restrict to this sharing group; repeat.")] = [],  # noqa: B006
) -> None:
    """Add a point of contact to an organisation."""
    from accord.coordinate.contacts import ContactInput

    data = ContactInput(
        kind=kind,
        name=name,
        role=role,
        email=email,
        phone=phone,
        messaging=messaging,
        languages=tuple(language),
        timezone=timezone,
        groups=tuple(group),
    )
    added = open_node().coordination.directory.add(None, org, data)
    out.print(f"contact {added.id} added to {added.organisation_name}")


@contact_app.command("list")
def contact_list(
    state: Annotated[list[str] | None, typer.Option(help="ISO 3166-1 alpha-2; repeat.")] = None,
    kind: Annotated[str | None, typer.Option(help="Contact kind.")] = None,
    language: Annotated[str | None, typer.Option(help="ISO 639-1 code.")] = None,
) -> None:
    """Search the directory by state, kind and language."""
    table = Table("id", "state", "organisation", "kind", "name", "email", "phone", "languages")
    for c in open_node().coordination.directory.search(
        None, states=state, kind=kind, language=language
    ):
        table.add_row(
            str(c.id),
            c.state or "-",
            c.organisation_name,
            c.kind,
            c.name,
            c.email or "-",
            c.phone or "-",
            " ".join(c.languages),
        )
    out.print(table)


@contact_app.command("export")
def contact_export(
    format: Annotated[str, typer.Option(help="json, csv or vcard.")] = "json",
    output: Annotated[Path | None, typer.Option("-o", help="File; omit: standard output.")] = None,
) -> None:
    """Export the directory as JSON, CSV or vCard 4.0."""
    from accord.coordinate.directory import to_csv, to_json, to_vcard

    found = open_node().coordination.directory.search(None)
    writers = {
        "json": lambda: to_json(found).decode(),
        "csv": lambda: to_csv(found),
        "vcard": lambda: to_vcard(found),
    }
    if format not in writers:
        raise InvalidInput("format must be json, csv or vcard")
    text = writers[format]()
    if output is None:
        out.print(text, markup=False, highlight=False, soft_wrap=True, end="")
    else:
        write_file(output, [text.encode("utf-8")])
        err.print(f"{len(found)} contacts written to {output}")


@contact_app.command("import")
def contact_import(path: Path, org: Org) -> None:
    """Import contacts from CSV: every row, or none (each bad row is listed)."""
    text = read_text_file(path)
    added = open_node().coordination.directory.import_csv(None, org, text)
    out.print(f"{len(added)} contacts imported")


@contact_app.command("show")
def contact_show(contact_id: int) -> None:
    """One contact, every field."""
    c = open_node().coordination.directory.get(None, contact_id)
    for label, value in (
        ("id", c.id),
        ("organisation", f"{c.organisation_name} ({c.organisation})"),
        ("state", c.state or "-"),
        ("kind", c.kind),
        ("name", c.name),
        ("role", c.role or "-"),
        ("email", c.email or "-"),
        ("phone", c.phone or "-"),
        ("messaging", c.messaging or "-"),
        ("languages", " ".join(c.languages)),
        ("timezone", c.timezone),
        ("backups", " ".join(map(str, c.backups)) or "-"),
        ("groups", " ".join(c.groups) or "-"),
        ("last confirmed", f"{c.last_confirmed:%Y-%m-%d %H:%M} UTC" if c.last_confirmed else "-"),
        ("version", c.version),
    ):
        out.print(f"{label:<15} {value}", markup=False, highlight=False)


@contact_app.command("history")
def contact_history(contact_id: int) -> None:
    """Every version of a contact."""
    for h in open_node().coordination.directory.history(None, contact_id):
        out.print(f"v{h.version}  {h.at:%Y-%m-%d %H:%M}  {h.action}")


@check_app.command("start")
def check_start(
    org: Org,
    title: Annotated[str, typer.Option(help="What the check is.")],
    hours: Annotated[float, typer.Option(help="Deadline, hours from now.", min=0.01)] = 24,
    group: Annotated[str | None, typer.Option(help="Only this sharing group's members.")] = None,
    state: Annotated[list[str] | None, typer.Option(help="Only these states; repeat.")] = None,
) -> None:
    """Start a communication check; e-mails go out on the next scheduler run."""
    node = open_node()
    organiser = node.accounts.orgs.find(org)
    deadline = node.clock() + timedelta(hours=hours)
    started = node.coordination.checks.start(
        None, title, deadline, organiser=organiser.id, group=group, states=state
    )
    out.print(
        f"check {started.id} started over {len(started.targets)} contacts, "
        f"due {deadline:%Y-%m-%d %H:%M} UTC"
    )


@check_app.command("results")
def check_results(check_id: int) -> None:
    """Response rates, times and who never answered, as JSON."""
    results = open_node().coordination.checks.results(None, check_id)
    out.print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode(), markup=False)


@request_app.command("new")
def request_new(
    org: Annotated[str, typer.Option("--org", help="Requesting organisation (name or id).")],
    kind: Annotated[str, typer.Option(help="assistance or consultation.")],
    to: Annotated[list[str], typer.Option("--to", help="Recipient organisation; repeat.")],
    urgency: Annotated[str, typer.Option(help="critical, high, medium or low.")],
    title: Annotated[str, typer.Option(help="One line saying what is asked.")],
    category: Annotated[
        str | None, typer.Option(help="RSIT incident category, e.g. availability/ddos.")
    ] = None,
    sector: Annotated[str | None, typer.Option(help="Critical-infrastructure sector.")] = None,
    ask: Annotated[
        list[str],
        typer.Option(help="information, technical-assistance, mitigation, …; repeat."),
    ] = [],  # noqa: B006
    question: Annotated[list[str], typer.Option(help="A consultation's question; repeat.")] = [],  # noqa: B006
    description: Annotated[str, typer.Option(help="What happened.")] = "",
    next_steps: Annotated[str, typer.Option(help="Proposed next steps (consultation).")] = "",
    evidence: Annotated[list[str], typer.Option(help="STIX id you may read; repeat.")] = [],  # noqa: B006
    tlp: Annotated[str, typer.Option(help="TLP of the request.")] = "TLP:AMBER",
    deadline: Annotated[
        str | None, typer.Option(help="Answer wanted by, ISO 8601 with offset.")
    ] = None,
    contact: Annotated[int | None, typer.Option(help="Your point of contact's id.")] = None,
    draft: Annotated[bool, typer.Option(help="Keep it a draft; do not submit.")] = False,
) -> None:
    """File an assistance request or consultation as a liaison of ``--org``."""
    wanted_by = None
    if deadline is not None:
        try:
            wanted_by = datetime.fromisoformat(deadline)
        except ValueError:
            raise InvalidInput(
                f"invalid deadline {deadline!r}; write ISO 8601 with an offset, "
                "e.g. 2026-03-01T18:00:00+08:00"
            ) from None
    from accord.coordinate.requests import RequestDraft

    node = open_node()
    filed = node.coordination.requests.create(
        act_as(node, org, Role.LIAISON),
        RequestDraft(
            kind=kind,
            title=title,
            recipients=tuple(to),
            urgency=urgency,
            tlp=tlp,
            description=description,
            incident_category=category,
            sector=sector,
            asks=tuple(ask),
            questions=tuple(question),
            next_steps=next_steps,
            evidence=tuple(evidence),
            requester_contact=contact,
            deadline=wanted_by,
            submit=not draft,
        ),
    )
    for r in filed:
        due = r.respond_due
        out.print(
            f"request {r.id} to {r.recipient} is {r.state}"
            + (f", answer due {due:%Y-%m-%d %H:%M} UTC" if due else "")
            + f" (case {r.case})",
            markup=False,
            highlight=False,
        )


@request_app.command("list")
def request_list(
    org: Org,
    box: Annotated[str, typer.Option(help="inbox or outbox.")] = "inbox",
    state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
) -> None:
    """An organisation's requests, newest first."""
    node = open_node()
    table = Table("id", "kind", "urgency", "state", "escalated", "title")
    for r in node.coordination.requests.box(act_as(node, org, Role.READER), box, state, None, 200):
        table.add_row(str(r.id), r.kind, r.urgency, r.state, r.escalated or "-", r.title)
    out.print(table)


@request_app.command("act")
def request_act(
    request_id: int,
    action: Annotated[str, typer.Argument(help="submit, acknowledge, start, respond, close, …")],
    org: Org,
    reason: Annotated[str, typer.Option(help="Required to decline.")] = "",
) -> None:
    """Move a request on, acting as a liaison of ``--org``."""
    from accord.coordinate.workflow import Action

    node = open_node()
    try:
        chosen = Action(action)
    except ValueError:
        raise InvalidInput(f"unknown action {action!r}; use one of: {', '.join(Action)}") from None
    done = node.coordination.requests.act(
        act_as(node, org, Role.LIAISON), request_id, chosen, reason
    )
    out.print(f"request {request_id} is now {done.state}")


@request_app.command("metrics")
def request_metrics() -> None:
    """Per state: median hours to acknowledge and to respond, share overdue."""
    table = Table("state", "requests", "median h to ack", "median h to respond", "overdue")
    for state, m in open_node().coordination.requests.metrics().items():
        table.add_row(
            state,
            str(m.requests),
            _num(m.median_hours_to_acknowledge),
            _num(m.median_hours_to_respond),
            f"{m.share_overdue:.0%}",
        )
    out.print(table)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@notify_app.command("run")
def notify_run() -> None:
    """Send reminders, escalate overdue requests and deliver what is due, once."""
    done = open_node().coordination.tick()
    out.print(
        f"{done.reminders} reminders, {done.escalations} escalations; delivered "
        f"{done.delivery.sent}, retrying {done.delivery.retried}, failed {done.delivery.failed}"
    )


@notify_app.command("log")
def notify_log(
    status: Annotated[str | None, typer.Option(help="pending, sent or failed.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 50,
) -> None:
    """The notification log."""
    table = Table("id", "channel", "target", "topic", "status", "attempts", "last error")
    for r in open_node().coordination.notifier.log(None, status=status, limit=limit):
        table.add_row(
            str(r.id), r.channel, r.target, r.topic, r.status, str(r.attempts), r.last_error or "-"
        )
    out.print(table)


@webhook_app.command("list")
def webhook_list() -> None:
    """Every organisation's webhooks (secrets are never shown)."""
    table = Table("id", "organisation", "url", "created")
    for h in open_node().coordination.notifier.list_webhooks(None):
        table.add_row(str(h.id), h.organisation, h.url, f"{h.created:%Y-%m-%d %H:%M}")
    out.print(table)


@webhook_app.command("delete")
def webhook_delete(webhook_id: int) -> None:
    """Remove a webhook; nothing more is queued for it."""
    try:
        open_node().coordination.notifier.delete_webhook(None, webhook_id)
    except NotFound as exc:
        raise NotFound(f"{exc.detail}; list them with: accord webhook list") from None
    out.print(f"webhook {webhook_id} deleted")
