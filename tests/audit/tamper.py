"""Rewriting a node's audit log behind its back, as an attacker with the database would."""

from __future__ import annotations

from sqlalchemy import delete, insert

from accord.audit.capability import AUDIT
from accord.audit.merkle import Frontier, leaf_hash
from accord.audit.service import AuditLog, leaf_data
from accord.domain.audit import Event
from accord.node import Node
from accord.store.audit import AuditRepository, audit_entries, audit_nodes, node_key
from accord.store.db import write


def rewrite_from(node: Node, seq: int, more: int) -> None:
    """Drop entries from ``seq`` on, rebuild every stored subtree, append ``more`` others."""
    with write(node.engine) as conn:
        conn.execute(delete(audit_entries).where(audit_entries.c.seq >= seq))
        conn.execute(delete(audit_nodes))
    rebuild(AUDIT.service(node), node, more)


def rebuild(log: AuditLog, node: Node, more: int) -> None:
    """Recompute the stored subtrees from the entries left, then append a different tail."""
    frontier = Frontier()
    nodes: list[tuple[int, int, bytes]] = []
    for rows in AuditRepository(node.engine).scan():
        for e in rows:
            nodes += frontier.append(
                leaf_hash(leaf_data(e.seq, e.at, e.action, e.decision, bytes(e.commitment)))
            )
    with write(node.engine) as conn:
        conn.execute(
            insert(audit_nodes), [{"key": node_key(lv, ix), "hash": h} for lv, ix, h in nodes]
        )
    log.record([Event("c", "read") for _ in range(more)])
