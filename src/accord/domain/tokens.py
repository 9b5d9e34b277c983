"""API tokens: shown once, stored only as a hash, compared in constant time.

A token reads ``accord_<key>_<secret>``. The key finds the row; the secret is 256
random bits, so one SHA-256 pass is the right hash (a slow password hash adds
nothing against a guess at 2**256).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "accord_"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    key: str
    secret_hash: str
    plaintext: str


def issue_token() -> IssuedToken:
    key = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return IssuedToken(
        key=key, secret_hash=hash_secret(secret), plaintext=f"{PREFIX}{key}_{secret}"
    )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(plaintext: str) -> tuple[str, str] | None:
    """``(key, secret)`` of a well-formed token, else None."""
    if not plaintext.startswith(PREFIX):
        return None
    key, sep, secret = plaintext.removeprefix(PREFIX).partition("_")
    if not sep or len(key) != 12 or not secret:
        return None
    return key, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
