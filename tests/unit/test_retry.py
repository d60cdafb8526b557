"""The retry schedule of a lost list or watch: short, capped, jittered."""

from app.core.retry import CAP_SECONDS, retry_delay


def test_first_retry_is_almost_at_once() -> None:
    assert 0.05 <= retry_delay(1, 0.0) <= retry_delay(1, 0.999) <= 0.1


def test_waits_grow_then_stay_at_the_cap_however_long_the_outage() -> None:
    steps = [retry_delay(n, 0.999) for n in range(1, 10)]
    assert steps == sorted(steps)
    assert steps[-1] <= CAP_SECONDS <= 2.0
    # an outage of hours: still back within the cap
    assert retry_delay(10_000, 0.999) <= CAP_SECONDS
    assert retry_delay(10_000, 0.0) >= CAP_SECONDS / 2


def test_jitter_spreads_the_wait_over_the_upper_half_of_the_step() -> None:
    low, high = retry_delay(20, 0.0), retry_delay(20, 0.999)
    assert low == CAP_SECONDS / 2
    assert CAP_SECONDS * 0.99 < high < CAP_SECONDS


def test_a_reset_count_starts_short_again() -> None:
    assert retry_delay(0, 0.5) == retry_delay(1, 0.5) < retry_delay(5, 0.5)
