"""The registry: every capability a node runs, in the order they are wired.

A capability listed later may use those before it (detection reads through exchange).
Adding a capability is one line here; everything else lives in its own package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from accord.audit.capability import AUDIT
from accord.capability import Capability
from accord.coordinate.capability import COORDINATE
from accord.detect.capability import DETECT
from accord.exchange.capability import EXCHANGE
from accord.federation.capability import FEDERATION
from accord.hashlists.capability import HASHLISTS
from accord.norms.capability import NORMS
from accord.privacy.capability import PRIVACY

if TYPE_CHECKING:
    from sqlalchemy import MetaData

CAPABILITIES: tuple[Capability[Any], ...] = (
    EXCHANGE,
    DETECT,
    COORDINATE,
    FEDERATION,
    PRIVACY,
    HASHLISTS,
    NORMS,
    AUDIT,
)


def metadata(capabilities: Sequence[Capability[Any]] = CAPABILITIES) -> MetaData:
    """The one metadata every table registers on, with each capability's tables loaded."""
    from accord.store.tables import metadata as shared

    for capability in capabilities:
        capability.tables()
    return shared
