"""Points for answering surveys: a ledger of awards, redemptions and expiries, oldest points first.

Redemptions and expiries take from the oldest awards first, so what expires is what is left of
awards past their expiry after everything taken before.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

AWARD, REDEEM, EXPIRE = "award", "redeem", "expire"


@dataclass(frozen=True)
class LedgerEntry:
    kind: str
    points: int  # signed: awards add, redemptions and expiries take
    at: datetime
    expires_at: datetime | None = None


def balance(entries: list[LedgerEntry]) -> int:
    return sum(entry.points for entry in entries)


def points_to_expire(entries: list[LedgerEntry], now: datetime) -> int:
    """What is left at `now` of awards whose expiry has come."""
    left: deque[list] = deque()  # [points left, expires_at] per award, oldest first
    for entry in sorted(entries, key=lambda e: e.at):
        if entry.kind == AWARD:
            left.append([entry.points, entry.expires_at])
        else:
            _take_oldest(left, -entry.points)
    return sum(points for points, expires_at in left if expires_at is not None and expires_at <= now)


def _take_oldest(left: deque[list], amount: int) -> None:
    while amount > 0 and left:
        taken = min(amount, left[0][0])
        left[0][0] -= taken
        amount -= taken
        if left[0][0] == 0:
            left.popleft()


class NotEnoughPoints(ValueError):
    def __init__(self, balance: int, wanted: int) -> None:
        self.balance = balance
        self.wanted = wanted
        super().__init__(f"the balance is {balance} points; {wanted} cannot be redeemed")


def check_redeemable(entries: list[LedgerEntry], wanted: int) -> None:
    """A balance never goes below zero."""
    if wanted > balance(entries):
        raise NotEnoughPoints(balance(entries), wanted)
