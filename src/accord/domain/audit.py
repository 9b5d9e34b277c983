"""What the audit trail records, and the one small protocol services record it through.

Services that read or change shared data (the exchange, accounts) hold a ``Recorder``;
it is ``NOT_RECORDED`` until the audit capability, at wiring, hands them its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded act: who did what to which object version, and what was decided.

    ``actor``, ``object_ref``, ``version`` and ``detail`` may be personal data: the log
    keeps them beside a salted commitment and can forget them (erasure) without breaking
    its hash chain. ``action`` and ``decision`` are not personal and stay in clear.
    """

    actor: str
    action: str
    decision: str = "allowed"
    object_ref: str | None = None
    version: str | None = None
    detail: str | None = None


class Recorder(Protocol):
    def record(self, events: list[Event]) -> None:
        """Append ``events`` (one request's or transaction's worth) to the audit log."""
        ...

    def forget(self, object_ref: str) -> int:
        """Erasure: forget what may be personal in the entries naming ``object_ref``,
        keeping their commitments (the log stays verifiable); how many were touched."""
        ...


class _NotRecorded:
    def record(self, events: list[Event]) -> None:
        return None

    def forget(self, object_ref: str) -> int:
        return 0


NOT_RECORDED: Recorder = _NotRecorded()


def actor_of(org: int | None, role: object, token_id: int | None, peer: int | None) -> str:
    """How a principal is named in the log (ids only: names change, ids do not)."""
    if peer is not None:
        return f"peer-token:{peer}"
    if org is None:
        return "public"
    name = getattr(role, "value", role)
    return f"org:{org} role:{name}" + (f" token:{token_id}" if token_id is not None else "")
