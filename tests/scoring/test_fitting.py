"""Fits use analytic gradients, report their state honestly and refuse too small a population."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from services.scoring.btyd import bgnbd, fitting, gamma_gamma, mbgnbd, paretonbd
from services.scoring.btyd.fitting import FitNotConverged, NotEnoughCustomers, compress_population

COUNT_MODELS = [bgnbd, mbgnbd, paretonbd]


@pytest.mark.parametrize("model", COUNT_MODELS)
@pytest.mark.parametrize("at", [[0.1, -0.3, 0.2, 0.5], [-1.0, 1.0, -0.5, 1.5]])
def test_analytic_gradient_matches_finite_differences(model, at, cdnow_summary):
    population = compress_population(cdnow_summary.frequency, cdnow_summary.recency / 40, cdnow_summary["T"] / 40)
    objective = model.objective_for(population)
    at = np.array(at)
    numeric = approx_fprime(at, lambda p: objective(p)[0], 1e-7)
    np.testing.assert_allclose(objective(at)[1], numeric, rtol=1e-4, atol=1e-6)


def test_gamma_gamma_analytic_gradient_matches_finite_differences(cdnow_with_values):
    repeat = cdnow_with_values[cdnow_with_values.x > 0]
    population = fitting.CompressedPopulation(repeat.x.to_numpy(float), repeat.zbar.to_numpy(), None, np.ones(len(repeat)), None)
    objective = gamma_gamma.objective_for(population)
    at = np.array([1.5, 1.0, 2.5])
    numeric = approx_fprime(at, lambda p: objective(p)[0], 1e-7)
    np.testing.assert_allclose(objective(at)[1], numeric, rtol=1e-4, atol=1e-6)


def test_fit_on_compressed_rows_equals_fit_on_every_customer(cdnow_summary):
    fit = mbgnbd.fit(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary["T"])
    population = compress_population(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary["T"])
    assert population.counts.sum() == len(cdnow_summary) > 2 * len(population.counts)
    every_customer = mbgnbd.objective_for(
        fitting.CompressedPopulation(*(cdnow_summary[c].to_numpy(float) for c in ("frequency", "recency", "T")),
                                     np.ones(len(cdnow_summary)), None)
    )
    compressed = mbgnbd.objective_for(population)
    at = np.log(fit.values)
    assert compressed(at)[0] == pytest.approx(every_customer(at)[0], rel=1e-12)


@pytest.mark.parametrize("model", COUNT_MODELS)
def test_fit_below_minimum_population_raises_a_named_error(model, cdnow_summary):
    small = cdnow_summary.head(150)
    with pytest.raises(NotEnoughCustomers, match="need at least 200 customers to fit, got 150"):
        model.fit(small.frequency, small.recency, small["T"])


def test_gamma_gamma_counts_only_customers_with_repeat_value_towards_the_minimum(cdnow_with_values):
    with pytest.raises(NotEnoughCustomers) as refused:
        gamma_gamma.fit(cdnow_with_values.x, cdnow_with_values.zbar, min_customers=1000)
    assert refused.value.found == 946


def test_a_fit_that_does_not_converge_says_so_and_its_parameters_are_refused(cdnow_summary, monkeypatch):
    monkeypatch.setattr(fitting, "MAX_ITERATIONS", 2)
    fit = bgnbd.fit(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary["T"])
    assert not fit.converged
    with pytest.raises(FitNotConverged, match="bgnbd fit did not converge"):
        fit.usable_params()


def test_a_converged_fit_reports_iterations_and_standard_errors(cdnow_summary):
    fit = bgnbd.fit(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary["T"])
    assert fit.converged and fit.iterations > 0 and fit.n_customers == 2357
    assert set(fit.standard_error_by_name) == {"r", "alpha", "a", "b"}
    assert all(0 < se < value for se, value in zip(fit.standard_errors, fit.values))


def test_summary_with_recency_beyond_age_is_refused():
    with pytest.raises(ValueError, match="recency"):
        bgnbd.fit(np.ones(300), np.full(300, 5.0), np.full(300, 4.0))
