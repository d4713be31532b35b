"""Purchase summary (scoring.md §1): frequency, recency, T and monetary value per customer.

lifetimes' convention with daily periods: several purchases on one calendar day are one period
with their amounts summed; frequency counts the periods after the first, recency and T run from
the first period, monetary is the mean of the repeat periods. A purchase of 0 is a purchase; a
refund (negative amount) reduces the amount of its day, and a day whose purchases are fully
refunded no longer counts.

Amounts are kept as whole ten-thousandths of the currency unit so that sums are exact: the
summary then comes out the same, to the last bit, for any order of the same events.
"""

from dataclasses import dataclass, field

import numpy as np

UNITS_PER_CURRENCY = 10_000


class EventAfterAsOf(ValueError):
    """An event is dated after the summary's "as of" day."""

    def __init__(self, *, event_index: int, day: float, as_of: float):
        super().__init__(f"event {event_index} on day {day:g} is after as-of day {np.floor(as_of):g}")
        self.event_index, self.day, self.as_of = event_index, day, as_of


@dataclass(frozen=True)
class PurchaseSummary:
    """One entry per customer with at least one counting purchase period, sorted by customer."""

    customers: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray
    first_day: np.ndarray
    last_day: np.ndarray
    total_spend: np.ndarray

    @property
    def purchase_periods(self) -> np.ndarray:
        return self.frequency + 1


def to_units(amount):
    return np.rint(np.asarray(amount, dtype=float) * UNITS_PER_CURRENCY)


def _monetary(repeat_units, frequency):
    repeat_units, frequency = np.asarray(repeat_units, dtype=float), np.asarray(frequency, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(frequency > 0, repeat_units / frequency, 0.0) / UNITS_PER_CURRENCY


def counts_as_purchase(net_units, purchases, refunds):
    """A period counts if it has a purchase and is not fully refunded."""
    return (purchases > 0) & ((refunds == 0) | (net_units > 0))


def summarise_purchases(customer, day, amount, *, as_of: float) -> PurchaseSummary:
    """The batch form, from arrays of events (customer key, time in days, amount)."""
    customer, day, amount = np.asarray(customer), np.asarray(day, dtype=float), np.asarray(amount, dtype=float)
    as_of_day = np.floor(as_of)
    period_day = np.floor(day)
    _refuse_events_after(period_day, as_of_day)
    customers, code = _customer_codes(customer)
    # A (customer, day) period as one integer: customer code × days in the log + day in the log.
    first_of_all = period_day.min() if day.size else 0.0
    span = int(as_of_day - first_of_all) + 1
    key = code * span + (period_day - first_of_all).astype(np.int64)
    period_keys, period_of_event = np.unique(key, return_inverse=True)
    net_units, purchases, refunds = (
        np.bincount(period_of_event.ravel(), weights=w, minlength=period_keys.size)
        for w in (to_units(amount), amount >= 0, amount < 0)
    )
    counting = counts_as_purchase(net_units, purchases, refunds)
    period_code = period_keys[counting] // span
    period_first_day = (period_keys[counting] % span) + first_of_all
    return _per_customer(customers, period_code, period_first_day, net_units[counting], as_of_day)


def _customer_codes(customer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct customers and each event's index among them; codes 0..n-1 are taken as they are."""
    if customer.dtype.kind in "iu" and customer.size and customer.min() >= 0 and customer.max() < customer.size:
        return np.arange(customer.max() + 1), customer.astype(np.int64)
    customers, code = np.unique(customer, return_inverse=True)
    return customers, code.ravel()


def _refuse_events_after(period_day, as_of_day):
    late = np.flatnonzero(period_day > as_of_day)
    if late.size:
        raise EventAfterAsOf(event_index=int(late[0]), day=float(period_day[late[0]]), as_of=as_of_day)


def _per_customer(customers, period_code, period_day, period_units, as_of_day) -> PurchaseSummary:
    """Counting periods arrive sorted by customer, then day."""
    starts = np.ones(period_code.size, dtype=bool)
    starts[1:] = period_code[1:] != period_code[:-1]
    first_index = np.flatnonzero(starts)
    buyers = period_code[first_index]
    periods = np.diff(np.append(first_index, period_code.size))
    last_index = first_index + periods - 1
    frequency = (periods - 1).astype(float)
    total_units = np.add.reduceat(period_units, first_index) if buyers.size else np.zeros(0)
    first_day, last_day = period_day[first_index], period_day[last_index]
    return PurchaseSummary(
        customers=customers[buyers],
        frequency=frequency,
        recency=last_day - first_day,
        T=as_of_day - first_day,
        monetary=_monetary(total_units - period_units[first_index], frequency),
        first_day=first_day,
        last_day=last_day,
        total_spend=total_units / UNITS_PER_CURRENCY,
    )


@dataclass
class _DayTally:
    net_units: int = 0
    purchases: int = 0
    refunds: int = 0


@dataclass(frozen=True)
class CustomerSummary:
    frequency: float
    recency: float
    T: float
    monetary: float
    first_day: float
    last_day: float
    total_spend: float


@dataclass
class CustomerPurchases:
    """The incremental form for one customer: purchases and refunds recorded one at a time, in any order."""

    _days: dict[float, _DayTally] = field(default_factory=dict)

    def record(self, *, day: float, amount: float) -> None:
        tally = self._days.setdefault(float(np.floor(day)), _DayTally())
        tally.net_units += int(to_units(amount))
        if amount < 0:
            tally.refunds += 1
        else:
            tally.purchases += 1

    def summary(self, *, as_of: float) -> CustomerSummary | None:
        """None while the customer has no counting purchase period."""
        as_of_day = np.floor(as_of)
        late = [day for day in self._days if day > as_of_day]
        if late:
            raise EventAfterAsOf(event_index=-1, day=min(late), as_of=as_of_day)
        counting = sorted(
            (day, tally.net_units) for day, tally in self._days.items()
            if counts_as_purchase(tally.net_units, tally.purchases, tally.refunds)
        )
        if not counting:
            return None
        (first_day, first_units), (last_day, _) = counting[0], counting[-1]
        frequency = float(len(counting) - 1)
        total_units = sum(units for _, units in counting)
        return CustomerSummary(
            frequency=frequency,
            recency=last_day - first_day,
            T=float(as_of_day - first_day),
            monetary=float(_monetary(float(total_units - first_units), frequency)),
            first_day=first_day,
            last_day=last_day,
            total_spend=total_units / UNITS_PER_CURRENCY,
        )
