"""Per-customer answers equal lifetimes 0.11.3's on the same inputs, to 1e-6 relative.

Inputs are CDNOW's 2,357 customers in days. Predictions are compared at lifetimes' own fitted
parameters, so that the formulas are checked apart from the optimisers.
"""

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

from services.scoring.btyd import bgnbd, clv, gamma_gamma, mbgnbd, paretonbd
from services.scoring.btyd.special import gamma_poisson_at_least

RTOL = 1e-6
HORIZONS = (1.0, 30.0, 90.0, 365.0)
BG_FAMILY = [(bgnbd, BetaGeoFitter), (mbgnbd, ModifiedBetaGeoFitter)]


@pytest.fixture(scope="module")
def history(cdnow_with_values):
    data = cdnow_with_values
    return data.x.to_numpy(float), data.t_x_days.to_numpy(), data.T_days.to_numpy(), data.zbar.to_numpy()


@pytest.fixture(scope="module")
def lifetimes_order_value(cdnow_with_values):
    repeat = cdnow_with_values[cdnow_with_values.x > 0]
    return GammaGammaFitter().fit(repeat.x, repeat.zbar)


def fitted_lifetimes(fitter_class, history):
    x, t_x, T, _ = history
    return fitter_class().fit(x, t_x, T)


def lifetimes_params(fitter, names):
    return fitter.params_[list(names)].to_numpy()


@pytest.mark.parametrize("ours, theirs", BG_FAMILY)
def test_bg_family_fit_finds_lifetimes_parameters_and_standard_errors(ours, theirs, history):
    reference = fitted_lifetimes(theirs, history)
    fit = ours.fit(*history[:3])
    np.testing.assert_allclose(fit.values, lifetimes_params(reference, ours.PARAM_NAMES), rtol=1e-5)
    np.testing.assert_allclose(fit.standard_errors, reference.standard_errors_[list(ours.PARAM_NAMES)], rtol=1e-3)


@pytest.mark.parametrize("ours, theirs", BG_FAMILY)
def test_bg_family_penalizer_means_what_it_means_in_lifetimes(ours, theirs, history):
    x, t_x, T, _ = history
    reference = theirs(penalizer_coef=0.1).fit(x, t_x, T)
    fit = ours.fit(x, t_x, T, penalizer=0.1)
    np.testing.assert_allclose(fit.values, lifetimes_params(reference, ours.PARAM_NAMES), rtol=1e-5)


def test_gamma_gamma_fit_finds_lifetimes_parameters(cdnow_with_values, lifetimes_order_value):
    fit = gamma_gamma.fit(cdnow_with_values.x, cdnow_with_values.zbar, penalizer=0.0)
    np.testing.assert_allclose(fit.values, lifetimes_order_value.params_[["p", "q", "v"]], rtol=1e-6)
    np.testing.assert_allclose(fit.standard_errors, lifetimes_order_value.standard_errors_[["p", "q", "v"]], rtol=1e-3)


@pytest.mark.parametrize("ours, theirs", BG_FAMILY)
def test_bg_family_p_alive_and_expected_purchases_equal_lifetimes_per_customer(ours, theirs, history):
    x, t_x, T, _ = history
    reference = fitted_lifetimes(theirs, history)
    params = lifetimes_params(reference, ours.PARAM_NAMES)
    np.testing.assert_allclose(ours.p_alive(params, x, t_x, T), reference.conditional_probability_alive(x, t_x, T), rtol=RTOL)
    for t in HORIZONS:
        expected = reference.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
        np.testing.assert_allclose(ours.expected_purchases(params, t, x, t_x, T), expected, rtol=RTOL)


def mp_probability_of_purchases(model, params, n, t):
    """Equation (8) of the BG/NBD paper (and its MBG/NBD form), term by term at 40 digits."""
    r, alpha, a, b = (mp.mpf(float(v)) for v in params)
    t, shift = mp.mpf(t), 1 if model is mbgnbd else 0

    def nb(j):
        return mp.gamma(r + j) / mp.gamma(r) / mp.factorial(j) * (alpha / (alpha + t)) ** r * (t / (alpha + t)) ** j

    alive = mp.beta(a, b + n + shift) / mp.beta(a, b) * nb(n)
    if n == 0 and not shift:
        return alive
    return alive + mp.beta(a + 1, b + n - 1 + shift) / mp.beta(a, b) * (1 - mp.fsum(nb(j) for j in range(n)))


@pytest.mark.parametrize("ours, theirs", BG_FAMILY)
def test_bg_family_probability_of_n_purchases_equals_lifetimes_where_its_sum_is_stable(ours, theirs, history):
    reference = fitted_lifetimes(theirs, history)
    params = lifetimes_params(reference, ours.PARAM_NAMES)
    n = np.arange(12)
    for t in HORIZONS:
        expected = np.array([reference.probability_of_n_purchases_up_to_time(t, k) for k in n])
        # lifetimes forms P(at least n) as 1 minus a sum: below 1e-8 it has lost the digits compared here.
        stable = gamma_poisson_at_least(n, params[0], params[1], t) > 1e-8
        np.testing.assert_allclose(ours.probability_of_purchases(params, n, t)[stable], expected[stable], rtol=RTOL)


@pytest.mark.parametrize("ours", [bgnbd, mbgnbd])
def test_bg_family_probability_of_n_purchases_equals_a_40_digit_evaluation(ours, cdnow_summary):
    params = ours.fit(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary["T"]).usable_params()
    mp.mp.dps = 40
    for t in (0.1, 1.0, 10.0, 100.0):
        expected = [float(mp_probability_of_purchases(ours, params, k, t)) for k in range(15)]
        np.testing.assert_allclose(ours.probability_of_purchases(params, np.arange(15), t), expected, rtol=1e-9)


def test_expected_order_value_equals_lifetimes_including_one_time_buyers(history, lifetimes_order_value):
    x, _, _, monetary = history
    params = lifetimes_order_value.params_[["p", "q", "v"]].to_numpy()
    expected = lifetimes_order_value.conditional_expected_average_profit(pd.Series(x), pd.Series(monetary))
    np.testing.assert_allclose(gamma_gamma.expected_order_value(params, x, monetary), expected, rtol=RTOL)


def pareto_at(params):
    fitter = ParetoNBDFitter()
    fitter.params_ = pd.Series(params, index=["r", "alpha", "s", "beta"])
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    return fitter


@pytest.fixture(scope="module")
def pareto_params(history):
    return paretonbd.fit(*history[:3]).usable_params()


def test_pareto_p_alive_and_expected_purchases_equal_lifetimes_per_customer(history, pareto_params):
    x, t_x, T, _ = history
    reference = pareto_at(pareto_params)
    np.testing.assert_allclose(paretonbd.p_alive(pareto_params, x, t_x, T), reference.conditional_probability_alive(x, t_x, T), rtol=RTOL)
    for t in HORIZONS:
        expected = reference.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
        np.testing.assert_allclose(paretonbd.expected_purchases(pareto_params, t, x, t_x, T), expected, rtol=RTOL)



# lifetimes' Pareto/NBD takes log(0) at t = 0, where its sums start; the answers are finite.
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
@pytest.mark.parametrize("ours, theirs", BG_FAMILY + [(paretonbd, None)])
def test_clv_equals_lifetimes_customer_lifetime_value_in_days(ours, theirs, history, lifetimes_order_value, pareto_params):
    x, t_x, T, monetary = history
    reference = fitted_lifetimes(theirs, history) if theirs else pareto_at(pareto_params)
    params = lifetimes_params(reference, ours.PARAM_NAMES)
    value_params = lifetimes_order_value.params_[["p", "q", "v"]].to_numpy()
    expected = lifetimes_order_value.customer_lifetime_value(
        reference, pd.Series(x), pd.Series(t_x), pd.Series(T), pd.Series(monetary), time=12, discount_rate=0.01, freq="D"
    )
    order_value = gamma_gamma.expected_order_value(value_params, x, monetary)
    ours_clv = clv.customer_lifetime_value(lambda t, *h: ours.expected_purchases(params, t, *h), x, t_x, T, order_value)
    np.testing.assert_allclose(ours_clv, expected, rtol=RTOL)


def test_pareto_conditional_probability_of_n_purchases_equals_lifetimes(history, pareto_params):
    x, t_x, T, _ = (column[:200] for column in history)
    reference = pareto_at(pareto_params)
    for t in (30.0, 365.0):
        for n in range(6):
            expected = [reference.conditional_probability_of_n_purchases_up_to_time(n, t, *h) for h in zip(x, t_x, T)]
            ours = paretonbd.conditional_probability_of_purchases(pareto_params, n, t, x, t_x, T)
            np.testing.assert_allclose(ours, expected, rtol=RTOL)


def test_pareto_conditional_probabilities_of_n_purchases_sum_to_one(history, pareto_params):
    x, t_x, T, _ = history
    total = sum(paretonbd.conditional_probability_of_purchases(pareto_params, n, 90.0, x, t_x, T) for n in range(300))
    np.testing.assert_allclose(total, 1, atol=1e-12)


def mp_bgnbd_expected_purchases(params, t, x, T):
    r, alpha, a, b = (mp.mpf(float(v)) for v in params)
    c = a + b + x - 1
    return c / (a - 1) * (1 - mp.hyp2f1(r + x, b + x, c, t / (alpha + T + t)) * ((alpha + T) / (alpha + T + t)) ** (r + x))


def test_bgnbd_expected_purchases_are_finite_and_right_where_a_plus_b_is_below_one():
    """A fit of a small population can land at a + b < 1, where scipy's 2F1 (and so lifetimes) may
    give NaN for customers without a repeat purchase; the answer is checked to 30 digits instead."""
    params = np.array([0.25, 30.0, 0.3, 0.5])
    x, t_x, T = np.array([0.0, 0.0, 1.0, 4.0]), np.array([0.0, 0.0, 20.0, 300.0]), np.array([30.0, 400.0, 100.0, 500.0])
    reference = BetaGeoFitter()
    reference.params_ = pd.Series(params, index=["r", "alpha", "a", "b"])
    mp.mp.dps = 30
    for t in HORIZONS:
        ours = bgnbd.expected_purchases(params, t, x, t_x, T)
        theirs = reference.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
        exact = [float(mp_bgnbd_expected_purchases(params, t, 0, T_i)) for T_i in T[:2]]
        np.testing.assert_allclose(ours[:2], exact, rtol=1e-9)
        np.testing.assert_allclose(ours[2:], theirs[2:], rtol=RTOL)
