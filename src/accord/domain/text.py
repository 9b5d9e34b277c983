"""Text every store can hold, checked once for every surface that takes text in.

PostgreSQL text cannot hold a NUL character, and an unpaired UTF-16 surrogate is not
Unicode text (it cannot be written as UTF-8); a search longer than ``MAX_SEARCH`` makes
SQLite's ``LIKE`` give up. The REST API, the console's forms, STIX validation, TAXII
parameters and federation messages all refuse such text with this one rule, naming the
field, instead of meeting it as a database error.
"""

from __future__ import annotations

import re
from typing import Final

# The longest free-text search a listing runs.
MAX_SEARCH: Final = 300

_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL or an unpaired surrogate in it), or None."""
    if text.isascii():
        return "contains a NUL character (U+0000)" if "\x00" in text else None
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (U+0000)"
    return f"contains an unpaired surrogate (U+{ord(found.group()):04X}), which is not Unicode text"


def printable(text: str) -> str:
    """``text`` with NUL and unpaired surrogates written as ``\\uXXXX`` escapes."""
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
