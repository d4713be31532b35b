"""Gamma-Gamma model of order value: Fader, Hardie & Lee (2005), "RFM and CLV", and note 025.

A customer's order values are Gamma(p, nu) with nu ~ Gamma(q, v) across customers (v is the
papers' gamma). Fitted on the customers with a repeat purchase and a positive mean order value.
"""

import numpy as np
from scipy.special import digamma, gammaln

from services.scoring.btyd.fitting import (
    DEFAULT_MIN_CUSTOMERS,
    CompressedPopulation,
    FitResult,
    compress,
    maximise_likelihood,
    dot,
    require_population,
)

NAME = "gamma_gamma"
PARAM_NAMES = ("p", "q", "v")


def objective_for(population: CompressedPopulation):
    """`population.x` is the repeat frequency and `population.t_x` the mean repeat order value.

    Terms in x alone are computed once per distinct x; per customer only log(x m + v) remains.
    """
    x, m, counts = population.x, population.t_x, population.counts.astype(float)
    distinct_x, x_of_row = np.unique(x, return_inverse=True)
    customers_per_x = np.bincount(x_of_row.ravel(), weights=counts)
    spend = x * m
    total = counts.sum()
    # Sums that do not depend on the parameters.
    x_log_m, log_m, x_log_x = dot(x * np.log(m), counts), dot(np.log(m), counts), dot(x * np.log(x), counts)
    weighted_x = counts * x

    def mean_negative_log_likelihood(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = np.exp(log_params)
        px = p * distinct_x
        log_total = np.log(spend + v)
        x_log_total, sum_log_total = dot(log_total, weighted_x), dot(log_total, counts)
        log_likelihood = (
            dot(gammaln(px + q) - gammaln(px), customers_per_x) + total * (q * np.log(v) - gammaln(q))
            + p * (x_log_m + x_log_x) - log_m - p * x_log_total - q * sum_log_total
        )
        d_p = dot(distinct_x * (digamma(px + q) - digamma(px)), customers_per_x) + x_log_m + x_log_x - x_log_total
        d_q = dot(digamma(px + q) - digamma(q), customers_per_x) + total * np.log(v) - sum_log_total
        d_v = total * q / v - dot(1 / (spend + v), p * weighted_x + q * counts)
        gradient = np.array([d_p * p, d_q * q, d_v * v])
        return -float(log_likelihood) / total, -gradient / total

    return mean_negative_log_likelihood


def fit(x, monetary, *, penalizer: float = 0.0, min_customers: int = DEFAULT_MIN_CUSTOMERS) -> FitResult:
    """Fit on the customers with x > 0 and monetary > 0; the others carry no order-value information."""
    x, monetary = np.asarray(x, dtype=float), np.asarray(monetary, dtype=float)
    informative = (x > 0) & (monetary > 0)
    require_population(NAME, int(informative.sum()), min_customers)
    (cx, cm), counts, rows = compress(x[informative], monetary[informative])
    population = CompressedPopulation(cx, cm, cm, counts, rows)
    return maximise_likelihood(
        model=NAME,
        param_names=PARAM_NAMES,
        objective=objective_for(population),
        initial_log_params=np.full(3, 0.1),
        n_customers=int(informative.sum()),
        penalizer=penalizer,
    )


def expected_order_value(params, x, monetary) -> np.ndarray:
    """E[M | x, m] = (q - 1)/(p x + q - 1) · population mean + p x/(p x + q - 1) · m; the mean for x = 0."""
    p, q, v = params
    x, monetary = np.asarray(x, dtype=float), np.asarray(monetary, dtype=float)
    individual_weight = p * x / (p * x + q - 1)
    population_mean = v * p / (q - 1)
    return (1 - individual_weight) * population_mean + individual_weight * monetary
