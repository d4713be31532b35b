"""The log-likelihood BG/NBD and MBG/NBD share, with its gradient, for fitting at scale.

Per customer, with D = log a - log(b + x - k) + (r + x)(log(alpha + T) - log(alpha + t_x)),
    LL = log B(a, b + x + k) - log B(a, b) + log Γ(r + x) - log Γ(r) + r log alpha
         - (r + x) log(alpha + T) + log(1 + e^D)
where k = 1 for MBG/NBD (a customer may drop out at the first purchase too) and k = 0 for
BG/NBD, whose customers without a repeat purchase cannot have dropped out (their e^D is 0).

Everything that depends on x alone, T alone or t_x alone is computed once per distinct value
and summed with customer counts; only the terms in e^D are evaluated per distinct (x, t_x, T).
"""

from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.special import digamma, expit, gammaln

from services.scoring.btyd.fitting import CompressedPopulation, FitResult, dot, fit_purchase_model

PARAM_NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class _Distinct:
    values: np.ndarray
    of_row: np.ndarray


def _distinct(values: np.ndarray) -> _Distinct:
    unique, of_row = np.unique(values, return_inverse=True)
    return _Distinct(unique, of_row.ravel())


def _softplus(z):
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def objective_for(population: CompressedPopulation, *, first_purchase_dropout: bool):
    k = 1.0 if first_purchase_dropout else 0.0
    counts = population.counts.astype(float)
    rows = counts if first_purchase_dropout else np.where(population.x > 0, counts, 0.0)
    can_drop = rows > 0
    # Only rows whose customers can have dropped out carry e^D.
    x, n = population.x[can_drop], counts[can_drop]
    by_x, by_T, by_t = (_distinct(v) for v in (x, population.T[can_drop], population.t_x[can_drop]))
    all_x, all_T = _distinct(population.x), _distinct(population.T)
    customers_per_x = np.bincount(all_x.of_row, weights=counts)
    customers_per_T = np.bincount(all_T.of_row, weights=counts)
    purchases_per_T = np.bincount(all_T.of_row, weights=counts * population.x)
    total = counts.sum()

    def mean_negative_log_likelihood(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(log_params)
        X = all_x.values
        per_x = (
            gammaln(a + b) - gammaln(b) + gammaln(b + X + k) - gammaln(a + b + X + k)
            + gammaln(r + X) - gammaln(r) + r * np.log(alpha)
        )
        log_age = np.log(alpha + all_T.values)
        inverse_age = 1 / (alpha + all_T.values)
        # Terms without e^D: sums over distinct x and distinct T.
        log_likelihood = dot(per_x, customers_per_x) - dot(r * customers_per_T + purchases_per_T, log_age)
        d_r = dot(digamma(r + X) - digamma(r) + np.log(alpha), customers_per_x) - dot(customers_per_T, log_age)
        d_alpha = r / alpha * total - dot(r * customers_per_T + purchases_per_T, inverse_age)
        d_a = dot(digamma(a + b) - digamma(a + b + X + k), customers_per_x)
        d_b = dot(digamma(a + b) + digamma(b + X + k) - digamma(b) - digamma(a + b + X + k), customers_per_x)
        # Terms in e^D, per row that can have dropped out.
        log_T = np.log(alpha + by_T.values)[by_T.of_row]
        log_t = np.log(alpha + by_t.values)[by_t.of_row]
        aging = log_T - log_t
        odds_base = np.log(a) - np.log(b + by_x.values - 1 + k)
        D = odds_base[by_x.of_row] + (r + x) * aging
        share = n * expit(D)
        log_likelihood += dot(n, _softplus(D))
        d_r += dot(share, aging)
        rate_change = (1 / (alpha + by_T.values))[by_T.of_row] - (1 / (alpha + by_t.values))[by_t.of_row]
        d_alpha += dot(share * (r + x), rate_change)
        d_a += share.sum() / a
        d_b -= dot(share, (1 / (b + by_x.values - 1 + k))[by_x.of_row])
        gradient = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        return -float(log_likelihood) / total, -gradient / total

    return mean_negative_log_likelihood


def fit(model: str, x, t_x, T, *, first_purchase_dropout: bool, penalizer: float, min_customers: int) -> FitResult:
    return fit_purchase_model(
        model=model,
        param_names=PARAM_NAMES,
        objective_for=partial(objective_for, first_purchase_dropout=first_purchase_dropout),
        time_param_indices=(1,),
        x=x, t_x=t_x, T=T, penalizer=penalizer, min_customers=min_customers,
    )
