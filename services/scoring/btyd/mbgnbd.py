"""MBG/NBD: Batislam, Denizel & Filiztekin (2007), with Wagner & Hoppe's (2008) erratum.

As BG/NBD, but a customer can also drop out right after the first purchase, so one-time buyers
age too. The default model for p_alive. Parameters are (r, alpha, a, b).
"""

from functools import partial

import numpy as np
from scipy.special import betaln, expit

from services.scoring.btyd import bg_family
from services.scoring.btyd.fitting import DEFAULT_MIN_CUSTOMERS, FitResult
from services.scoring.btyd.special import as_float_arrays, gamma_poisson_at_least, gamma_poisson_log_pmf, log_hyp2f1

NAME = "mbgnbd"
PARAM_NAMES = bg_family.PARAM_NAMES


objective_for = partial(bg_family.objective_for, first_purchase_dropout=True)


def fit(x, t_x, T, *, penalizer: float = 0.0, min_customers: int = DEFAULT_MIN_CUSTOMERS) -> FitResult:
    return bg_family.fit(NAME, x, t_x, T, first_purchase_dropout=True, penalizer=penalizer, min_customers=min_customers)


def _log_odds_dropped(params, x, t_x, T):
    r, alpha, a, b = params
    return np.log(a / (b + x)) + (r + x) * np.log((alpha + T) / (alpha + t_x))


def p_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) — Batislam et al., appendix A, eq. (5)."""
    return expit(-_log_odds_dropped(params, *as_float_arrays(x, t_x, T)))


def expected_purchases(params, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] as Wagner & Hoppe correct it: p_alive times the if-alive part."""
    return p_alive(params, x, t_x, T) * expected_purchases_if_alive(params, t, x, T)


def expected_purchases_if_alive(params, t, x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | alive at T, x]; it does not depend on t_x."""
    r, alpha, a, b = params
    t, x, T = as_float_arrays(t, x, T)
    log_hyp = log_hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
    return (a + b + x) / (a - 1) * -np.expm1(log_hyp + (r + x) * np.log((alpha + T) / (alpha + T + t)))


def probability_of_purchases(params, n, t) -> np.ndarray:
    """P(N(t) = n) for a customer drawn from the population."""
    r, alpha, a, b = params
    n, t = as_float_arrays(n, t)
    alive_all_along = np.exp(betaln(a, b + n + 1) - betaln(a, b) + gamma_poisson_log_pmf(n, r, alpha, t))
    dropped = np.exp(betaln(a + 1, b + n) - betaln(a, b)) * gamma_poisson_at_least(n, r, alpha, t)
    return alive_all_along + dropped


def threshold_age(params, threshold, x, t_x) -> np.ndarray:
    """The age T at which p_alive falls to `threshold` with no new purchase (scoring.md §3).

    Below t_x when p_alive is under the threshold already at the last purchase.
    """
    r, alpha, a, b = params
    x, t_x = as_float_arrays(x, t_x)
    return (alpha + t_x) * ((1 / threshold - 1) * (b + x) / a) ** (1 / (r + x)) - alpha
