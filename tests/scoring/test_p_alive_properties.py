"""p_alive is a probability that only falls while no purchase arrives, and the threshold time
puts it exactly at the threshold."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.scoring.btyd import bgnbd, mbgnbd, paretonbd

log_uniform = lambda low, high: st.floats(np.log(low), np.log(high)).map(np.exp)  # noqa: E731
parameters = st.tuples(log_uniform(0.05, 5), log_uniform(0.5, 500), log_uniform(0.05, 5), log_uniform(0.5, 50))
thresholds = st.floats(0.05, 0.95)
MODELS = [bgnbd, mbgnbd, paretonbd]


@st.composite
def repeat_histories(draw):
    x = draw(st.integers(1, 200))
    t_x = draw(st.floats(0, 1000))
    return x, t_x


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=40, deadline=None)
@given(params=parameters, history=repeat_histories(), extra_ages=st.lists(st.floats(0, 2000), min_size=2, max_size=20))
def test_p_alive_stays_in_unit_interval_and_never_rises_with_age(model, params, history, extra_ages):
    x, t_x = history
    ages = t_x + np.sort(np.array(extra_ages))
    alive = model.p_alive(np.array(params), x, t_x, ages)
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(np.diff(alive) <= 1e-12)


@pytest.mark.parametrize("model", [mbgnbd, paretonbd])
@settings(max_examples=25, deadline=None)
@given(params=parameters, ages=st.lists(st.floats(0.01, 2000), min_size=2, max_size=20))
def test_one_time_buyers_age_too_where_the_model_lets_them(model, params, ages):
    alive = model.p_alive(np.array(params), 0, 0, np.sort(np.array(ages)))
    assert np.all((alive >= 0) & (alive <= 1)) and np.all(np.diff(alive) <= 1e-12)


def test_bgnbd_one_time_buyer_is_always_alive_and_never_crosses():
    params = np.array([0.24, 4.4, 0.79, 2.4])
    assert np.all(bgnbd.p_alive(params, 0, 0, [1.0, 100.0, 1e4]) == 1)
    assert bgnbd.threshold_age(params, 0.5, 0, 0)[()] == np.inf


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=60, deadline=None)
@given(params=parameters, history=repeat_histories(), threshold=thresholds)
def test_threshold_age_puts_p_alive_at_the_threshold(model, params, history, threshold):
    x, t_x = history
    params = np.array(params)
    age = model.threshold_age(params, threshold, x, t_x)[()]
    assume(age >= t_x)  # otherwise p_alive was below the threshold already at the last purchase
    assert abs(model.p_alive(params, x, t_x, age)[()] - threshold) <= 1e-9


@pytest.mark.parametrize("model", [bgnbd, mbgnbd])
def test_threshold_age_is_vectorised_over_customers(model):
    params = np.array([0.5, 6.0, 0.9, 1.6])
    x, t_x = np.array([1, 5, 20]), np.array([3.0, 40.0, 200.0])
    ages = model.threshold_age(params, 0.3, x, t_x)
    np.testing.assert_allclose(model.p_alive(params, x, t_x, ages), 0.3, atol=1e-9)
