"""p_alive, expected purchases, expected order value and CLV with its interval, for many customers at once.

Every purchase model gives E[purchases] as p_alive × the if-alive part, and the if-alive part
(the costly one: a hypergeometric function at every month end, for every parameter draw of the
interval) depends on the repeat count x and the age T alone. With daily periods few (x, T) pairs
exist even among a million customers, so the if-alive parts are computed once per pair and kept
for the calibration's life (`IfAliveParts`); per customer only p_alive and the order value remain.
"""

import math
from dataclasses import dataclass

import numpy as np

from services.scoring.btyd import gamma_gamma
from services.scoring.btyd.clv import DAYS_PER_MONTH, customer_lifetime_value
from services.scoring.btyd.purchase_models import PurchaseModel
from services.scoring.scores.customer_scores import HORIZONS_DAYS, CustomerScores

INTERVAL_TAIL = 0.05  # a 90 % interval
MAX_KEPT_PAIRS = 50_000  # about 46 MB of if-alive parts with 100 draws; beyond it they start over


@dataclass(frozen=True)
class Predictions:
    p_alive: float
    expected_purchases: dict[int, float]
    expected_order_value: float
    clv: float
    clv_interval: tuple[float, float] | None


@dataclass(frozen=True)
class PredictionColumns(CustomerScores):
    clv_low: np.ndarray | None = None
    clv_high: np.ndarray | None = None

    def all(self) -> list[Predictions | None]:
        """One per customer, None where p_alive is NaN (no purchase)."""
        horizons = list(self.expected_purchases)
        expected = zip(*(self.expected_purchases[h].tolist() for h in horizons))
        intervals = zip(self.clv_low.tolist(), self.clv_high.tolist()) if self.clv_low is not None else iter(lambda: None, 0)
        return [None if math.isnan(p_alive) else Predictions(p_alive, dict(zip(horizons, purchases)), order_value, clv, interval)
                for p_alive, purchases, order_value, clv, interval in zip(
                    self.p_alive.tolist(), expected, self.expected_order_value.tolist(), self.clv.tolist(), intervals)]


class IfAliveParts:
    """Per (x, T) pair: for the fitted parameters (row 0 of the sets) the if-alive expected purchases
    at each horizon and at each month end, and for each parameter draw the discounted sum of the
    monthly if-alive purchases, which times p_alive and the order value is that draw's CLV.
    Filled as pairs are first asked for."""

    def __init__(self, model: PurchaseModel, param_sets: np.ndarray, *, months: int, monthly_discount: float):
        self.model, self.param_sets = model, np.atleast_2d(param_sets)
        self.month_ends = np.arange(months + 1, dtype=float)[:, None] * DAYS_PER_MONTH
        self.discount = (1 + monthly_discount) ** np.arange(1, months + 1, dtype=float)
        self._rows: dict[tuple[float, float], int] = {}
        self._horizons = np.zeros((0, len(HORIZONS_DAYS) + months + 1))
        self._discounted = np.zeros((0, len(self.param_sets) - 1))

    def of(self, x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n × (3 horizons, then the month ends) for the fitted parameters, n × draws discounted sums)."""
        pairs, inverse = np.unique(np.column_stack([x, T]), axis=0, return_inverse=True)
        keys = list(map(tuple, pairs.tolist()))
        missing = [i for i, key in enumerate(keys) if key not in self._rows]
        if len(self._rows) + len(missing) > MAX_KEPT_PAIRS:
            self._forget()
            missing = list(range(len(keys)))
        if missing:
            self._add([keys[i] for i in missing], pairs[missing])
        rows = np.fromiter((self._rows[key] for key in keys), dtype=np.int64, count=len(keys))[inverse.ravel()]
        return self._horizons[rows], self._discounted[rows]

    def _forget(self) -> None:
        self._rows.clear()
        self._horizons = self._horizons[:0]
        self._discounted = self._discounted[:0]

    def _add(self, keys: list, pairs: np.ndarray) -> None:
        x, T = pairs[:, 0][None, :], pairs[:, 1][None, :]
        if_alive = self.model.expected_purchases_if_alive
        times = np.concatenate([np.array(HORIZONS_DAYS, dtype=float)[:, None], self.month_ends])
        horizons = if_alive(self.param_sets[0], times, x, T).T
        discounted = np.zeros((len(keys), len(self.param_sets) - 1))
        for k, params in enumerate(self.param_sets[1:]):
            discounted[:, k] = (np.diff(if_alive(params, self.month_ends, x, T), axis=0) / self.discount[:, None]).sum(axis=0)
        start = len(self._rows)
        self._rows.update((key, start + i) for i, key in enumerate(keys))
        self._horizons = np.concatenate([self._horizons, horizons])
        self._discounted = np.concatenate([self._discounted, discounted])


def predict_columns(calibration, x, t_x, T, m) -> PredictionColumns:
    """Vectorised over the customers; the interval takes the parameter draws (row 0 is the fit)."""
    x, t_x, T, m = (np.asarray(v, dtype=float) for v in (x, t_x, T, m))
    fitted, discounted = calibration.if_alive_parts.of(x, T)
    model, purchase_sets, value_sets = calibration.model, calibration.purchase_sets, calibration.order_value_sets
    p_alive = model.p_alive(purchase_sets[0], x, t_x, T)
    order_value = gamma_gamma.expected_order_value(value_sets[0], x, m)
    month_ends = np.ascontiguousarray(fitted[:, len(HORIZONS_DAYS):].T)  # summed in the same order as before
    # The fitted CLV exactly as customer_lifetime_value computes it, month by month (a tie with the
    # population's grid of CLVs must not move the percentile by a rounding).
    clv = customer_lifetime_value(lambda *_: p_alive * month_ends, x, t_x, T, order_value,
                                  months=calibration.months, monthly_discount=calibration.monthly_discount)
    low = high = None
    if len(purchase_sets) > 1:
        clv_draws = np.stack([gamma_gamma.expected_order_value(value, x, m) * model.p_alive(purchase, x, t_x, T) * discounted[:, k]
                              for k, (purchase, value) in enumerate(zip(purchase_sets[1:], value_sets[1:]))])
        low, high = np.quantile(clv_draws, [INTERVAL_TAIL, 1 - INTERVAL_TAIL], axis=0)
    expected = {h: p_alive * fitted[:, j] for j, h in enumerate(HORIZONS_DAYS)}
    return PredictionColumns(p_alive, expected, order_value, clv, low, high)
