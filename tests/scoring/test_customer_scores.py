"""Population scores equal the per-customer formulas, and their intervals bracket the estimates."""

import numpy as np
import pytest

from services.scoring.btyd import clv, gamma_gamma
from services.scoring.btyd.purchase_models import MODELS
from services.scoring.scores.customer_scores import score_customers, score_intervals


@pytest.fixture(scope="module")
def history(cdnow_with_values):
    data = cdnow_with_values
    return dict(x=data.x.to_numpy(float), t_x=data.t_x_days.to_numpy(), T=data.T_days.to_numpy(), monetary=data.zbar.to_numpy())


@pytest.fixture(scope="module")
def order_value_fit(history):
    return gamma_gamma.fit(history["x"], history["monetary"])


@pytest.mark.parametrize("name", list(MODELS))
def test_population_scores_equal_per_customer_formulas(name, history, order_value_fit):
    model = MODELS[name]
    params = model.fit(history["x"], history["t_x"], history["T"]).usable_params()
    scores = score_customers(model, params, order_value_fit.usable_params(), **history)
    x, t_x, T = history["x"], history["t_x"], history["T"]
    np.testing.assert_allclose(scores.p_alive, model.p_alive(params, x, t_x, T), rtol=1e-12)
    np.testing.assert_allclose(scores.expected_purchases[90], model.expected_purchases(params, 90.0, x, t_x, T), rtol=1e-12)
    order_value = gamma_gamma.expected_order_value(order_value_fit.values, x, history["monetary"])
    expected_clv = clv.customer_lifetime_value(lambda t, *h: model.expected_purchases(params, t, *h), x, t_x, T, order_value)
    np.testing.assert_allclose(scores.clv, expected_clv, rtol=1e-12)


def test_ninety_percent_intervals_bracket_the_estimates(history, order_value_fit):
    model = MODELS["mbgnbd"]
    fit = model.fit(history["x"], history["t_x"], history["T"])
    point = score_customers(model, fit.values, order_value_fit.values, **history)
    bounds = score_intervals(model, fit, order_value_fit, **history, draws=100)
    for (low, high), estimate in [(bounds.p_alive, point.p_alive), (bounds.clv, point.clv),
                                  (bounds.expected_purchases[365], point.expected_purchases[365])]:
        assert np.all(low <= high)
        assert np.mean((low <= estimate) & (estimate <= high)) > 0.95
        assert np.median(high - low) > 0
