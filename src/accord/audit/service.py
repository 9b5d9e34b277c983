"""The audit log: append recorded acts, sign tree heads, prove, verify, witness peers.

Every ``Event`` becomes one entry whose Merkle leaf (RFC 9162) is

    SHA-256(0x00 || "accord-audit-v1\\n" seq "\\n" at "\\n" action "\\n" decision "\\n" commitment)

with ``commitment = HMAC-SHA-256(salt, JSON [actor, object, version, detail])`` under a
fresh 16-byte salt per entry. Erasing an object forgets the salt and those fields; the
leaf still hashes the same, so the chain and every signed head still verify.

A signed tree head is ``size``, ``root`` and ``at`` signed with the node's Ed25519 key over
``"accord-audit-head-v1\\n" node_id "\\n" size "\\n" root-hex "\\n" at "\\n"``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from accord.audit.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    needed,
    root,
    verify_consistency,
)
from accord.domain.audit import Event
from accord.domain.clock import Clock
from accord.domain.stix import format_timestamp
from accord.errors import InvalidInput, NotFound
from accord.errors import Problem as FieldProblem
from accord.federation.keys import NodeKey, verify
from accord.store.audit import AuditRepository, EntryRow, HeadRow, WitnessRow
from accord.store.groupcommit import GroupCommit

log = logging.getLogger("accord.audit")

LEAF_PREFIX = b"accord-audit-v1\n"
HEAD_PREFIX = "accord-audit-head-v1\n"


def commitment(salt: bytes, fields: Sequence[str | None]) -> bytes:
    return hmac.digest(salt, orjson.dumps(list(fields)), "sha256")


LEAF_DATA_START = b"\x00" + LEAF_PREFIX  # RFC 9162's leaf prefix, then ours
NODE_START = b"\x01"  # RFC 9162's interior node prefix (merkle.node_hash)


def leaf_data(seq: int, at: str, action: str, decision: str, commit: bytes) -> bytes:
    return LEAF_PREFIX + f"{seq}\n{at}\n{action}\n{decision}\n".encode() + commit


def head_message(node_id: str, size: int, root_hash: bytes, at: str) -> bytes:
    return f"{HEAD_PREFIX}{node_id}\n{size}\n{root_hash.hex()}\n{at}\n".encode()


def _clip(value: str | None, width: int) -> str | None:
    return None if value is None else value[:width]


@dataclass(frozen=True, slots=True)
class SignedHead:
    node_id: str
    public_key: str
    size: int
    root: bytes
    at: str
    signature: str

    def public(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "public_key": self.public_key,
            "size": self.size,
            "root": self.root.hex(),
            "at": self.at,
            "signature": self.signature,
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing ``verify`` found wrong, in one line."""

    seq: int | None
    reason: str

    def line(self) -> str:
        where = f"entry {self.seq}" if self.seq is not None else "the log"
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    entries: int
    heads: int
    erased: int
    root: bytes
    problem: Problem | None


def _failed(entries: int, heads: int, erased: int, seq: int | None, reason: str) -> VerifyReport:
    return VerifyReport(entries, heads, erased, b"", Problem(seq, reason))


class AuditLog:
    """The node's audit log (a ``Recorder``: services hand it their events)."""

    def __init__(self, repo: AuditRepository, engine: Engine, key: NodeKey, clock: Clock) -> None:
        self._repo = repo
        self._engine = engine
        self._key = key
        self._clock = clock
        self._queue: GroupCommit[list[Event], None] = GroupCommit(engine, self.append)

    # Recording ---------------------------------------------------------------------
    def record(self, events: list[Event]) -> None:
        """Append ``events`` in a transaction of their own (shared with concurrent callers)."""
        if events:
            self._queue.submit(events)

    def append(self, conn: Connection, events: list[Event]) -> None:
        """Append ``events`` inside the caller's transaction ``conn``: O(log n) reads."""
        if not events:
            return
        self._repo.lock(conn)
        size = self._repo.size(conn)
        keys = Frontier.edge_keys(size)
        stored = self._repo.nodes(conn, keys)
        frontier = Frontier(size, [stored[k] for k in keys])
        at = format_timestamp(self._clock())
        rows: list[tuple[object, ...]] = []
        nodes: list[tuple[int, int, bytes]] = []
        add = frontier.append
        salts = os.urandom(16 * len(events))
        for i, event in enumerate(events):
            seq = frontier.size
            actor = _clip(event.actor, 200)
            ref = _clip(event.object_ref, 128)
            version = _clip(event.version, 40)
            action, decision = event.action[:32], event.decision[:16]
            salt = salts[16 * i : 16 * i + 16]
            commit = commitment(salt, (actor, ref, version, event.detail))
            nodes += add(leaf_hash(leaf_data(seq, at, action, decision, commit)))
            rows.append(
                (seq, at, action, decision, actor, ref, version, event.detail, salt, commit)
            )
        self._repo.insert(conn, rows, nodes)

    def forget(self, object_ref: str) -> int:
        """Erasure: forget what may be personal in the entries naming ``object_ref``."""
        return self._repo.forget(object_ref)

    # Reading -----------------------------------------------------------------------
    def size(self) -> int:
        return self._repo.current_size()

    def entries(self, before: int | None, limit: int) -> list[EntryRow]:
        return self._repo.entries(before, limit)

    def _get(self, compute: Callable[[Callable[[int, int], bytes]], Any]) -> Any:
        nodes = self._repo.read_nodes(needed(compute))
        return compute(lambda level, index: nodes[level, index])

    def root_at(self, size: int) -> bytes:
        return bytes(self._get(lambda get: root(get, size)))

    def head(self) -> SignedHead:
        """The signed head of the log as it stands (signed now if it grew since the last)."""
        size = self.size()
        latest = self._repo.latest_head()
        if latest is None or latest.size != size:
            at = format_timestamp(self._clock())
            top = self.root_at(size)
            signature = self._key.sign(head_message(self._key.node_id, size, top, at))
            self._repo.keep_head(HeadRow(size, top, at, signature))
            latest = self._repo.latest_head()
            assert latest is not None
        return self._signed(latest)

    def _signed(self, row: HeadRow) -> SignedHead:
        return SignedHead(
            self._key.node_id,
            self._key.public_b64,
            row.size,
            bytes(row.root),
            row.at,
            row.signature,
        )

    def heads(self) -> list[SignedHead]:
        return [self._signed(h) for h in self._repo.heads()]

    def prove(self, seq: int) -> dict[str, Any]:
        """An inclusion proof of entry ``seq`` in the current signed head, as plain JSON."""
        entry = self._repo.entry(seq) if 0 <= seq < 2**62 else None
        if entry is None:
            raise NotFound(f"no audit entry {seq}")
        head = self.head()
        path = self.inclusion(seq, head.size)
        data = leaf_data(entry.seq, entry.at, entry.action, entry.decision, entry.commitment)
        return {
            "entry": {
                "seq": entry.seq,
                "at": entry.at,
                "action": entry.action,
                "decision": entry.decision,
                "commitment": bytes(entry.commitment).hex(),
            },
            "leaf_data": data.hex(),
            "leaf_index": seq,
            "tree_size": head.size,
            "leaf_hash": leaf_hash(data).hex(),
            "audit_path": [p.hex() for p in path],
            "head": head.public(),
            "head_message": head_message(head.node_id, head.size, head.root, head.at).decode(),
        }

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        """The RFC 9162 audit path of entry ``seq`` in the tree of ``size`` entries."""
        return list(self._get(lambda get: inclusion_proof(get, seq, size)))

    def consistency(self, first: int, second: int | None = None) -> list[bytes]:
        second = self.size() if second is None else second
        if not 0 <= first <= second:
            why = f"'from' must be between 0 and the log's size ({second})"
            raise InvalidInput(why, [FieldProblem(why, field="from")])
        return list(self._get(lambda get: consistency_proof(get, first, second)))

    # Verifying ---------------------------------------------------------------------
    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Recompute every leaf and the tree; check each entry's fields against its
        commitment (where not erased) and the tree against every signed head. Where a head
        does not match, a second pass names the first entry that no longer hashes to its
        stored leaf."""
        heads = {h.size: h for h in self._repo.heads()}
        public = self._key.public_raw
        for h in heads.values():
            message = head_message(self._key.node_id, h.size, bytes(h.root), h.at)
            if not verify(public, h.signature, message):
                return _failed(0, 0, 0, None, f"head {h.size} has a bad signature")
        if 0 in heads and bytes(heads[0].root) != Frontier().root():
            return _failed(0, 0, 0, None, "the head of the empty log is wrong")
        # The frontier's right edge, kept inline: one leaf hash and (amortised) one node
        # hash per entry, with no call or list per entry beyond the hashing itself.
        edge: list[bytes] = []
        size = erased = checked = 0
        sha256, digest, dumps = hashlib.sha256, hmac.digest, orjson.dumps
        for rows in self._repo.scan_raw():
            for seq, at, action, decision, actor, ref, version, detail, salt, commit in rows:
                if seq != size:
                    reason = "is missing (the sequence has a gap)"
                    return _failed(size, checked, erased, size, reason)
                commit = bytes(commit)
                if salt is None:
                    erased += 1
                elif digest(salt, dumps([actor, ref, version, detail]), "sha256") != commit:
                    reason = "its recorded fields do not match its commitment"
                    return _failed(seq, checked, erased, seq, reason)
                top = sha256(
                    LEAF_DATA_START + f"{seq}\n{at}\n{action}\n{decision}\n".encode() + commit
                ).digest()
                index = size
                while index & 1:
                    top = sha256(NODE_START + edge.pop() + top).digest()
                    index >>= 1
                edge.append(top)
                size += 1
                head = heads.get(size)
                if head is not None:
                    checked += 1
                    if bytes(head.root) != Frontier(size, edge).root():
                        bad = self._first_bad_leaf(seq + 1)
                        if bad is not None:
                            reason = "its fields do not hash to its stored leaf"
                            return _failed(bad, checked, erased, bad, reason)
                        reason = (
                            f"the tree up to it does not match the head signed at size {seq + 1}"
                        )
                        return _failed(seq, checked, erased, seq, reason)
            if progress:
                progress(len(rows))
        beyond = [s for s in heads if s > size]
        if beyond:
            reason = (
                f"a head was signed at size {max(beyond)} but only {size} entries "
                "remain (entries were removed)"
            )
            return _failed(size, checked, erased, None, reason)
        return VerifyReport(size, checked, erased, Frontier(size, edge).root(), None)

    def _first_bad_leaf(self, size: int) -> int | None:
        for rows in self._repo.scan_with_leaves():
            for e, stored in rows:
                if e.seq >= size:
                    return None
                data = leaf_data(e.seq, e.at, e.action, e.decision, bytes(e.commitment))
                if stored is None or stored != leaf_hash(data):
                    return e.seq
        return None

    # Witnessing --------------------------------------------------------------------
    def witness(self, peer: str, public_key: bytes, fetch: Callable[[int], Any]) -> WitnessRow:
        """Check a peer's signed head against the last one seen from it.

        ``fetch(from_size)`` returns the peer's answer to ``GET /api/v1/audit/head?from=``.
        A bad signature, a smaller size (rewind) or a failed consistency proof (fork) is
        kept as the peer's state, logged, and recorded in this node's own log.
        """
        last = self._repo.witness(peer)
        now = format_timestamp(self._clock())
        if last is not None and last.state != "ok":
            return last  # a fork stays reported until an operator looks into it
        since = last.size if last is not None else 0
        problem: str | None = None
        try:
            answer = fetch(since)
            size, top, at, signature = _head_fields(answer)
            proof = [bytes.fromhex(p) for p in answer.get("consistency", [])]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problem = f"unreadable tree head: {exc}"
        if problem is None:
            node_id = hashlib.sha256(public_key).hexdigest()[:32]
            if not verify(public_key, signature, head_message(node_id, size, top, at)):
                problem = "the tree head's signature does not verify with the peer's key"
            elif last is not None:
                if size < last.size:
                    problem = f"rewound: size {size} after {last.size} was signed"
                elif not verify_consistency(last.size, size, bytes(last.root), top, proof):
                    problem = (
                        f"forked: the head at size {size} is not consistent with "
                        f"the head seen at size {last.size}"
                    )
        if problem is not None:
            log.warning("audit witness: peer %s: %s", peer, problem)
            self.record([Event(f"peer:{peer}", "witness", "fork", detail=problem)])
            kept = last or WitnessRow(peer, 0, b"\0" * 32, now, "", "ok", None, now)
            row = WitnessRow(
                peer, kept.size, kept.root, kept.at, kept.signature, "forked", problem, now
            )
        else:
            row = WitnessRow(peer, size, top, at, signature, "ok", None, now)
        self._repo.keep_witness(row)
        return row

    def witnesses(self) -> list[WitnessRow]:
        return self._repo.witnesses()


def _head_fields(answer: Any) -> tuple[int, bytes, str, str]:
    size, top, at, signature = (answer[k] for k in ("size", "root", "at", "signature"))
    if not isinstance(size, int) or size < 0 or not isinstance(at, str):
        raise ValueError("size or at has the wrong type")
    if not isinstance(signature, str) or not isinstance(top, str) or len(top) != 64:
        raise ValueError("root or signature has the wrong form")
    return size, bytes.fromhex(top), at[:40], signature[:128]
