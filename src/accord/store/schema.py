"""Every table of the node, whichever feature owns it: what migrations are compared with.

Each feature keeps its tables next to its repositories and registers them on the
shared ``metadata`` by being imported here.
"""

from __future__ import annotations

from accord.store import checks, contacts, detect, notifications, requests, tables  # noqa: F401

metadata = tables.metadata

__all__ = ["metadata"]
