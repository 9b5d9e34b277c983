"""What changed in the shared data since a look before: a cheap marker to poll.

Federation's push (``accord.federation.push``) runs in the server's main process while
shares are written by its worker processes, by the CLI, or by a peer's message; it
looks here every fraction of a second. Two parts are one indexed ``max`` each (the
newest ``date_added``, which strictly increases with every stored version; the newest
onward share), so they cost two index probes whatever the size of the store; the other
two follow what decides a peer's audience (group membership versions, the organisations
known), over tables of a few hundred rows.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from accord.store.tables import object_shares, organisations, sharing_groups, stix_objects

Marker = tuple[str | None, int | None, int | None, int | None]


def latest_change(engine: Engine) -> Marker:
    """A value that differs from any earlier one after a version or onward share is stored,
    a group's membership changes or an organisation becomes known."""
    newest = select(
        select(func.max(stix_objects.c.date_added)).scalar_subquery(),
        select(func.max(object_shares.c.id)).scalar_subquery(),
        select(func.sum(sharing_groups.c.version)).scalar_subquery(),
        select(func.count(organisations.c.id)).scalar_subquery(),
    )
    with engine.connect() as conn:
        added, share, memberships, orgs = conn.execute(newest).one()
    return (added, share, int(memberships) if memberships is not None else None, orgs)
