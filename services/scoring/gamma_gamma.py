"""Gamma-Gamma model of order value: Fader, Hardie & Lee (2005), "RFM and CLV", and note 025.

A customer's order values are Gamma(p, nu) with nu ~ Gamma(q, v) across customers (v is the
papers' gamma). Fitted on the customers with a repeat purchase and a positive mean order value.
"""

import numpy as np
from scipy.special import digamma, gammaln

from services.scoring.fitting import (
    DEFAULT_MIN_CUSTOMERS,
    CompressedPopulation,
    FitResult,
    compress,
    maximise_likelihood,
    require_population,
    weighted_mean,
)

NAME = "gamma_gamma"
PARAM_NAMES = ("p", "q", "v")


def objective_for(population: CompressedPopulation):
    """`population.x` is the repeat frequency and `population.t_x` the mean repeat order value."""
    x, m = population.x, population.t_x

    def mean_negative_log_likelihood(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, v = np.exp(log_params)
        log_total = np.log(x * m + v)
        log_likelihood = (
            gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
            + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * log_total
        )
        d_p = x * (digamma(p * x + q) - digamma(p * x) + np.log(m) + np.log(x) - log_total)
        d_q = digamma(p * x + q) - digamma(q) + np.log(v) - log_total
        d_v = q / v - (p * x + q) / (x * m + v)
        gradient = np.stack([d_p * p, d_q * q, d_v * v])
        return -float(weighted_mean(population, log_likelihood)), -weighted_mean(population, gradient)

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
