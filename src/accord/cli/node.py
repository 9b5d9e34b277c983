"""Running a node: create its database, serve it, seed the demo region."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Annotated, Any

import typer

from accord.cli.common import err, open_node, out, progress

commands = typer.Typer()


@commands.command()
def init() -> None:
    """Create or upgrade this node's database."""
    node = open_node()
    out.print(f"database ready: {node.settings.database_url}")


@commands.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (ACCORD_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (ACCORD_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (ACCORD_WORKERS).")] = None,
) -> None:
    """Run the node's web server; sync with peers, send reminders and escalations on schedule."""
    import uvicorn

    from accord.app import create_app
    from accord.runtime import settle

    for key, value in (("host", host), ("port", port), ("workers", workers)):
        if value is not None:  # worker processes read their settings from the environment
            os.environ[f"ACCORD_{key.upper()}"] = str(value)
    node = open_node()  # migrates once, before any worker starts
    settings = node.settings
    err.print(f"Accord node {settings.node_name!r} on {settings.base_url}")
    err.print(
        f"  API docs: {settings.base_url}/api/docs   health: {settings.base_url}/api/v1/health"
    )
    # The capabilities' background jobs run once per node, in this process, however many
    # workers serve HTTP.
    jobs = [job for capability in node.capabilities for job in capability.jobs(node)]
    for job in jobs:
        job.start()
    if settings.workers == 1:
        app_or_factory: Any = create_app(node=node)
        settle()
    else:
        app_or_factory = "accord.app:create_server_app"
    try:
        uvicorn.run(
            app_or_factory,
            factory=settings.workers > 1,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="warning",
        )
    finally:
        for job in jobs:
            job.stop()


@commands.command()
def demo(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Seed only a node with no organisations.")
    ] = False,
    objects: Annotated[int, typer.Option(help="How many STIX objects to seed.", min=0)] = 3000,
) -> None:
    """Seed a demo region and print an admin token for it."""
    from accord.demo import seed_region

    node = open_node()
    if not (if_empty and node.accounts.orgs.count()):
        with progress() as bar:
            task = bar.add_task("seeding the demo region", total=objects)
            seed_region(node, objects, lambda n: bar.advance(task, n))
    issued = node.accounts.create_token(
        None, "SingCERT", "admin", "demo console", timedelta(days=1)
    )
    base = node.settings.base_url
    err.print(f"Demo region ready. Console: {base}/   API docs: {base}/api/docs")
    err.print("Admin token for SingCERT (valid one day, shown once):")
    out.print(issued.plaintext, soft_wrap=True)
    err.print("Sign in to the console with it, or try:")
    err.print(f'curl -H "Authorization: Bearer $TOKEN" {base}/api/v1/objects?limit=5')
