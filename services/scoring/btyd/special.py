"""Special-function pieces the count models share."""

import numpy as np
from scipy.special import betainc, gammaln, hyp2f1


def log_hyp2f1(a, b, c, z):
    """log 2F1(a, b; c; z), through Euler's transformation where the direct value overflows."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        direct = np.log(hyp2f1(a, b, c, z))
        euler = np.log(hyp2f1(c - a, c - b, c, z)) + (c - a - b) * np.log1p(-z)
    return np.where(np.isinf(direct), euler, direct)


def gamma_poisson_log_pmf(n, r, alpha, t):
    """log P(n purchases in t) for a Poisson rate ~ Gamma(r, alpha): the negative binomial."""
    return gammaln(r + n) - gammaln(r) - gammaln(n + 1) + r * np.log(alpha / (alpha + t)) + n * np.log(t / (alpha + t))


def gamma_poisson_at_least(n, r, alpha, t):
    """P(at least n purchases in t) under the same negative binomial; 1 for n = 0."""
    return np.where(n > 0, betainc(np.maximum(n, 1), r, t / (alpha + t)), 1.0)


def as_float_arrays(*values):
    return np.broadcast_arrays(*(np.asarray(value, dtype=float) for value in values))
