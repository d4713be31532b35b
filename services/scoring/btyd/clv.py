"""Customer lifetime value, discounted as lifetimes' `customer_lifetime_value` computes it."""

from collections.abc import Callable

import numpy as np

DAYS_PER_MONTH = 30  # lifetimes' factor for daily data
DEFAULT_MONTHS = 12
DEFAULT_MONTHLY_DISCOUNT = 0.01

# (t, x, t_x, T) -> expected purchases in (T, T + t]
ExpectedPurchases = Callable[..., np.ndarray]


def customer_lifetime_value(
    expected_purchases: ExpectedPurchases,
    x,
    t_x,
    T,
    order_value,
    *,
    months: int = DEFAULT_MONTHS,
    monthly_discount: float = DEFAULT_MONTHLY_DISCOUNT,
    days_per_month: float = DAYS_PER_MONTH,
) -> np.ndarray:
    """Sum over each month of expected order value × expected purchases that month, discounted.

    Times are in days; month i's purchases are discounted by (1 + monthly_discount)^i.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    month_ends = np.arange(months + 1, dtype=float)[:, None] * days_per_month
    cumulative = expected_purchases(month_ends, x[None, :], t_x[None, :], T[None, :])
    per_month = np.diff(cumulative, axis=0)
    discount = (1 + monthly_discount) ** np.arange(1, months + 1, dtype=float)
    return np.asarray(order_value, dtype=float) * (per_month / discount[:, None]).sum(axis=0)
