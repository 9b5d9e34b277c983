"""Organisations, sharing groups, users and tokens."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from accord.cli.common import err, open_node, out

commands = typer.Typer()

org_app = typer.Typer(help="Organisations on this node.", no_args_is_help=True)
group_app = typer.Typer(help="Sharing groups.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
user_app = typer.Typer(help="People who sign in with a password.", no_args_is_help=True)
commands.add_typer(org_app, name="org")
commands.add_typer(group_app, name="group")
commands.add_typer(token_app, name="token")
commands.add_typer(user_app, name="user")


@org_app.command("add")
def org_add(
    name: str,
    kind: Annotated[str, typer.Option(help="national-cert, cyber-agency, private-sector, …")],
    state: Annotated[
        str | None, typer.Option(help="ISO 3166-1 alpha-2; omit: international.")
    ] = None,
) -> None:
    """Add an organisation."""
    org = open_node().accounts.add_org(None, name, kind, state)
    out.print(f"{org.identity_id}  {org.name}")


@org_app.command("list")
def org_list() -> None:
    """List organisations."""
    table = Table("identity", "name", "kind", "state")
    for org in open_node().accounts.organisations(None):
        table.add_row(org.identity_id, org.name, org.kind.value, org.state or "-")
    out.print(table)


@group_app.command("add")
def group_add(
    slug: str,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    description: Annotated[str, typer.Option(help="What the group is for.")] = "",
) -> None:
    """Add a sharing group."""
    group = open_node().accounts.add_group(None, slug, name, description)
    out.print(f"group {group.slug} added")


@group_app.command("member")
def group_member(
    slug: str,
    org: str,
    remove: Annotated[bool, typer.Option("--remove", help="Remove instead of add.")] = False,
) -> None:
    """Add an organisation to a sharing group (or remove it)."""
    open_node().accounts.set_member(None, slug, org, member=not remove)
    out.print(f"{org} {'removed from' if remove else 'added to'} {slug}")


@token_app.command("create")
def token_create(
    org: str,
    role: Annotated[str, typer.Option(help="admin, analyst, liaison or reader.")] = "analyst",
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires_days: Annotated[float | None, typer.Option(help="Lifetime in days.")] = None,
) -> None:
    """Issue an API token. The token is printed once and never stored."""
    lifetime = timedelta(days=expires_days) if expires_days else None
    issued = open_node().accounts.create_token(None, org, role, name, lifetime)
    err.print(f"token {issued.info.id} for {org} ({issued.info.role.value}); shown once:")
    out.print(issued.plaintext, soft_wrap=True)


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    node = open_node()
    names = {o.id: o.name for o in node.accounts.organisations(None)}
    table = Table("id", "organisation", "role", "name", "expires", "revoked")
    for t in node.accounts.list_tokens(None):
        table.add_row(
            str(t.id),
            names[t.org] if t.org is not None else "(peer node)",
            t.role.value,
            t.name,
            str(t.expires or "-"),
            str(t.revoked or "-"),
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token at once."""
    open_node().accounts.revoke_token(None, token_id)
    out.print(f"token {token_id} revoked")


@user_app.command("add")
def user_add(
    username: str,
    org: Annotated[str, typer.Option("--org", help="The user's organisation.")],
    role: Annotated[str, typer.Option(help="admin, analyst, liaison or reader.")] = "analyst",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user; the password is asked for (never passed as an argument)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    open_node().accounts.add_user(None, username, org, role, password)
    out.print(f"user {username} added to {org} as {role}")


@user_app.command("list")
def user_list() -> None:
    """List users."""
    node = open_node()
    names = {o.id: o.name for o in node.accounts.organisations(None)}
    table = Table("username", "organisation", "role", "disabled")
    for u in node.accounts.list_users(None):
        table.add_row(u.username, names[u.org], u.role.value, str(u.disabled or "-"))
    out.print(table)
