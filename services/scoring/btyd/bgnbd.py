"""BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way".

A customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha) and, after each repeat
purchase, drops out with probability p ~ Beta(a, b). Parameters are (r, alpha, a, b).
"""

from functools import partial

import numpy as np
from scipy.special import betaln, expit, hyp2f1

from services.scoring.btyd import bg_family
from services.scoring.btyd.fitting import DEFAULT_MIN_CUSTOMERS, FitResult
from services.scoring.btyd.special import as_float_arrays, gamma_poisson_at_least, gamma_poisson_log_pmf, log_hyp2f1

NAME = "bgnbd"
PARAM_NAMES = bg_family.PARAM_NAMES


objective_for = partial(bg_family.objective_for, first_purchase_dropout=False)


def fit(x, t_x, T, *, penalizer: float = 0.0, min_customers: int = DEFAULT_MIN_CUSTOMERS) -> FitResult:
    return bg_family.fit(NAME, x, t_x, T, first_purchase_dropout=False, penalizer=penalizer, min_customers=min_customers)


def p_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) — Fader, Hardie & Lee's note 021; 1 for a customer with no repeat purchase."""
    r, alpha, a, b = params
    x, t_x, T = as_float_arrays(x, t_x, T)
    log_odds_dead = (r + x) * np.log((alpha + T) / (alpha + t_x)) + np.log(a / (b + np.maximum(x, 1) - 1))
    return np.where(x == 0, 1.0, expit(-log_odds_dead))


def expected_purchases(params, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] — equation (10): p_alive times the if-alive part."""
    return p_alive(params, x, t_x, T) * expected_purchases_if_alive(params, t, x, T)


def expected_purchases_if_alive(params, t, x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | alive at T, x]; it does not depend on t_x."""
    r, alpha, a, b = params
    t, x, T = as_float_arrays(t, x, T)
    c = a + b + x - 1
    z = t / (alpha + T + t)
    log_ratio = (r + x) * np.log((alpha + T) / (alpha + T + t))
    log_hyp = log_hyp2f1(r + x, b + x, c, z)
    # With a + b < 1 a customer without a repeat purchase has c < 0, where 2F1 can be negative and has
    # no logarithm; there the direct form is used.
    with np.errstate(over="ignore", invalid="ignore"):
        direct = 1 - hyp2f1(r + x, b + x, c, z) * np.exp(log_ratio)
    return c / (a - 1) * np.where(np.isnan(log_hyp), direct, -np.expm1(log_hyp + log_ratio))


def probability_of_purchases(params, n, t) -> np.ndarray:
    """P(N(t) = n) for a customer drawn from the population — equation (8).

    The finite sum of negative-binomial terms in the paper is the regularised incomplete beta.
    """
    r, alpha, a, b = params
    n, t = as_float_arrays(n, t)
    alive_all_along = np.exp(betaln(a, b + n) - betaln(a, b) + gamma_poisson_log_pmf(n, r, alpha, t))
    dropped_after_n = np.exp(betaln(a + 1, b + n - 1) - betaln(a, b)) * gamma_poisson_at_least(n, r, alpha, t)
    dropped = np.where(n > 0, dropped_after_n, 0.0)
    return alive_all_along + dropped


def threshold_age(params, threshold, x, t_x) -> np.ndarray:
    """The age T at which p_alive falls to `threshold` with no new purchase (scoring.md §3).

    A customer with no repeat purchase is never considered dead by BG/NBD: infinity.
    """
    r, alpha, a, b = params
    x, t_x = as_float_arrays(x, t_x)
    odds = (1 / threshold - 1) * (b + np.maximum(x, 1) - 1) / a
    with np.errstate(divide="ignore"):
        age = (alpha + t_x) * odds ** (1 / (r + x)) - alpha
    return np.where(x > 0, age, np.inf)
