"""Audit: a tamper-evident log of who read, shared and changed what (RFC 9162 Merkle tree)."""
