"""The points ledger: balances, oldest points taken first, and what expires."""

from datetime import datetime, timedelta, timezone

import pytest

from services.feedback.surveys.points import AWARD, EXPIRE, REDEEM, LedgerEntry, NotEnoughPoints, balance, check_redeemable, points_to_expire

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
YEAR = timedelta(days=365)


def award(points: int, days: int) -> LedgerEntry:
    return LedgerEntry(AWARD, points, T0 + timedelta(days=days), T0 + timedelta(days=days) + YEAR)


def test_redemptions_take_the_oldest_points_so_only_what_is_left_of_them_expires():
    entries = [award(100, 0), award(50, 10), LedgerEntry(REDEEM, -120, T0 + timedelta(days=20))]
    assert balance(entries) == 30
    assert points_to_expire(entries, T0 + YEAR) == 0  # the first award was used up
    assert points_to_expire(entries, T0 + YEAR + timedelta(days=10)) == 30


def test_booked_expiries_are_not_expired_twice():
    entries = [award(100, 0), LedgerEntry(EXPIRE, -100, T0 + YEAR), award(10, 400)]
    assert (balance(entries), points_to_expire(entries, T0 + YEAR + timedelta(days=1))) == (10, 0)


def test_a_balance_never_goes_below_zero():
    with pytest.raises(NotEnoughPoints, match="balance is 30 points; 31 cannot"):
        check_redeemable([award(30, 0)], 31)
    check_redeemable([award(30, 0)], 30)
