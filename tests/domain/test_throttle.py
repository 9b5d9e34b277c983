"""Sign-in back-off rules, pure: free failures, doubling waits, caps, forgetting, known pairs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from accord.domain.throttle import Backoff, Key, SigninRules, Streak, retry_after

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PAIR = Backoff(free=5, first=timedelta(seconds=1), cap=timedelta(minutes=15))
RULES = SigninRules(
    pair=PAIR,
    address=Backoff(free=20, first=timedelta(seconds=1), cap=timedelta(minutes=15)),
    account=Backoff(free=10, first=timedelta(seconds=1), cap=timedelta(seconds=60)),
    forget=timedelta(hours=1),
    known=timedelta(days=30),
)

backoffs = st.builds(
    Backoff,
    free=st.integers(1, 50),
    first=st.timedeltas(timedelta(milliseconds=1), timedelta(minutes=5)),
    cap=st.timedeltas(timedelta(seconds=1), timedelta(days=1)),
)


def test_free_failures_then_doubling_up_to_the_cap() -> None:
    waits = [PAIR.delay(n).total_seconds() for n in range(1, 18)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
    assert PAIR.delay(10**9) == PAIR.cap


@given(backoffs, st.integers(0, 10**6))
def test_a_wait_never_exceeds_the_cap_and_never_shrinks(backoff: Backoff, failures: int) -> None:
    delay = backoff.delay(failures)
    assert timedelta(0) <= delay <= backoff.cap
    assert backoff.delay(failures + 1) >= delay
    if failures < backoff.free:
        assert delay == timedelta(0)


@given(backoffs, st.integers(1, 200), st.lists(st.integers(0, 10**5), max_size=40))
def test_a_streak_waits_at_most_its_cap_and_counts_each_failure(
    backoff: Backoff, forget_s: int, gaps: list[int]
) -> None:
    streak, now = Streak(), T0
    forget = timedelta(seconds=forget_s)
    expected = 0
    for gap in gaps:
        now += timedelta(seconds=gap)
        fresh = streak.last_failure is None or now - streak.last_failure >= forget
        streak = streak.failed(now, backoff, forget)
        expected = 1 if fresh else expected + 1
        assert streak.failures == expected
        assert streak.wait(now) == backoff.delay(expected) <= backoff.cap


def test_a_quiet_spell_forgets_the_streak_and_a_success_ends_it() -> None:
    streak = Streak()
    for _ in range(7):
        streak = streak.failed(T0, PAIR, RULES.forget)
    assert streak.failures == 7 and streak.wait(T0) == timedelta(seconds=4)
    later = streak.failed(T0 + RULES.forget, PAIR, RULES.forget)
    assert later.failures == 1 and later.wait(T0 + RULES.forget) == timedelta(0)
    done = streak.succeeded(T0)
    assert done.failures == 0 and done.wait(T0) == timedelta(0) and done.last_success == T0


def test_the_account_wide_wait_spares_a_pair_known_to_the_account() -> None:
    account = Streak(failures=15, last_failure=T0, blocked_until=T0 + timedelta(seconds=60))
    stranger = {Key.ACCOUNT: account}
    assert RULES.wait(stranger, T0) == timedelta(seconds=60)
    known = {**stranger, Key.PAIR: Streak(last_success=T0 - timedelta(days=29))}
    assert RULES.wait(known, T0) == timedelta(0)
    long_ago = {**stranger, Key.PAIR: Streak(last_success=T0 - timedelta(days=30))}
    assert RULES.wait(long_ago, T0) == timedelta(seconds=60)


@given(st.lists(st.sampled_from(list(Key)), max_size=60), st.integers(0, 3600))
def test_the_wait_is_the_longest_of_the_keys_and_within_their_caps(
    failing: list[Key], after: int
) -> None:
    streaks: dict[Key, Streak] = {}
    for key in failing:
        streaks[key] = streaks.get(key, Streak()).failed(T0, RULES.backoff(key), RULES.forget)
    now = T0 + timedelta(seconds=after)
    wait = RULES.wait(streaks, now)
    assert wait == max((s.wait(now) for s in streaks.values()), default=timedelta(0))
    assert wait <= max(RULES.pair.cap, RULES.address.cap)
    if Key.PAIR not in streaks and Key.ADDRESS not in streaks:
        assert wait <= RULES.account.cap


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert retry_after(timedelta(seconds=1)) == 1
    assert retry_after(timedelta(seconds=1, microseconds=1)) == 2
    assert retry_after(timedelta(microseconds=1)) == 1
