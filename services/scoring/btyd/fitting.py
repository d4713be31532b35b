"""Maximum-likelihood machinery shared by the purchase and value models.

Every model is fitted on log-parameters (so the optimiser needs no bounds) against a mean negative
log-likelihood per customer, as `lifetimes` does, so that its L2 penalizer means the same here.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize

DEFAULT_MIN_CUSTOMERS = 200
# The optimiser aims for a gradient (of the mean log-likelihood per customer, in log-parameters)
# this small; beyond it the published digits are stable.
GRADIENT_TOLERANCE = 1e-9
# A fit has converged when the gradient at its answer is this small, whatever made the optimiser
# stop: its line search may give up at the limit of double precision, just short of its aim.
CONVERGED_GRADIENT = 1e-6
MAX_ITERATIONS = 2000
# Packed (x, t_x, T) keys below this are counted in a dense table rather than sorted.
# (and no more than this many possible keys per customer, or the table costs more than a sort).
DENSE_KEY_LIMIT = 2**25
DENSE_KEYS_PER_CUSTOMER = 16

# (mean negative log-likelihood, its gradient in log-parameters) at a point in log-parameters.
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


class NotEnoughCustomers(ValueError):
    """Too few customers to fit a model; the caller falls back to configured priors."""

    def __init__(self, *, model: str, found: int, needed: int):
        super().__init__(f"{model}: need at least {needed} customers to fit, got {found}")
        self.model, self.found, self.needed = model, found, needed


class FitNotConverged(RuntimeError):
    """Raised when the parameters of a fit that did not converge are asked for."""


@dataclass(frozen=True)
class CompressedPopulation:
    """Distinct (x, t_x, T) rows, how many customers share each, and each customer's row."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    counts: np.ndarray
    row_of_customer: np.ndarray


@dataclass(frozen=True)
class FitResult:
    model: str
    param_names: tuple[str, ...]
    values: np.ndarray
    standard_errors: np.ndarray
    log_likelihood: float
    iterations: int
    converged: bool
    n_customers: int
    message: str
    log_param_covariance: np.ndarray

    @property
    def params(self) -> dict[str, float]:
        return dict(zip(self.param_names, map(float, self.values)))

    @property
    def standard_error_by_name(self) -> dict[str, float]:
        return dict(zip(self.param_names, map(float, self.standard_errors)))

    def usable_params(self) -> np.ndarray:
        """The parameters, refused when the fit did not converge: it must never be used silently."""
        if not self.converged:
            raise FitNotConverged(f"{self.model} fit did not converge: {self.message}")
        return self.values


def compress(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Distinct rows of the given columns, their counts, and the row index of every input row."""
    order = np.lexsort(columns[::-1])
    ordered = [np.asarray(column)[order] for column in columns]
    same_as_previous = np.ones(max(order.size - 1, 0), dtype=bool)
    for column in ordered:
        same_as_previous &= column[1:] == column[:-1]
    starts = np.concatenate((np.ones(min(order.size, 1), dtype=bool), ~same_as_previous))
    row_of_sorted = np.cumsum(starts) - 1
    row_of_input = np.empty_like(row_of_sorted)
    row_of_input[order] = row_of_sorted
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, order.size))
    return [column[first] for column in ordered], counts, row_of_input


def compress_population(x, t_x, T) -> CompressedPopulation:
    x, t_x, T = (np.asarray(column, dtype=float) for column in (x, t_x, T))
    if _whole_days(x, t_x, T):
        return _compress_whole_days(x, t_x, T)
    (cx, ct, cT), counts, rows = compress(x, t_x, T)
    return CompressedPopulation(cx, ct, cT, counts, rows)


def _whole_days(*columns: np.ndarray) -> bool:
    """Whole, non-negative values small enough to pack (x, t_x, T) into one int64 key."""
    if not all(column.size and column.min() >= 0 and np.all(column == np.floor(column)) for column in columns):
        return False
    return float(np.prod([column.max() + 1 for column in columns])) < 2.0**62


def _compress_whole_days(x, t_x, T) -> CompressedPopulation:
    """Summaries in whole days share rows heavily: one sort of a packed key finds them quickly."""
    t_span, T_span = int(t_x.max()) + 1, int(T.max()) + 1
    key = (x.astype(np.int64) * t_span + t_x.astype(np.int64)) * T_span + T.astype(np.int64)
    if key.max() < min(DENSE_KEY_LIMIT, DENSE_KEYS_PER_CUSTOMER * key.size):
        counts_by_key = np.bincount(key)
        keys = np.flatnonzero(counts_by_key)
        counts = counts_by_key[keys]
        row_of_key = np.zeros(counts_by_key.size, dtype=np.int64)
        row_of_key[keys] = np.arange(keys.size)
        rows = row_of_key[key]
    else:
        keys, rows, counts = np.unique(key, return_inverse=True, return_counts=True)
    return CompressedPopulation(
        x=(keys // (t_span * T_span)).astype(float),
        t_x=(keys // T_span % t_span).astype(float),
        T=(keys % T_span).astype(float),
        counts=counts,
        row_of_customer=rows.ravel(),
    )


def require_population(model: str, n_customers: int, min_customers: int) -> None:
    if n_customers < min_customers:
        raise NotEnoughCustomers(model=model, found=n_customers, needed=min_customers)


def penalized(objective: Objective, penalizer: float) -> Objective:
    """lifetimes' L2 penalizer: `penalizer * sum(params**2)` added to the mean negative log-likelihood."""

    def with_penalty(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = objective(log_params)
        params = np.exp(log_params)
        return value + penalizer * np.sum(params**2), gradient + 2 * penalizer * params**2

    return with_penalty


def hessian_of(objective: Objective, at: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central differences of the analytic gradient, symmetrised."""
    size = at.size
    hessian = np.empty((size, size))
    for i in range(size):
        shift = np.zeros(size)
        shift[i] = step
        hessian[i] = (objective(at + shift)[1] - objective(at - shift)[1]) / (2 * step)
    return (hessian + hessian.T) / 2


def log_param_covariance(objective: Objective, log_params: np.ndarray, n_customers: int) -> np.ndarray:
    """Asymptotic covariance of the log-parameters; NaN where the Hessian is singular."""
    hessian = hessian_of(objective, log_params) * n_customers
    try:
        return np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return np.full_like(hessian, np.nan)


def maximise_likelihood(
    *,
    model: str,
    param_names: tuple[str, ...],
    objective: Objective,
    initial_log_params: np.ndarray,
    n_customers: int,
    penalizer: float = 0.0,
    unscale: Callable[[np.ndarray], np.ndarray] = lambda params: params,
) -> FitResult:
    """Fit by L-BFGS-B.

    `unscale` maps parameters fitted in scaled time back to the caller's time unit; scaling is
    multiplicative, so the log-parameter covariance is the same in both units.
    """
    target = penalized(objective, penalizer)
    result = minimize(
        target,
        initial_log_params,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": MAX_ITERATIONS, "gtol": GRADIENT_TOLERANCE, "ftol": 1e-15},
    )
    log_params = result.x
    covariance = log_param_covariance(target, log_params, n_customers)
    values = unscale(np.exp(log_params))
    gradient = target(log_params)[1]
    largest_gradient = float(np.max(np.abs(gradient)))
    at_optimum = bool(np.all(np.isfinite(log_params)) and largest_gradient <= CONVERGED_GRADIENT)
    curved = bool(np.all(np.diag(covariance) > 0))  # a maximum, not a saddle or a flat ridge
    mean_log_likelihood = -objective(log_params)[0]
    return FitResult(
        model=model,
        param_names=param_names,
        values=values,
        standard_errors=values * np.sqrt(np.abs(np.diag(covariance))),
        log_likelihood=float(mean_log_likelihood * n_customers),
        iterations=int(result.nit),
        converged=at_optimum and curved and result.nit < MAX_ITERATIONS,
        n_customers=n_customers,
        message=f"{result.message}; largest gradient {largest_gradient:.1e}",
        log_param_covariance=covariance,
    )


def draw_params(fit: FitResult, draws: int, seed: int) -> np.ndarray:
    """Parameter draws from the fit's asymptotic (log-normal) distribution, one row per draw."""
    generator = np.random.default_rng(seed)
    log_draws = generator.multivariate_normal(np.log(fit.values), fit.log_param_covariance, size=draws, method="eigh")
    return np.exp(log_draws)


def fit_purchase_model(
    *,
    model: str,
    param_names: tuple[str, ...],
    objective_for: Callable[[CompressedPopulation], Objective],
    time_param_indices: tuple[int, ...],
    x,
    t_x,
    T,
    penalizer: float,
    min_customers: int,
) -> FitResult:
    """Fit a purchase-count model on the compressed population, in time scaled so that max T = 1.

    Scaling as lifetimes does keeps the optimiser well conditioned and gives its penalizer the
    same meaning; the time-valued parameters (rates' scales) are mapped back afterwards.
    """
    x, t_x, T = (np.asarray(column, dtype=float) for column in (x, t_x, T))
    require_population(model, x.size, min_customers)
    check_purchase_summary(x, t_x, T)
    scale = 1.0 / T.max()
    rows = compress_population(x, t_x, T)
    population = replace(rows, t_x=rows.t_x * scale, T=rows.T * scale)

    def unscale(params: np.ndarray) -> np.ndarray:
        params = params.copy()
        params[list(time_param_indices)] /= scale
        return params

    fit = maximise_likelihood(
        model=model,
        param_names=param_names,
        objective=objective_for(population),
        initial_log_params=np.full(len(param_names), 0.1),
        n_customers=x.size,
        penalizer=penalizer,
        unscale=unscale,
    )
    # Each repeat purchase time is a density in 1/time: report the log-likelihood in the caller's unit.
    return replace(fit, log_likelihood=fit.log_likelihood + np.log(scale) * x.sum())


def check_purchase_summary(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    if np.any(x < 0) or np.any(x != np.floor(x)):
        raise ValueError("frequency must be a whole number >= 0")
    if np.any(t_x < 0) or np.any(t_x > T):
        raise ValueError("recency must lie between 0 and T")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("recency must be 0 when frequency is 0")
    if not np.all(T > 0):
        raise ValueError("T must be > 0")


def dot(per_row: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum over the last axis of per_row × weights.

    Not through BLAS: its threads stall when the machine's other cores are busy, and these
    vectors are too short to gain from them.
    """
    return np.einsum("...i,i->...", per_row, weights)


def weighted_mean(population: CompressedPopulation, per_row: np.ndarray) -> np.ndarray:
    """Mean over customers of a per-row quantity (last axis rows), using the row counts."""
    return dot(per_row, population.counts.astype(float)) / population.counts.sum()
