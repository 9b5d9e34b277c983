"""Personal data leaving the node: rules per destination, rewriting, the transfer log,
retention, and access requests by a data-protection authority.

``Privacy.outgoing`` is the federation's outgoing transform (``federation.service
.Transform``): for each object version bound for a peer it finds the personal data,
applies the destination's rule (allow, pseudonymise, redact, refuse), logs the transfer
(rule, basis, the field paths and kinds rewritten, never the values) and keeps the
document as sent, so the same version goes to the same destination in the same form
however the rules change later (a peer refuses a second form of a stored version).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import orjson

from accord.accounts import require_admin
from accord.domain.clock import Clock
from accord.domain.model import Organisation, OrgKind, Principal
from accord.domain.scope import Scope
from accord.domain.stix import canonical_json, format_timestamp
from accord.domain.text import MAX_SEARCH, unstorable
from accord.domain.tlp import TLP
from accord.errors import Forbidden, InvalidInput, Problem
from accord.exchange.service import Exchange
from accord.privacy.detect import Finding, kinds_of, scan
from accord.privacy.erasure import Erasures
from accord.privacy.redact import rewrite
from accord.privacy.rules import (
    ANY,
    Action,
    Basis,
    Decision,
    RuleSpec,
    decide,
    rule_problem,
    strictest,
)
from accord.store.accounts import GroupRepository, OrganisationRepository
from accord.store.objects import ObjectQuery, ObjectRow, TravelRow
from accord.store.peers import Peer, PeerRepository
from accord.store.privacy import (
    NewTransfer,
    PrivacyRepository,
    Purge,
    Retention,
    Rule,
    Transfer,
)

log = logging.getLogger("accord.privacy")
_TYPE = re.compile(r"\A[a-z0-9][a-z0-9-]{0,61}\Z")
_MAX_DAYS = 36_500
CLEAN = "clean"  # a transfer with no personal data found: sent as written
PUBLIC = "public"  # the destination of readers without an organisation (anonymous, peers)
_MAX_NOTE = 500


@dataclass(frozen=True, slots=True)
class Preview:
    """What a destination would receive of one object, and why."""

    stix_id: str
    state: str | None
    kind: str | None
    decision: Decision
    findings: list[Finding]
    sent: dict[str, Any] | None  # None: withheld (refuse)


def _bad(field: str, why: str) -> InvalidInput:
    return InvalidInput(f"'{field}': {why}", [Problem(why, field=field)])


class Privacy:
    def __init__(
        self,
        repo: PrivacyRepository,
        exchange: Exchange,
        orgs: OrganisationRepository,
        groups: GroupRepository,
        peers: PeerRepository,
        clock: Clock,
        erasures: Erasures,
    ) -> None:
        self._repo = repo
        self._exchange = exchange
        self._orgs = orgs
        self._groups = groups
        self._peers = peers
        self._clock = clock
        self.erasures = erasures

    # Rules ---------------------------------------------------------------------------
    def rules(self, actor: Principal | None) -> list[Rule]:
        require_admin(actor)
        return self._repo.rules()

    def add_rule(
        self, actor: Principal | None, state: str, kind: str, action: str, basis: str, note: str
    ) -> Rule:
        """Add the rule for a destination (a node admin; ``None``: the operator)."""
        require_admin(actor)
        state = state.strip().upper() if state.strip() != ANY else ANY
        kind = kind.strip() or ANY
        why = rule_problem(state, kind, action, basis)
        if why is None and (len(note) > _MAX_NOTE or unstorable(note)):
            why = ("note", unstorable(note) or f"a note is at most {_MAX_NOTE} characters")
        if why is not None:
            raise _bad(*why)
        return self._repo.add_rule(state, kind, action, basis, note, self._clock())

    def delete_rule(self, actor: Principal | None, rule_id: int) -> None:
        require_admin(actor)
        self._repo.delete_rule(rule_id)

    def _specs(self) -> list[RuleSpec]:
        return [
            RuleSpec(r.id, r.state, r.kind, Action(r.action), Basis(r.basis))
            for r in self._repo.rules()
        ]

    def decision(self, state: str | None, kind: str | None) -> Decision:
        """The rule for a destination of ``state`` (and ``kind`` of organisation)."""
        return decide(self._specs(), state, kind)

    def _decision_for(self, orgs: Sequence[Organisation]) -> Decision:
        specs = self._specs()
        if not orgs:
            return decide(specs, None, None)
        return strictest(decide(specs, o.state, o.kind.value) for o in orgs)

    # Rewriting -----------------------------------------------------------------------
    def _key(self, scope: str) -> bytes:
        return bytes.fromhex(self._repo.key(scope, secrets.token_hex(32), self._clock()))

    def _apply(
        self, obj: dict[str, Any], region: str | None, decision: Decision, scope: str
    ) -> tuple[list[Finding], dict[str, Any] | None]:
        findings = scan(obj, region)
        if not findings or decision.action is Action.ALLOW:
            return findings, obj
        if decision.action is Action.REFUSE:
            return findings, None
        key = self._key(scope) if decision.action is Action.PSEUDONYMISE else None
        return findings, rewrite(obj, findings, key)

    def preview(
        self, principal: Principal, stix_id: str, state: str | None, kind: str | None
    ) -> Preview:
        """What a destination of ``state`` (and ``kind``) would receive of ``stix_id``."""
        if state is not None and rule_problem(state, ANY, "redact", "none") is not None:
            raise _bad("state", "a state is two capital letters (ISO 3166 alpha-2)")
        if kind is not None and kind not in {k.value for k in OrgKind}:
            raise _bad("kind", "not a kind of organisation")
        row, _ = self._exchange.get(principal, stix_id)
        decision = self.decision(state, kind)
        obj = orjson.loads(row.doc)
        findings, sent = self._apply(obj, self._orgs.get(row.owner).state, decision, ANY)
        return Preview(row.stix_id, state, kind, decision, findings, sent)

    # The federation's outgoing transform --------------------------------------------
    def outgoing(
        self, peer: Peer, rows: Sequence[TravelRow], objects: list[dict[str, Any] | None]
    ) -> list[dict[str, Any] | None]:
        """Each object as ``peer`` may receive it (None: withheld), every transfer logged."""
        destination = f"peer:{peer.name}"
        orgs = [self._orgs.get(o) for o in sorted(self._orgs.homed_on(peer.node_id))]
        decision = self._decision_for(orgs)
        known = self._repo.disclosed(destination, ((r.row.stix_id, r.row.modified) for r in rows))
        slugs = {g.id: g.slug for g in self._groups.all()}
        regions: dict[int, str | None] = {}
        out: list[dict[str, Any] | None] = []
        log: list[NewTransfer] = []
        for r, obj in zip(rows, objects, strict=True):
            key = (r.row.stix_id, r.row.modified)
            if key in known:  # sent before: in the form it took then, whatever the rules now
                action, kept = known[key]
                if action == Action.REFUSE.value:
                    out.append(None)
                else:
                    out.append(orjson.loads(kept) if kept is not None else obj)
                continue
            if obj is None:
                out.append(None)
                continue
            if r.row.owner not in regions:
                regions[r.row.owner] = self._orgs.get(r.row.owner).state
            scope = slugs.get(r.group_id, ANY) if r.group_id is not None else ANY
            findings, result = self._apply(obj, regions[r.row.owner], decision, scope)
            out.append(result)
            # Only a rewritten form is kept: a clean or allowed version leaves as stored.
            rewritten = result is not None and result is not obj
            log.append(
                NewTransfer(
                    destination=destination,
                    peer_id=peer.id,
                    owner=r.row.owner,
                    stix_id=r.row.stix_id,
                    modified=r.row.modified,
                    action=decision.action.value if findings else CLEAN,
                    basis=decision.basis.value if findings else Basis.NONE.value,
                    rule_id=decision.rule_id if findings else None,
                    redactions=kinds_of(findings) if decision.action is not Action.ALLOW else [],
                    doc=orjson.dumps(result).decode() if rewritten else None,
                )
            )
        self._repo.record(log, self._clock())
        return out

    # Reads by other organisations on this node: the exchange's disclosure -------------
    def disclose(self, principal: Principal, rows: Sequence[ObjectRow]) -> list[ObjectRow | None]:
        """Each of ``rows`` as ``principal`` may receive it (None: withheld).

        A version owned by another of this node's organisations leaves its organisation
        when ``principal`` reads it: the rule for the reader's destination (its
        organisation's state and kind; the public for a reader without one) applies, and
        the transfer is logged once per destination and version with the form disclosed,
        so every later read (TAXII paging, exports, after a rule changes) gets that same
        form. Versions of organisations homed elsewhere passed their home node's rules
        before they came here. Without a rule for the destination, the default applies
        (redact), as it does for a peer.
        """
        specs = self._specs()
        orgs = {o.id: o for o in self._orgs.all()}
        foreign = {
            r.pk
            for r in rows
            if r.owner != principal.org and r.owner in orgs and orgs[r.owner].local
        }
        if not foreign:
            return list(rows)
        reader = orgs.get(principal.org) if principal.org is not None else None
        if reader is None:
            destination, decision = PUBLIC, decide(specs, None, None)
        else:
            destination = f"org:{reader.id}"
            decision = decide(specs, reader.state, reader.kind.value)
        leaving = [r for r in rows if r.pk in foreign]
        known = self._repo.disclosed(destination, ((r.stix_id, r.modified) for r in leaving))
        fresh = [r for r in leaving if (r.stix_id, r.modified) not in known]
        if fresh:
            known.update(self._disclose_fresh(destination, decision, fresh, orgs))
        out: list[ObjectRow | None] = []
        for r in rows:
            if r.pk not in foreign:
                out.append(r)
                continue
            action, doc = known[(r.stix_id, r.modified)]
            if action == Action.REFUSE.value:
                out.append(None)
            else:
                out.append(r if doc is None else replace(r, doc=doc))
        return out

    def _disclose_fresh(
        self,
        destination: str,
        decision: Decision,
        rows: Sequence[ObjectRow],
        orgs: dict[int, Organisation],
    ) -> dict[tuple[str, str], tuple[str, str | None]]:
        """Scan and rewrite versions not yet disclosed to ``destination``; log each.

        Only a rewritten document is kept: a clean or allowed version is the stored one."""
        groups: dict[int, int] = {}
        slugs: dict[int, str] = {}
        if decision.action is Action.PSEUDONYMISE:
            groups = self._repo.groups_of(r.pk for r in rows if r.scope is Scope.GROUP)
            slugs = {g.id: g.slug for g in self._groups.all()} if groups else {}
        keys: dict[str, bytes] = {}
        found: dict[tuple[str, str], tuple[str, str | None]] = {}
        log: list[NewTransfer] = []
        for r in rows:
            findings = scan(orjson.loads(r.doc), orgs[r.owner].state)
            action = decision.action.value if findings else CLEAN
            doc: str | None = None
            if findings and decision.action in (Action.PSEUDONYMISE, Action.REDACT):
                key = None
                if decision.action is Action.PSEUDONYMISE:
                    scope = slugs.get(groups.get(r.pk, 0), ANY)
                    if scope not in keys:
                        keys[scope] = self._key(scope)
                    key = keys[scope]
                doc = canonical_json(rewrite(orjson.loads(r.doc), findings, key)).decode()
            found[(r.stix_id, r.modified)] = (action, doc)
            log.append(
                NewTransfer(
                    destination=destination,
                    peer_id=None,
                    owner=r.owner,
                    stix_id=r.stix_id,
                    modified=r.modified,
                    action=action,
                    basis=decision.basis.value if findings else Basis.NONE.value,
                    rule_id=decision.rule_id if findings else None,
                    redactions=kinds_of(findings) if decision.action is not Action.ALLOW else [],
                    doc=doc,
                )
            )
        self._repo.record(log, self._clock())
        return found

    # The transfer log ----------------------------------------------------------------
    def transfers(
        self,
        actor: Principal,
        stix_id: str | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[Transfer]:
        """Transfers of objects the actor's organisation owns (a node admin: all)."""
        if actor.org is None:
            raise Forbidden("the transfer log is for an organisation's members")
        owner = None if actor.is_admin() else actor.org
        return self._repo.transfers(owner, stix_id, limit, before)

    def purges(self, actor: Principal | None, limit: int = 100) -> list[Purge]:
        require_admin(actor)
        return self._repo.purges(limit)

    # Access requests -----------------------------------------------------------------
    def access_request(
        self, principal: Principal, identifier: str, limit: int = 500
    ) -> list[ObjectRow]:
        """Every object ``principal`` may read (the gate) that mentions ``identifier``.

        Only members of a data-protection authority's organisation ask this.
        """
        if principal.org is None or (
            self._orgs.get(principal.org).kind is not OrgKind.DATA_PROTECTION_AUTHORITY
        ):
            raise Forbidden("access requests are for a data-protection authority's members")
        wanted = identifier.strip()
        if not wanted or len(wanted) > MAX_SEARCH or unstorable(wanted):
            raise _bad("identifier", f"an identifier is 1 to {MAX_SEARCH} storable characters")
        # Every readable object's whole document, not only the searched fields: a note's
        # content or an account's login mention people too. A rare request; a full pass.
        # Matched on what is stored (a redacted copy no longer names the person), then
        # shown as disclosed to the authority, like any other read of its.
        needle = wanted.lower()
        found: list[ObjectRow] = []
        for rows in self._exchange.iter_all(principal, ObjectQuery(limit=500), as_stored=True):
            found.extend(r for r in rows if needle in r.doc.lower())
            if len(found) >= limit:
                break
        return [r for r in self.disclose(principal, found[:limit]) if r is not None]

    # Retention -----------------------------------------------------------------------
    def retention(self, actor: Principal | None) -> list[Retention]:
        require_admin(actor)
        return self._repo.retention()

    def add_retention(self, actor: Principal | None, type_: str, tlp: str, days: int) -> Retention:
        """Keep objects of ``type_`` at ``tlp`` (``*``: any) ``days`` after they were added."""
        require_admin(actor)
        type_, tlp = type_.strip() or ANY, tlp.strip().lower() or ANY
        if type_ != ANY and not _TYPE.match(type_):
            raise _bad("type", "a STIX type (letters, digits and '-') or '*'")
        if tlp != ANY:
            try:
                tlp = TLP.parse(tlp).value
            except ValueError:
                raise _bad(
                    "tlp", "a TLP 2.0 marking (clear, green, amber, amber+strict, red) or '*'"
                ) from None
        if not 1 <= days <= _MAX_DAYS:
            raise _bad("days", f"between 1 and {_MAX_DAYS} days")
        return self._repo.add_retention(type_, tlp, days, self._clock())

    def delete_retention(self, actor: Principal | None, rule_id: int) -> None:
        require_admin(actor)
        self._repo.delete_retention(rule_id)

    def purge_expired(self, limit: int = 5000) -> list[Purge]:
        """Delete every object kept past its retention (every version, with the indexes
        and the copies kept of what was sent); a record of each purge stays."""
        rules = self._repo.retention()
        now = self._clock()
        purged: list[Purge] = []
        for rule in rules:
            cutoff = format_timestamp(now - timedelta(days=rule.days))
            for held in self._repo.held_before(cutoff, rule.type, rule.tlp, limit):
                if _governing(rules, held.type, held.tlp) != rule:
                    continue  # a more specific rule decides for this one
                removed = self._exchange.erase(held.stix_id)
                if not removed:
                    continue
                self._repo.forget_sent(held.stix_id)
                reason = f"retention #{rule.id}: {rule.type}/{rule.tlp} kept {rule.days} days"
                purged.append(
                    self._repo.record_purge(
                        held.stix_id, held.type, held.tlp, len(removed), reason, now
                    )
                )
        if purged:
            log.info("retention purged %d objects", len(purged))
        return purged


def _governing(rules: Sequence[Retention], type_: str, tlp: str) -> Retention | None:
    """The most specific retention rule for objects of ``type_`` at ``tlp``."""
    best: tuple[int, Retention] | None = None
    for r in rules:
        if r.type not in (ANY, type_) or r.tlp not in (ANY, tlp):
            continue
        weight = (2 if r.type != ANY else 0) + (1 if r.tlp != ANY else 0)
        if best is None or weight > best[0]:
            best = (weight, r)
    return best[1] if best else None
