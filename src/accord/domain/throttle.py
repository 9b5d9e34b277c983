"""Sign-in throttling rules: exponential back-off after failed password checks (no I/O).

Failures are counted per *key*: one (account, source address) pair, one source
address across every account (password spraying), one account across every address
(a distributed guesser). Each key gets a few free failures, then waits that double
with every further failure up to a cap. A key forgets its streak after a quiet spell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Key(StrEnum):
    """What a streak of failures is counted against."""

    PAIR = "pair"  # one account from one address
    ADDRESS = "address"  # one address, whatever the account
    ACCOUNT = "account"  # one account, whatever the address


@dataclass(frozen=True, slots=True)
class Backoff:
    """``free`` failures cost nothing; then ``first``, doubling each failure, up to ``cap``."""

    free: int
    first: timedelta
    cap: timedelta

    def delay(self, failures: int) -> timedelta:
        """How long a key waits after its ``failures``-th failure in a row."""
        over = failures - self.free
        if over < 0:
            return timedelta(0)
        # Compared as floats first: a long streak's doubling overflows a timedelta.
        if math.ldexp(self.first.total_seconds(), min(over, 200)) >= self.cap.total_seconds():
            return self.cap
        later: timedelta = self.first * (2**over)
        return later


@dataclass(frozen=True, slots=True)
class Streak:
    """One key's failures in a row, and until when it must wait."""

    failures: int = 0
    last_failure: datetime | None = None
    blocked_until: datetime | None = None
    last_success: datetime | None = None

    def wait(self, now: datetime) -> timedelta:
        """How long from ``now`` until this key may try again (zero: at once)."""
        if self.blocked_until is None or self.blocked_until <= now:
            return timedelta(0)
        return self.blocked_until - now

    def failed(self, now: datetime, backoff: Backoff, forget: timedelta) -> Streak:
        """This streak after one more failure at ``now``; a quiet spell starts it afresh."""
        stale = self.last_failure is None or now - self.last_failure >= forget
        failures = 1 if stale else self.failures + 1
        delay = backoff.delay(failures)
        return replace(
            self,
            failures=failures,
            last_failure=now,
            blocked_until=now + delay if delay else None,
        )

    def succeeded(self, now: datetime) -> Streak:
        """A right password from this pair: the streak is over, the pair is known."""
        return Streak(last_success=now)


@dataclass(frozen=True, slots=True)
class SigninRules:
    """The back-off of each key, when a streak is forgotten, how long a pair stays known."""

    pair: Backoff
    address: Backoff
    account: Backoff
    forget: timedelta
    known: timedelta

    def backoff(self, key: Key) -> Backoff:
        return {Key.PAIR: self.pair, Key.ADDRESS: self.address, Key.ACCOUNT: self.account}[key]

    def wait(self, streaks: dict[Key, Streak], now: datetime) -> timedelta:
        """How long the pair whose ``streaks`` these are must wait before trying again.

        The account-wide wait only slows strangers: an address that signed in to the
        account recently is not held up by guessing from elsewhere.
        """
        keys = [Key.PAIR, Key.ADDRESS]
        if not self.is_known(streaks.get(Key.PAIR), now):
            keys.append(Key.ACCOUNT)
        return max((streaks[k].wait(now) for k in keys if k in streaks), default=timedelta(0))

    def is_known(self, pair: Streak | None, now: datetime) -> bool:
        """Whether this pair signed in successfully within the ``known`` window."""
        return (
            pair is not None
            and pair.last_success is not None
            and now - pair.last_success < self.known
        )


def retry_after(wait: timedelta) -> int:
    """Whole seconds for a ``Retry-After`` header: rounded up, at least one."""
    return max(1, math.ceil(wait.total_seconds()))
