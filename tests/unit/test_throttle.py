"""The failed-login brake, with a fake clock."""

from __future__ import annotations

from pigeon.actions.throttle import LoginThrottle


def test_pauses_a_pair_after_too_many_failures_then_recovers() -> None:
    throttle = LoginThrottle(max_failures=3, window_s=60)
    for t in (0.0, 1.0, 2.0):
        assert throttle.retry_after("Ann", "10.0.0.1", now=t) == 0
        throttle.failed("Ann", "10.0.0.1", now=t)
    assert throttle.retry_after("ann", "10.0.0.1", now=3.0) == 57.0  # names fold case
    assert throttle.retry_after("ann", "10.0.0.2", now=3.0) == 0  # another address
    assert throttle.retry_after("bob", "10.0.0.1", now=3.0) == 0  # another account
    assert throttle.retry_after("ann", "10.0.0.1", now=60.5) == 0  # the oldest aged out


def test_success_clears_the_count() -> None:
    throttle = LoginThrottle(max_failures=2, window_s=60)
    throttle.failed("ann", "a", now=0)
    throttle.succeeded("ann", "a")
    throttle.failed("ann", "a", now=1)
    assert throttle.retry_after("ann", "a", now=1) == 0
