"""Pareto/NBD answers equal a 50-digit evaluation of Fader & Hardie's closed form (note 009).

The closed form subtracts two 2F1 terms, which double precision cannot always afford; this
checks ours over a wide range of parameters and histories against mpmath instead of lifetimes.
"""

import mpmath as mp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.scoring.btyd import paretonbd


def mp_p_alive(params, x, t_x, T):
    r, alpha, s, beta = (mp.mpf(float(v)) for v in params)
    x, t_x, T = mp.mpf(float(x)), mp.mpf(float(t_x)), mp.mpf(float(T))
    low, high, second = (alpha, beta, r + x) if alpha < beta else (beta, alpha, s + 1)
    rsx = r + s + x

    def term(age):
        return mp.hyp2f1(rsx, second, rsx + 1, (high - low) / (high + age)) / (high + age) ** rsx

    a_0 = term(t_x) - term(T)
    return 1 / (1 + s / rsx * (alpha + T) ** (r + x) * (beta + T) ** s * a_0)


def mp_expected_purchases(params, t, x, t_x, T):
    r, alpha, s, beta = (mp.mpf(float(v)) for v in params)
    t, x, T = mp.mpf(float(t)), mp.mpf(float(x)), mp.mpf(float(T))
    rate = (r + x) * (beta + T) / ((alpha + T) * (s - 1))
    return mp_p_alive(params, x, t_x, T) * rate * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))


log_uniform = lambda low, high: st.floats(np.log(low), np.log(high)).map(np.exp)  # noqa: E731
parameters = st.tuples(log_uniform(0.05, 5), log_uniform(0.5, 500), log_uniform(0.05, 5), log_uniform(0.5, 500))


@st.composite
def histories(draw):
    T = draw(st.floats(1, 1000))
    x = draw(st.integers(0, 500))
    t_x = 0.0 if x == 0 else draw(st.floats(0, 1)) * T
    return x, t_x, T


@settings(max_examples=60, deadline=None)
@given(params=parameters, history=histories())
def test_pareto_p_alive_equals_fifty_digit_closed_form(params, history):
    mp.mp.dps = 50
    expected = float(mp_p_alive(params, *history))
    if expected > 1e-300:  # below that the answer is a denormal in double precision
        assert abs(paretonbd.p_alive(np.array(params), *history)[()] / expected - 1) < 1e-9


@settings(max_examples=30, deadline=None)
@given(params=parameters, history=histories(), t=st.floats(1, 400))
def test_pareto_expected_purchases_equal_fifty_digit_closed_form(params, history, t):
    mp.mp.dps = 50
    params = (params[0], params[1], params[2] + 1.01, params[3])  # E exists for s != 1
    expected = float(mp_expected_purchases(params, t, *history))
    if expected > 1e-300:
        assert abs(paretonbd.expected_purchases(np.array(params), t, *history)[()] / expected - 1) < 1e-9


def test_pareto_log_likelihood_on_cdnow_equals_fifty_digit_closed_form(cdnow_summary):
    fit = paretonbd.fit(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary["T"])
    r, alpha, s, beta = (mp.mpf(float(v)) for v in fit.values)
    mp.mp.dps = 30
    total = mp.mpf(0)
    for x, t_x, T in cdnow_summary[["frequency", "recency", "T"]].itertuples(index=False):
        alive = mp_p_alive(fit.values, x, t_x, T)
        # L = Γ(r+x) α^r β^s / Γ(r) · (α+T)^-(r+x) (β+T)^-s / P(alive)
        total += (mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta)
                  - (r + x) * mp.log(alpha + T) - s * mp.log(beta + T) - mp.log(alive))
    assert abs(fit.log_likelihood - float(total)) < 1e-7 * abs(float(total))
