"""When a failed try is tried again: exponential back-off with jitter, capped."""

import random


def backoff_seconds(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Attempt 1 failed → wait up to base; then up to 2·base, 4·base … never above cap. Jitter
    spreads a crowd of failures so that a receiver coming back is not hit by all of them at once;
    half of the bound is kept ("equal jitter") so that the back-off still grows."""
    bound = min(cap, base * 2 ** (attempt - 1))
    return bound / 2 + (rng or random).uniform(0, bound / 2)
