"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987), as Fader & Hardie's note 009 derives it.

Purchases are Poisson with rate lambda ~ Gamma(r, alpha); lifetimes are exponential with rate
mu ~ Gamma(s, beta). Parameters are (r, alpha, s, beta).

The likelihood is written with the integral over the unobserved time of death,
    I = ∫_{t_x}^{T} (alpha + tau)^-(r+x) (beta + tau)^-(s+1) d tau,
instead of the usual difference of two 2F1 values, which cancels catastrophically for frequent
customers. In y = log(max(alpha, beta) + tau) the integrand decays at least like exp(-(r+s+x) y)
and is smooth, so composite Gauss-Legendre quadrature, over the stretch where it has not yet
fallen below 1e-17 of its start, gives I and its parameter derivatives taken under the
integral, to near machine precision.
"""

import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma, expit, gammaln

from services.scoring.btyd.fitting import (
    DEFAULT_MIN_CUSTOMERS,
    CompressedPopulation,
    FitResult,
    fit_purchase_model,
    weighted_mean,
)
from services.scoring.btyd.special import as_float_arrays, gamma_poisson_log_pmf

NAME = "pareto"
PARAM_NAMES = ("r", "alpha", "s", "beta")
# Where the integrand has fallen by exp(-40) the rest no longer shows in a double.
NEGLIGIBLE_DECAY = 40.0
# Panels halve in width towards t_x, where the integrand falls fastest when alpha and beta differ
# much; 16 Gauss-Legendre nodes each.
PANEL_EDGES = np.concatenate([[0.0], 2.0 ** -np.arange(9, -1, -1)])
_nodes, _weights = np.polynomial.legendre.leggauss(16)
_widths = np.diff(PANEL_EDGES)[:, None]
QUADRATURE_POSITIONS = (PANEL_EDGES[:-1, None] + _widths * (_nodes + 1) / 2).ravel()
QUADRATURE_WEIGHTS = (_widths * _weights / 2).ravel()


def _death_integral(params, x, t_x, T):
    """log I, and the derivatives of log I in (r, alpha, s, beta), per customer."""
    r, alpha, s, beta = params
    ceiling = max(alpha, beta)
    start = np.log(ceiling + t_x)
    decay = r + s + x
    width = np.minimum(np.log(ceiling + T) - start, NEGLIGIBLE_DECAY / decay)[:, None]
    tau = t_x[:, None] + (ceiling + t_x)[:, None] * np.expm1(width * QUADRATURE_POSITIONS)
    rx = (r + x)[:, None]

    def log_integrand(tau, y):
        return -rx * np.log(alpha + tau) - (s + 1) * np.log(beta + tau) + y

    at_start = log_integrand(t_x[:, None], start[:, None])
    y = start[:, None] + width * QUADRATURE_POSITIONS
    weights = np.exp(log_integrand(tau, y) - at_start) * QUADRATURE_WEIGHTS * width
    total = weights.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_integral = at_start[:, 0] + np.log(total)
    safe_total = np.where(total > 0, total, 1.0)

    def mean_of(h):
        return (weights * h).sum(axis=1) / safe_total

    derivatives = np.stack([
        mean_of(-np.log(alpha + tau)),
        mean_of(-rx / (alpha + tau)),
        mean_of(-np.log(beta + tau)),
        mean_of(-(s + 1) / (beta + tau)),
    ])
    return log_integral, derivatives


def _log_alive_term(params, x, T):
    """log[(alpha + T)^-(r+x) (beta + T)^-s]: the customer has not died by T."""
    r, alpha, s, beta = params
    return -(r + x) * np.log(alpha + T) - s * np.log(beta + T)


def _share_alive(params, x, t_x, T):
    """P(alive | x, t_x, T) and the pieces the likelihood reuses."""
    s = params[2]
    log_alive = _log_alive_term(params, x, T)
    log_integral, integral_derivatives = _death_integral(params, x, t_x, T)
    log_dead = np.log(s) + log_integral
    return expit(log_alive - log_dead), log_alive, log_dead, integral_derivatives


def objective_for(population: CompressedPopulation):
    x, t_x, T = population.x, population.t_x, population.T

    def mean_negative_log_likelihood(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        r, alpha, s, beta = params
        share_alive, log_alive, log_dead, d_log_integral = _share_alive(params, x, t_x, T)
        share_dead = 1 - share_alive
        log_likelihood = (
            gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(log_alive, log_dead)
        )
        d_alive = np.stack([-np.log(alpha + T), -(r + x) / (alpha + T), -np.log(beta + T), -s / (beta + T)])
        d_dead = d_log_integral + np.array([0, 0, 1 / s, 0])[:, None]
        d_prior = np.stack([
            digamma(r + x) - digamma(r) + np.log(alpha),
            np.full_like(x, r / alpha),
            np.full_like(x, np.log(beta)),
            np.full_like(x, s / beta),
        ])
        gradient = (d_prior + share_alive * d_alive + share_dead * d_dead) * params[:, None]
        return -float(weighted_mean(population, log_likelihood)), -weighted_mean(population, gradient)

    return mean_negative_log_likelihood


def fit(x, t_x, T, *, penalizer: float = 0.0, min_customers: int = DEFAULT_MIN_CUSTOMERS) -> FitResult:
    return fit_purchase_model(
        model=NAME, param_names=PARAM_NAMES, objective_for=objective_for, time_param_indices=(1, 3),
        x=x, t_x=t_x, T=T, penalizer=penalizer, min_customers=min_customers,
    )


def p_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) — note 009, eq. (36)-(37)."""
    x, t_x, T = as_float_arrays(x, t_x, T)
    return _share_alive(params, x.ravel(), t_x.ravel(), T.ravel())[0].reshape(x.shape)


def expected_purchases(params, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] — note 009, eq. (41): p_alive times the if-alive part."""
    return p_alive(params, x, t_x, T) * expected_purchases_if_alive(params, t, x, T)


def expected_purchases_if_alive(params, t, x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | alive at T, x]; it does not depend on t_x."""
    r, alpha, s, beta = params
    t, x, T = as_float_arrays(t, x, T)
    rate_while_alive = (r + x) * (beta + T) / ((alpha + T) * (s - 1))
    return rate_while_alive * -np.expm1((s - 1) * np.log((beta + T) / (beta + T + t)))


def conditional_probability_of_purchases(params, n, t, x, t_x, T) -> np.ndarray:
    """P(n purchases in (T, T + t] | x, t_x, T) — what note 028 gives in closed form.

    A customer dead by T buys nothing. One alive at T has rate ~ Gamma(r + x, alpha + T) and
    remaining lifetime rate ~ Gamma(s, beta + T); either they outlive t (negative binomial in t)
    or they die at some y < t (negative binomial in y): that integral is taken by quadrature in
    u = y / (alpha + T + y), where the negative binomial is u^n (1 - u)^(r + x), smooth.
    """
    r, alpha, s, beta = params
    n, t, x, t_x, T = (v.ravel() for v in as_float_arrays(n, t, x, t_x, T))
    shape = np.broadcast(*as_float_arrays(n, t, x, t_x, T)).shape
    alive = p_alive(params, x, t_x, T)
    rate_shape, rate_scale, life_scale = r + x, alpha + T, beta + T
    outlives = np.exp(gamma_poisson_log_pmf(n, rate_shape, rate_scale, t) + s * np.log(life_scale / (life_scale + t)))
    reach = (t / (rate_scale + t))[:, None]
    u = reach * QUADRATURE_POSITIONS
    y = rate_scale[:, None] * u / (1 - u)
    log_density = (
        np.log(s) + s * np.log(life_scale)[:, None] - (s + 1) * np.log(life_scale[:, None] + y)
        + (gammaln(rate_shape + n) - gammaln(rate_shape) - gammaln(n + 1))[:, None]
        + n[:, None] * np.log(u) + rate_shape[:, None] * np.log1p(-u)
        + np.log(rate_scale)[:, None] - 2 * np.log1p(-u)
    )
    dies_first = (np.exp(log_density) * QUADRATURE_WEIGHTS * reach).sum(axis=1)
    return (alive * (outlives + dies_first) + (1 - alive) * (n == 0)).reshape(shape)


def threshold_age(params, threshold, x, t_x) -> np.ndarray:
    """The age T at which p_alive falls to `threshold` with no new purchase, by bracketed root finding.

    p_alive is 1 at T = t_x and falls monotonically to 0, so [t_x, t_x + span] brackets the
    crossing once span has doubled far enough.
    """
    x, t_x = as_float_arrays(x, t_x)
    (unique_x, unique_t_x), inverse = _distinct_pairs(x, t_x)
    ages = np.array([_crossing(params, threshold, xi, ti) for xi, ti in zip(unique_x, unique_t_x)])
    return ages[inverse].reshape(x.shape)


def _distinct_pairs(x, t_x):
    pairs, inverse = np.unique(np.column_stack([x.ravel(), t_x.ravel()]), axis=0, return_inverse=True)
    return (pairs[:, 0], pairs[:, 1]), inverse.ravel()


def _crossing(params, threshold, x, t_x) -> float:
    def above_threshold(age):
        return p_alive(params, x, t_x, age)[()] - threshold

    span = max(params[1], params[3], 1.0)
    while above_threshold(t_x + span) > 0:
        span *= 2
    return brentq(above_threshold, t_x, t_x + span, xtol=1e-12, rtol=4 * np.finfo(float).eps)
