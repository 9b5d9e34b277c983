"""The ``accord`` command line: thin commands over the node's services.

The CLI runs on the node's own host and acts as its operator; commands that read
threat data act for one organisation (``--org``), through the same policy gate as
the API. Every error is one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError

from accord.domain.model import ANONYMOUS, Principal, Role
from accord.errors import AccordError, InvalidInput
from accord.exchange.service import ShareRequest
from accord.node import Node
from accord.settings import Settings
from accord.store.objects import ObjectQuery

app = typer.Typer(
    name="accord",
    help="Accord: a node for regional cyber-security cooperation (STIX 2.1, TAXII 2.1, TLP 2.0).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
org_app = typer.Typer(help="Organisations on this node.", no_args_is_help=True)
group_app = typer.Typer(help="Sharing groups.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
user_app = typer.Typer(help="People who sign in with a password.", no_args_is_help=True)
objects_app = typer.Typer(help="Stored STIX objects.", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(group_app, name="group")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(objects_app, name="objects")

# Piped output (scripts, logs) gets wide tables and no progress bars.
out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="Act for this organisation (name or identity id); omit: public."),
]


def _node() -> Node:
    return Node.open(Settings())


def _as(node: Node, org_ref: str | None, role: Role = Role.ANALYST) -> Principal:
    if org_ref is None:
        return ANONYMOUS
    org = node.accounts.orgs.find(org_ref)
    return Principal(org=org.id, role=role, groups=node.accounts.groups.of_org(org.id))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )


@app.command()
def init() -> None:
    """Create or upgrade this node's database."""
    node = _node()
    out.print(f"database ready: {node.settings.database_url}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (ACCORD_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (ACCORD_PORT).")] = None,
) -> None:
    """Run the node's web server."""
    import uvicorn

    from accord.api import create_app

    overrides: dict[str, Any] = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = Settings(**overrides)
    node = Node.open(settings)
    err.print(f"Accord node {settings.node_name!r} on {settings.base_url}")
    err.print(
        f"  API docs: {settings.base_url}/api/docs   health: {settings.base_url}/api/v1/health"
    )
    uvicorn.run(create_app(node=node), host=settings.host, port=settings.port, log_level="warning")


@org_app.command("add")
def org_add(
    name: str,
    kind: Annotated[str, typer.Option(help="national-cert, cyber-agency, private-sector, …")],
    state: Annotated[
        str | None, typer.Option(help="ISO 3166-1 alpha-2; omit: international.")
    ] = None,
) -> None:
    """Add an organisation."""
    org = _node().accounts.add_org(None, name, kind, state)
    out.print(f"{org.identity_id}  {org.name}")


@org_app.command("list")
def org_list() -> None:
    """List organisations."""
    table = Table("identity", "name", "kind", "state")
    for org in _node().accounts.orgs.all():
        table.add_row(org.identity_id, org.name, org.kind.value, org.state or "-")
    out.print(table)


@group_app.command("add")
def group_add(
    slug: str,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    description: Annotated[str, typer.Option(help="What the group is for.")] = "",
) -> None:
    """Add a sharing group."""
    group = _node().accounts.add_group(None, slug, name, description)
    out.print(f"group {group.slug} added")


@group_app.command("member")
def group_member(
    slug: str,
    org: str,
    remove: Annotated[bool, typer.Option("--remove", help="Remove instead of add.")] = False,
) -> None:
    """Add an organisation to a sharing group (or remove it)."""
    _node().accounts.set_member(None, slug, org, member=not remove)
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
    issued = _node().accounts.create_token(None, org, role, name, lifetime)
    err.print(f"token {issued.info.id} for {org} ({issued.info.role.value}); shown once:")
    out.print(issued.plaintext, soft_wrap=True)


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    node = _node()
    table = Table("id", "organisation", "role", "name", "expires", "revoked")
    for t in node.accounts.list_tokens(None):
        table.add_row(
            str(t.id),
            node.accounts.orgs.get(t.org).name,
            t.role.value,
            t.name,
            str(t.expires or "-"),
            str(t.revoked or "-"),
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token at once."""
    _node().accounts.revoke_token(None, token_id)
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
    _node().accounts.add_user(None, username, org, role, password)
    out.print(f"user {username} added to {org} as {role}")


@user_app.command("list")
def user_list() -> None:
    """List users."""
    node = _node()
    table = Table("username", "organisation", "role", "disabled")
    for u in node.accounts.users.list():
        table.add_row(
            u.username, node.accounts.orgs.get(u.org_id).name, u.role, str(u.disabled or "-")
        )
    out.print(table)


def _files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise InvalidInput(f"no such file or directory: {path}")
    if not found:
        raise InvalidInput("no .json files to share")
    return found


@app.command()
def share(
    paths: Annotated[list[Path], typer.Argument(help="STIX bundle files or directories.")],
    org: Annotated[str, typer.Option("--org", help="Share as this organisation.")],
    tlp: Annotated[str | None, typer.Option(help="TLP for unmarked objects.")] = None,
    scope: Annotated[str | None, typer.Option(help="Distribution scope.")] = None,
    recipient: Annotated[list[str] | None, typer.Option(help="Recipient organisation.")] = None,
    group: Annotated[str | None, typer.Option(help="Sharing group slug.")] = None,
) -> None:
    """Share STIX bundles from files; each file is stored all or nothing."""
    node = _node()
    principal = _as(node, org)
    request = ShareRequest.parse(tlp, scope, recipient or [], group)
    files = _files(paths)
    stored = duplicates = 0
    with _progress() as progress:
        task = progress.add_task("sharing", total=len(files))
        for path in files:
            try:
                report = node.exchange.ingest(principal, path.read_bytes(), request)
            except AccordError as exc:
                exc.detail = f"{path}: {exc.detail}"
                raise
            stored += len(report.stored)
            duplicates += len(report.duplicates)
            progress.advance(task)
    out.print(
        f"stored {stored} object versions from {len(files)} files ({duplicates} already stored)"
    )


@objects_app.command("list")
def objects_list(
    org: OrgOption = None,
    type: Annotated[list[str] | None, typer.Option(help="STIX type.")] = None,
    search: Annotated[str | None, typer.Option(help="Text in name, description, pattern.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """List the latest objects an organisation may read."""
    node = _node()
    query = ObjectQuery(types=tuple(type or ()), text=search, limit=limit)
    page = node.exchange.page(_as(node, org), query)
    table = Table("id", "type", "tlp", "scope", "modified", "name")
    for row in page.rows:
        obj = orjson.loads(row.doc)
        name = obj.get("name") or obj.get("value") or ""
        table.add_row(row.stix_id, row.type, row.tlp.value, row.scope.value, row.modified, name)
    out.print(table)


@objects_app.command("show")
def objects_show(stix_id: str, org: OrgOption = None) -> None:
    """Show one object (its latest version) as JSON."""
    node = _node()
    latest, versions = node.exchange.get(_as(node, org), stix_id)
    err.print(f"{latest.tlp.value}  scope {latest.scope.value}  {len(versions)} version(s)")
    out.print_json(latest.doc)


@app.command()
def export(
    org: OrgOption = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File; default stdout.")
    ] = None,
) -> None:
    """Export what an organisation may read as one STIX 2.1 bundle."""
    node = _node()
    chunks = node.exchange.export(_as(node, org), ObjectQuery(limit=1000))
    if output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.write(b"\n")
        return
    tmp = output.with_suffix(output.suffix + ".part")
    with tmp.open("wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
    tmp.replace(output)
    err.print(f"wrote {output}")


@app.command()
def demo(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Seed only a node with no organisations.")
    ] = False,
    objects: Annotated[int, typer.Option(help="How many STIX objects to seed.", min=0)] = 3000,
) -> None:
    """Seed a demo region and print an admin token for it."""
    from accord.demo import seed_region

    node = _node()
    if not (if_empty and node.accounts.orgs.count()):
        with _progress() as progress:
            task = progress.add_task("seeding the demo region", total=objects)
            seed_region(node, objects, lambda n: progress.advance(task, n))
    issued = node.accounts.create_token(
        None, "SingCERT", "admin", "demo console", timedelta(days=1)
    )
    base = node.settings.base_url
    err.print(f"Demo region ready. Node: {base}   API docs: {base}/api/docs")
    err.print("Admin token for SingCERT (valid one day, shown once):")
    out.print(issued.plaintext, soft_wrap=True)
    err.print(f'Try: curl -H "Authorization: Bearer $TOKEN" {base}/api/v1/objects?limit=5')


def main(argv: list[str] | None = None) -> None:
    """Entry point: every expected error becomes one line and an exit code."""
    try:
        app(args=argv, standalone_mode=False)
    except AccordError as exc:
        err.print(f"error: {exc.detail}", markup=False, highlight=False)
        for problem in exc.problems[:20]:
            err.print(f"  - {_problem_line(problem.as_dict())}", markup=False, highlight=False)
        raise SystemExit(exc.exit_code) from None
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        err.print(f"error: cannot use the database ({reason}); check ACCORD_DATABASE_URL")
        raise SystemExit(1) from None
    except typer.Abort:
        raise SystemExit(130) from None
    except typer.TyperException as exc:  # usage errors, with standalone_mode off
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        err.print(f"error: {message}", markup=False, highlight=False)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None


def _problem_line(p: dict[str, Any]) -> str:
    where = " ".join(str(p[k]) for k in ("index", "object_id", "field") if k in p)
    return f"{where}: {p['reason']}" if where else str(p["reason"])
