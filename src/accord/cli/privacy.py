"""Personal data: rules per destination, and purging what retention no longer keeps."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from accord.cli.common import open_node, out
from accord.privacy.capability import PRIVACY

commands = typer.Typer()
privacy_app = typer.Typer(help="Personal data leaving this node.", no_args_is_help=True)
commands.add_typer(privacy_app, name="privacy")


@privacy_app.command("rule-add")
def rule_add(
    state: Annotated[str, typer.Argument(help="ISO 3166-1 alpha-2, or '*' for any state.")],
    action: Annotated[str, typer.Argument(help="allow, pseudonymise, redact or refuse.")],
    kind: Annotated[str, typer.Option(help="A kind of organisation, or '*'.")] = "*",
    basis: Annotated[
        str,
        typer.Option(help="asean-mcc, apec-cbpr, law-enforcement-cooperation, consent, none."),
    ] = "none",
    note: Annotated[str, typer.Option(help="Why (the agreement, its date).")] = "",
) -> None:
    """Add the rule for a destination."""
    rule = PRIVACY.service(open_node()).add_rule(None, state, kind, action, basis, note)
    out.print(f"rule #{rule.id}: {rule.state}/{rule.kind} {rule.action} ({rule.basis})")


@privacy_app.command("rule-list")
def rule_list() -> None:
    """The rules per destination."""
    table = Table("#", "state", "kind", "action", "basis", "note")
    for r in PRIVACY.service(open_node()).rules(None):
        table.add_row(str(r.id), r.state, r.kind, r.action, r.basis, r.note)
    out.print(table)


@privacy_app.command("rule-delete")
def rule_delete(rule_id: int) -> None:
    """Remove a rule."""
    PRIVACY.service(open_node()).delete_rule(None, rule_id)
    out.print(f"rule #{rule_id} removed")


@privacy_app.command("retention-add")
def retention_add(
    days: Annotated[int, typer.Argument(help="Days kept after an object was added.")],
    type_: Annotated[str, typer.Option("--type", help="A STIX type, or '*'.")] = "*",
    tlp: Annotated[str, typer.Option(help="A TLP 2.0 marking, or '*'.")] = "*",
) -> None:
    """Keep objects of a type and marking so many days."""
    r = PRIVACY.service(open_node()).add_retention(None, type_, tlp, days)
    out.print(f"retention #{r.id}: {r.type}/{r.tlp} kept {r.days} days")


@privacy_app.command("purge")
def purge() -> None:
    """Purge now what retention no longer keeps (the node does it hourly)."""
    purged = PRIVACY.service(open_node()).purge_expired()
    for p in purged:
        out.print(f"{p.stix_id}: {p.versions} versions ({p.reason})")
    out.print(f"{len(purged)} objects purged")
