"""Time, the one way: every timestamp Accord handles is an aware UTC ``datetime``.

Services take a ``Clock`` so that tests move time by hand; ``utcnow`` is the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
