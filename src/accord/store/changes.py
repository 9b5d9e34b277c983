"""What changed in the shared data since a look before: a cheap marker to poll.

Federation's push (``accord.federation.push``) runs in the server's main process while
shares are written by its worker processes, by the CLI, or by a peer's message; it
looks here every fraction of a second. Each part is one indexed ``max`` (the newest
``date_added``, which strictly increases with every stored version; the newest onward
share), so a look is one statement of two index probes, whatever the size of the store.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from accord.store.tables import object_shares, stix_objects

Marker = tuple[str | None, int | None]


def latest_change(engine: Engine) -> Marker:
    """A value that differs from any earlier one after a version or onward share is stored."""
    newest = select(
        select(func.max(stix_objects.c.date_added)).scalar_subquery(),
        select(func.max(object_shares.c.id)).scalar_subquery(),
    )
    with engine.connect() as conn:
        added, share = conn.execute(newest).one()
    return (added, share)
