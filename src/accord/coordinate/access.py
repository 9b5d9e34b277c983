"""Who sees which coordination record, stated through the policy gate's rules.

Each record is described as the gate describes a STIX object (an owner and a
distribution), so one set of rules decides: the repositories apply the same rules as SQL
(``accord.store.gate`` over each table), and property tests hold the two equal.

- a contact is its organisation's; with no sharing groups it is for the community (every
  signed-in organisation), else for the members of any of its groups. Node admins and
  the operator see every contact;
- a communication check is its organiser's alone (and the node admins' and operator's);
- a request is its requester's, and its recipient's once it is no longer a draft; nobody
  else sees it, node admins included.

Every gated read names its reader: a principal, or ``OPERATOR`` (the CLI and the
scheduler), which sees every record. The services take the operator as ``None``, as
``accord.accounts`` does, and ``reader_of`` names it once for the repositories.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from accord import policy
from accord.domain.audit import Event, Recorder, actor_of
from accord.domain.coordination import CHECK_TLP, CONTACT_TLP, OPERATOR, Reader
from accord.domain.model import Principal
from accord.domain.scope import Distribution, Scope
from accord.domain.tlp import TLP
from accord.errors import NotFound


def contact_access(org_id: int, groups: Iterable[int]) -> policy.ObjectAccess:
    """A contact as the gate sees it: one group distribution per sharing group."""
    by_group = [Distribution(CONTACT_TLP, Scope.GROUP, group=g) for g in sorted(set(groups))]
    if not by_group:
        return policy.ObjectAccess(org_id, Distribution(CONTACT_TLP, Scope.COMMUNITY))
    return policy.ObjectAccess(org_id, by_group[0], tuple(by_group[1:]))


def reader_of(actor: Principal | None) -> Reader:
    """The reader a gated read is for: the services' callers name the operator ``None``
    (as ``accord.accounts`` does), the repositories need it named."""
    return OPERATOR if actor is None else actor


def may_see_contact(actor: Reader, org_id: int, groups: Iterable[int]) -> bool:
    if actor is OPERATOR or actor.is_admin():
        return True
    return policy.can_read(actor, contact_access(org_id, groups))


def check_access(organiser_org: int) -> policy.ObjectAccess:
    return policy.ObjectAccess(organiser_org, Distribution(CHECK_TLP, Scope.ORGANISATION))


def may_see_check(actor: Reader, organiser_org: int) -> bool:
    if actor is OPERATOR or actor.is_admin():
        return True
    return policy.can_read(actor, check_access(organiser_org))


def request_access(
    requester_org: int, recipient_org: int, state: str, tlp: TLP
) -> policy.ObjectAccess:
    """A request as the gate sees it: the requester's draft, then for its one recipient."""
    if state == "draft":
        return policy.ObjectAccess(requester_org, Distribution(tlp, Scope.ORGANISATION))
    to_recipient = Distribution(tlp, Scope.RECIPIENTS, recipients=frozenset({recipient_org}))
    return policy.ObjectAccess(requester_org, to_recipient)


def may_see_request(
    actor: Principal, requester_org: int, recipient_org: int, state: str, tlp: TLP
) -> bool:
    return policy.can_read(actor, request_access(requester_org, recipient_org, state, tlp))


def read_by(actor: Principal | None) -> str:
    """How the audit log names a coordination reader (the CLI and scheduler: ``operator``)."""
    if actor is None:
        return "operator"
    return actor_of(actor.org, actor.role, actor.token_id, actor.peer)


def record_read(
    audit: Recorder,
    reader: Principal | None | str,
    refs: Sequence[str],
    action: str = "read",
    decision: str = "allowed",
) -> None:
    """One audit entry for a read of coordination records (``refs``: ``contact:7`` ...):
    ``object_ref`` names the first, ``detail`` all. Nothing read, nothing recorded."""
    if refs:
        who = reader if isinstance(reader, str) else read_by(reader)
        audit.record([Event(who, action, decision, refs[0], detail=" ".join(refs))])


@contextmanager
def audited(
    audit: Recorder, reader: Principal | None | str, ref: str, action: str = "read"
) -> Iterator[None]:
    """Record a read of the one record ``ref``: allowed, or not-found when it raises so."""
    try:
        yield
    except NotFound:
        record_read(audit, reader, [ref], action, "not-found")
        raise
    record_read(audit, reader, [ref], action)
