"""Model checking for analysts: a calibration/holdout split of a transaction log, the way
lifetimes' `calibration_and_holdout_data` makes it, and predicted vs actual holdout purchases."""

from dataclasses import dataclass

import numpy as np

from services.scoring.btyd.purchase_models import PurchaseModel
from services.scoring.scores.summary import summarise_purchases

# lifetimes' plot shows the first seven calibration frequencies (0 to 6 repeat periods).
FREQUENCY_GROUPS = 7


@dataclass(frozen=True)
class CalibrationHoldout:
    """Customers who bought in the calibration period, their calibration summary and holdout count."""

    customers: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray
    holdout_frequency: np.ndarray
    holdout_days: float


def split_calibration_holdout(customer, day, amount, *, calibration_end: float, observation_end: float) -> CalibrationHoldout:
    """Calibration: periods up to the calibration end day; holdout: the days after, to the observation end.

    A holdout count is of purchase periods, as lifetimes counts them, with refunds applied.
    """
    customer, day, amount = np.asarray(customer), np.asarray(day, dtype=float), np.asarray(amount, dtype=float)
    last_calibration_day, last_day = np.floor(calibration_end), np.floor(observation_end)
    in_calibration = np.floor(day) <= last_calibration_day
    calibration = summarise_purchases(customer[in_calibration], day[in_calibration], amount[in_calibration], as_of=calibration_end)
    in_holdout = ~in_calibration & (np.floor(day) <= last_day)
    holdout = summarise_purchases(customer[in_holdout], day[in_holdout], amount[in_holdout], as_of=observation_end)
    return CalibrationHoldout(
        customers=calibration.customers,
        frequency=calibration.frequency,
        recency=calibration.recency,
        T=calibration.T,
        monetary=calibration.monetary,
        holdout_frequency=_periods_of(calibration.customers, holdout.customers, holdout.purchase_periods),
        holdout_days=float(last_day - last_calibration_day),
    )


def _periods_of(customers, holdout_customers, holdout_periods) -> np.ndarray:
    """Holdout purchase periods per calibration customer (0 for those who did not come back)."""
    counts = np.zeros(customers.size)
    if holdout_customers.size:
        position = np.clip(np.searchsorted(holdout_customers, customers), 0, holdout_customers.size - 1)
        found = holdout_customers[position] == customers
        counts[found] = holdout_periods[position[found]]
    return counts


@dataclass(frozen=True)
class CalibrationTable:
    frequency: np.ndarray
    n_customers: np.ndarray
    actual: np.ndarray
    predicted: np.ndarray

    def as_rows(self) -> list[dict]:
        return [
            {"frequency_cal": int(f), "n_customers": int(n), "actual_holdout": float(a), "predicted_holdout": float(p)}
            for f, n, a, p in zip(self.frequency, self.n_customers, self.actual, self.predicted)
        ]


def calibration_table(model: PurchaseModel, params, split: CalibrationHoldout, groups: int = FREQUENCY_GROUPS) -> CalibrationTable:
    """Mean predicted and actual holdout purchases by calibration frequency."""
    predicted = model.expected_purchases(params, split.holdout_days, split.frequency, split.recency, split.T)
    frequency, group, n_customers = np.unique(split.frequency, return_inverse=True, return_counts=True)
    group = group.ravel()
    shown = slice(0, groups)

    def mean_by_group(values):
        return (np.bincount(group, weights=values) / n_customers)[shown]

    return CalibrationTable(
        frequency=frequency[shown],
        n_customers=n_customers[shown],
        actual=mean_by_group(split.holdout_frequency),
        predicted=mean_by_group(predicted),
    )
