"""The markings of coordination records, and who reads them with no gate at all.

Both the store (which filters reads in SQL, ``accord.store.gate``) and
``accord.coordinate.access`` (which states the same rules through ``policy.can_read``)
need them, and the store may not import a service: so they live here, below both.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, TypeAlias

from accord.domain.model import Principal
from accord.domain.tlp import TLP

# A directory entry is for the community, or for named groups: the marking that allows both.
CONTACT_TLP: Final = TLP.GREEN

# A check and its results are the organiser's alone.
CHECK_TLP: Final = TLP.RED


class Operator(Enum):
    """The node's operator (the CLI, and the scheduler's escalations and reminders): reads
    every record. A named value rather than ``None``, so a gated read that forgets its
    reader fails to type-check instead of showing everything."""

    OPERATOR = "operator"


OPERATOR: Final = Operator.OPERATOR

# Whoever a gated coordination read is for: a signed-in principal, or the operator.
Reader: TypeAlias = Principal | Operator
