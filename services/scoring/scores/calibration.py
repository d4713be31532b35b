"""Calibration (scoring.md §2, §4): the models fitted over the whole population, or the configured
priors below the minimum population, with the CLV distribution and RFM edges of that population.

`calibrate` is pure and picklable in and out (plain arrays and dicts), so it runs in a worker
process; `calibration_of` turns a stored record back into the `Calibration` scores are made with.
"""

from dataclasses import dataclass

import numpy as np

from services.scoring.btyd import gamma_gamma
from services.scoring.btyd.fitting import FitResult, NotEnoughCustomers, draw_params
from services.scoring.btyd.purchase_models import MODELS
from services.scoring.scores.customer_scores import score_customers
from services.scoring.scores.rfm import RfmEdges, rfm_edges
from services.scoring.scores.scorecard import Calibration

FITTED, PRIORS, NOT_CONVERGED = "fitted", "priors", "not_converged"
GRID_POINTS = 1001
INTERVAL_DRAWS = 100


@dataclass(frozen=True)
class Population:
    """Every buyer's summary as of the calibration time (scoring.md §1)."""

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray
    total_spend: np.ndarray


@dataclass(frozen=True)
class CalibrationRecord:
    model: str
    status: str
    population: int
    converged: bool
    log_likelihood: float | None
    message: str
    purchase: dict
    order_value: dict
    clv_grid: list[float]
    rfm_edges: dict

    @property
    def usable(self) -> bool:
        return self.status != NOT_CONVERGED


def _fit_json(fit: FitResult) -> dict:
    errors = {name: value if np.isfinite(value) else None for name, value in fit.standard_error_by_name.items()}
    return {"params": fit.params, "standard_errors": errors,
            "log_param_covariance": np.nan_to_num(fit.log_param_covariance).tolist(),
            "log_likelihood": fit.log_likelihood, "converged": fit.converged, "customers": fit.n_customers}


def _priors_json(params: dict[str, float]) -> dict:
    return {"params": dict(params), "standard_errors": None, "log_param_covariance": None, "log_likelihood": None,
            "converged": None, "customers": 0}


def calibrate(population: Population, *, model: str, min_population: int, purchase_priors: dict[str, float],
              order_value_priors: dict[str, float], months: int, monthly_discount: float) -> CalibrationRecord:
    buyers = population.frequency.size
    purchase_model = MODELS[model]
    try:
        fit = purchase_model.fit(population.frequency, population.recency, population.T, min_customers=min_population)
        value_fit = gamma_gamma.fit(population.frequency, population.monetary, min_customers=min_population)
    except NotEnoughCustomers as too_few:
        return _record(population, model=model, status=PRIORS, converged=False, log_likelihood=None,
                       message=f"priors in use: {too_few}", purchase=_priors_json(purchase_priors),
                       order_value=_priors_json(order_value_priors), months=months, monthly_discount=monthly_discount)
    converged = fit.converged and value_fit.converged
    message = f"{model}: {fit.message}; gamma_gamma: {value_fit.message}"
    return _record(population, model=model, status=FITTED if converged else NOT_CONVERGED, converged=converged,
                   log_likelihood=fit.log_likelihood, message=message, purchase=_fit_json(fit),
                   order_value=_fit_json(value_fit), months=months, monthly_discount=monthly_discount,
                   population_size=buyers)


def _record(population: Population, *, model: str, status: str, converged: bool, log_likelihood, message: str,
            purchase: dict, order_value: dict, months: int, monthly_discount: float,
            population_size: int | None = None) -> CalibrationRecord:
    grid, edges = [], {}
    if population.frequency.size and status != NOT_CONVERGED:
        params = [purchase["params"][name] for name in MODELS[model].param_names]
        value_params = [order_value["params"][name] for name in gamma_gamma.PARAM_NAMES]
        clv = score_customers(MODELS[model], params, value_params, x=population.frequency, t_x=population.recency,
                              T=population.T, monetary=population.monetary, months=months,
                              monthly_discount=monthly_discount).clv
        grid = np.quantile(clv, np.linspace(0, 1, GRID_POINTS)).tolist()
        found = rfm_edges(days_since_last=population.T - population.recency, purchase_periods=population.frequency + 1,
                          total_spend=population.total_spend)
        edges = {name: getattr(found, name).tolist() for name in ("days_since_last", "purchase_periods", "total_spend")}
    return CalibrationRecord(model=model, status=status, population=population_size or population.frequency.size,
                             converged=converged, log_likelihood=log_likelihood, message=message, purchase=purchase,
                             order_value=order_value, clv_grid=grid, rfm_edges=edges)


def _draws(model: str, fitted: dict, names: tuple[str, ...]) -> np.ndarray | None:
    if fitted.get("log_param_covariance") is None:
        return None
    values = np.array([fitted["params"][name] for name in names])
    fit = FitResult(model=model, param_names=names, values=values, standard_errors=np.zeros_like(values),
                    log_likelihood=0.0, iterations=0, converged=True, n_customers=fitted["customers"], message="",
                    log_param_covariance=np.array(fitted["log_param_covariance"]))
    return draw_params(fit, INTERVAL_DRAWS, seed=0)


def calibration_of(record: CalibrationRecord, *, fit_id: int | None, months: int, monthly_discount: float) -> Calibration:
    model = MODELS[record.model]
    edges = RfmEdges(*(np.array(record.rfm_edges[name]) for name in ("days_since_last", "purchase_periods", "total_spend"))) \
        if record.rfm_edges else None
    return Calibration(
        fit_id=fit_id, model=model,
        params=np.array([record.purchase["params"][name] for name in model.param_names]),
        order_value_params=np.array([record.order_value["params"][name] for name in gamma_gamma.PARAM_NAMES]),
        purchase_draws=_draws(record.model, record.purchase, model.param_names),
        order_value_draws=_draws(gamma_gamma.NAME, record.order_value, gamma_gamma.PARAM_NAMES),
        clv_grid=np.array(record.clv_grid, dtype=float), rfm_edges=edges, months=months, monthly_discount=monthly_discount,
    )
