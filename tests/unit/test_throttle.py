"""The rate limiter's windows and the password rules, with a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from pigeon.actions.accounts import check_password_strength
from pigeon.actions.throttle import MemoryLimiter, take
from pigeon.common.errors import RateLimited, WeakPassword


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_window_counts_attempts_then_ends() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(clock=clock)
    for _ in range(3):
        await take(limiter, "login:ann", 3, 60, "logins")
    clock.now = 3.0
    with pytest.raises(RateLimited) as caught:
        await take(limiter, "login:ann", 3, 60, "logins")
    assert caught.value.retry_after == 57
    await take(limiter, "login:bob", 3, 60, "logins")  # another key
    clock.now = 60.5
    await take(limiter, "login:ann", 3, 60, "logins")  # the window ended


async def test_refunds_give_attempts_back() -> None:
    limiter = MemoryLimiter(clock=FakeClock())
    await take(limiter, "k", 1, 60, "tries")
    await limiter.refund("k")
    await take(limiter, "k", 1, 60, "tries")
    with pytest.raises(RateLimited):
        await take(limiter, "k", 1, 60, "tries")


async def test_concurrent_attempts_are_counted_one_by_one() -> None:
    limiter = MemoryLimiter()

    async def attempt() -> bool:
        try:
            await take(limiter, "k", 10, 60, "tries")
        except RateLimited:
            return False
        await asyncio.sleep(0.01)  # the guarded work
        return True

    results = await asyncio.gather(*(attempt() for _ in range(40)))
    assert sum(results) == 10


@pytest.mark.parametrize(
    "password", ["Password1", "qwerty123", "Passw0rd", "password1", "Passw0rd!", "annabelle1"]
)
def test_common_and_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword) as caught:
        check_password_strength(password, "annabelle", 8)
    assert "easy to guess" in caught.value.message


def test_strong_passwords_pass_and_short_ones_say_so() -> None:
    check_password_strength("Tawny-Otter-Lamp-42", "ann", 8)
    check_password_strength("x" * 256, "ann", 8, min_score=0)
    with pytest.raises(WeakPassword, match="at least 8 characters"):
        check_password_strength("Zq9!", "ann", 8)
