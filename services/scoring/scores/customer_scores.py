"""Per-customer predictions for a whole population, each computed once per distinct history.

Customers share (x, t_x, T) heavily when times are whole days, so the special functions run on
the distinct rows and the results are spread back to customers by index.
"""

from dataclasses import dataclass

import numpy as np

from services.scoring.btyd import gamma_gamma
from services.scoring.btyd.clv import DEFAULT_MONTHLY_DISCOUNT, DEFAULT_MONTHS, customer_lifetime_value
from services.scoring.btyd.fitting import CompressedPopulation, FitResult, compress, compress_population, draw_params
from services.scoring.btyd.purchase_models import PurchaseModel

HORIZONS_DAYS = (30, 90, 365)
INTERVAL_LEVEL = 0.9
INTERVAL_DRAWS = 200


@dataclass(frozen=True)
class CustomerScores:
    p_alive: np.ndarray
    expected_purchases: dict[int, np.ndarray]
    expected_order_value: np.ndarray
    clv: np.ndarray


@dataclass(frozen=True)
class ScoreIntervals:
    """Lower and upper bounds of the central INTERVAL_LEVEL interval, per customer."""

    p_alive: tuple[np.ndarray, np.ndarray]
    expected_purchases: dict[int, tuple[np.ndarray, np.ndarray]]
    clv: tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class HistoryScores:
    """Per distinct (x, t_x, T) of a compressed population."""

    p_alive: np.ndarray
    expected_purchases: dict[int, np.ndarray]
    # Purchases over the CLV horizon, each discounted to today: CLV per unit of order value.
    discounted_purchases: np.ndarray


def score_histories(
    model: PurchaseModel,
    params,
    population: CompressedPopulation,
    *,
    horizons=HORIZONS_DAYS,
    months: int = DEFAULT_MONTHS,
    monthly_discount: float = DEFAULT_MONTHLY_DISCOUNT,
) -> HistoryScores:
    """Expected purchases are p_alive times an if-alive part that needs only (x, T): the
    special functions run once per distinct (x, T), p_alive once per distinct (x, t_x, T)."""
    (pair_x, pair_T), _, pair = compress(population.x, population.T)
    alive = model.p_alive(params, population.x, population.t_x, population.T)

    def if_alive(t, x, t_x, T):
        return model.expected_purchases_if_alive(params, t, x, T)

    discounted_if_alive = customer_lifetime_value(if_alive, pair_x, np.zeros_like(pair_x), pair_T, 1.0,
                                                  months=months, monthly_discount=monthly_discount)
    return HistoryScores(
        p_alive=alive,
        expected_purchases={t: alive * if_alive(float(t), pair_x, None, pair_T)[pair] for t in horizons},
        discounted_purchases=alive * discounted_if_alive[pair],
    )


def score_customers(
    model: PurchaseModel,
    params,
    order_value_params,
    *,
    x,
    t_x,
    T,
    monetary,
    horizons=HORIZONS_DAYS,
    months: int = DEFAULT_MONTHS,
    monthly_discount: float = DEFAULT_MONTHLY_DISCOUNT,
) -> CustomerScores:
    population = compress_population(x, t_x, T)
    rows = population.row_of_customer
    histories = score_histories(model, params, population, horizons=horizons, months=months,
                                monthly_discount=monthly_discount)
    order_value = gamma_gamma.expected_order_value(order_value_params, x, monetary)
    return CustomerScores(
        p_alive=histories.p_alive[rows],
        expected_purchases={t: histories.expected_purchases[t][rows] for t in horizons},
        expected_order_value=order_value,
        clv=order_value * histories.discounted_purchases[rows],
    )


def score_intervals(
    model: PurchaseModel,
    fit: FitResult,
    order_value_fit: FitResult,
    *,
    x,
    t_x,
    T,
    monetary,
    horizons=HORIZONS_DAYS,
    draws: int = INTERVAL_DRAWS,
    seed: int = 0,
) -> ScoreIntervals:
    """Intervals from draws of both fits' parameters from their asymptotic distributions."""
    purchase_draws = draw_params(fit, draws, seed)
    value_draws = draw_params(order_value_fit, draws, seed + 1)
    samples = [
        score_customers(model, p, v, x=x, t_x=t_x, T=T, monetary=monetary, horizons=horizons)
        for p, v in zip(purchase_draws, value_draws)
    ]
    return ScoreIntervals(
        p_alive=_bounds([s.p_alive for s in samples]),
        expected_purchases={t: _bounds([s.expected_purchases[t] for s in samples]) for t in horizons},
        clv=_bounds([s.clv for s in samples]),
    )


def _bounds(samples) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - INTERVAL_LEVEL) / 2
    low, high = np.quantile(np.stack(samples), [tail, 1 - tail], axis=0)
    return low, high
