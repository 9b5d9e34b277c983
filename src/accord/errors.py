"""Every error Accord raises on purpose, and how each one reaches a person.

One root, ``AccordError``; each subclass maps to exactly one HTTP status (the API
answers RFC 9457 problem+json) and one CLI exit code (the CLI prints one line)::

    AccordError                    500  exit 1   a fault of ours
    ├── InvalidInput               400  exit 2   the request is malformed
    │   ├── ValidationFailed       422  exit 2   STIX content is invalid (lists each problem)
    │   ├── PolicyViolation        422  exit 2   a marking/scope combination the rules forbid
    │   ├── NotAcceptable          406  exit 2   the client does not accept our media type
    │   └── UnsupportedMediaType   415  exit 2   the body is not in a media type we take
    ├── NotAuthenticated           401  exit 3   no, unknown, expired or revoked credentials
    ├── TooManyAttempts            429  exit 3   too many failed sign-ins: wait Retry-After
    ├── Forbidden                  403  exit 4   authenticated, but the role may not do this
    ├── NotFound                   404  exit 5   absent, or invisible to the caller (never 403)
    ├── Conflict                   409  exit 6   clashes with what is stored
    │   └── Replayed               409  exit 6   a signed message already accepted
    ├── SignatureRejected          403  exit 4   a peer message unsigned, altered or misaddressed
    ├── PeerUnavailable            502  exit 7   a peer did not answer, or answered nonsense
    ├── Unavailable                503  exit 1   the node's database is down or overloaded
    └── PayloadTooLarge            413  exit 2   over a configured size limit

The ``slug`` names the problem ``type`` URI (``/api/v1/problems/{slug}``); slugs are
persisted in clients' code, so they never change once released.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Problem:
    """One specific thing wrong with an input: which object, which field, why."""

    reason: str
    index: int | None = None
    object_id: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            key: value
            for key, value in (
                ("index", self.index),
                ("object_id", self.object_id),
                ("field", self.field),
                ("reason", self.reason),
            )
            if value is not None
        }


class AccordError(Exception):
    """Root of the tree. ``detail`` is one sentence that says what to do next."""

    status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, problems: list[Problem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems or []


class InvalidInput(AccordError):
    status = 400
    exit_code = 2
    slug = "invalid-input"
    title = "Invalid input"


class ValidationFailed(InvalidInput):
    status = 422
    slug = "validation-failed"
    title = "STIX content failed validation"


class PolicyViolation(InvalidInput):
    status = 422
    slug = "policy-violation"
    title = "The sharing rules forbid this"


class NotAcceptable(InvalidInput):
    status = 406
    slug = "not-acceptable"
    title = "Not acceptable"


class UnsupportedMediaType(InvalidInput):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class PayloadTooLarge(InvalidInput):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class NotAuthenticated(AccordError):
    status = 401
    exit_code = 3
    slug = "not-authenticated"
    title = "Not authenticated"


class TooManyAttempts(AccordError):
    """Too many failed sign-ins from here or for this account: wait, then try again."""

    status = 429
    exit_code = 3
    slug = "too-many-attempts"
    title = "Too many attempts"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Forbidden(AccordError):
    status = 403
    exit_code = 4
    slug = "forbidden"
    title = "Forbidden"


class NotFound(AccordError):
    status = 404
    exit_code = 5
    slug = "not-found"
    title = "Not found"


class Conflict(AccordError):
    status = 409
    exit_code = 6
    slug = "conflict"
    title = "Conflict"


class Replayed(Conflict):
    slug = "replayed"
    title = "Message replayed"


class SignatureRejected(Forbidden):
    slug = "signature-rejected"
    title = "Signature rejected"


class PeerUnavailable(AccordError):
    status = 502
    exit_code = 7
    slug = "peer-unavailable"
    title = "Peer unavailable"


class Unavailable(AccordError):
    """The node's database is down or overloaded: retry after ``Retry-After`` seconds."""

    status = 503
    slug = "unavailable"
    title = "Service unavailable"


ERROR_TYPES: tuple[type[AccordError], ...] = (
    AccordError,
    InvalidInput,
    ValidationFailed,
    PolicyViolation,
    NotAcceptable,
    UnsupportedMediaType,
    PayloadTooLarge,
    NotAuthenticated,
    TooManyAttempts,
    Forbidden,
    NotFound,
    Conflict,
    Replayed,
    SignatureRejected,
    PeerUnavailable,
    Unavailable,
)
