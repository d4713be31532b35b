"""The calibration/holdout split is lifetimes' `calibration_and_holdout_data`, and the table
compares mean predicted with mean actual holdout purchases by calibration frequency."""

import numpy as np
import pytest
from lifetimes.utils import calibration_and_holdout_data

from services.scoring.analysis.holdout import calibration_table, split_calibration_holdout
from services.scoring.analysis.holdout_chart import calibration_chart_png
from services.scoring.btyd import mbgnbd
from services.scoring.btyd.purchase_models import MODELS
from tests.scoring.conftest import days_since_epoch

CALIBRATION_END, OBSERVATION_END = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def split(cdnow_transactions):
    return split_calibration_holdout(
        cdnow_transactions.customer_id.to_numpy(str),
        days_since_epoch(cdnow_transactions.date.to_numpy()),
        cdnow_transactions.dollar_value.to_numpy(),
        calibration_end=days_since_epoch(CALIBRATION_END),
        observation_end=days_since_epoch(OBSERVATION_END),
    )


@pytest.fixture(scope="module")
def expected(cdnow_transactions):
    return calibration_and_holdout_data(
        cdnow_transactions, "customer_id", "date", calibration_period_end=CALIBRATION_END,
        observation_period_end=OBSERVATION_END, freq="D", monetary_value_col="dollar_value",
    ).sort_index()


def test_split_equals_lifetimes_calibration_and_holdout_data(split, expected):
    assert list(split.customers) == list(expected.index)
    for ours, theirs in [("frequency", "frequency_cal"), ("recency", "recency_cal"), ("T", "T_cal"),
                         ("holdout_frequency", "frequency_holdout")]:
        np.testing.assert_array_equal(getattr(split, ours), expected[theirs].to_numpy())
    assert split.holdout_days == expected.duration_holdout.iloc[0] == 273


def test_table_means_by_calibration_frequency_equal_a_direct_groupby(split, expected):
    params = mbgnbd.fit(split.frequency, split.recency, split.T).usable_params()
    table = calibration_table(MODELS["mbgnbd"], params, split)
    predictions = mbgnbd.expected_purchases(params, 273, expected.frequency_cal, expected.recency_cal, expected.T_cal)
    grouped = expected.assign(model_predictions=predictions).groupby("frequency_cal")[["frequency_holdout", "model_predictions"]].mean()
    np.testing.assert_array_equal(table.frequency, grouped.index[:7])
    np.testing.assert_allclose(table.actual, grouped.frequency_holdout.iloc[:7], rtol=1e-12)
    np.testing.assert_allclose(table.predicted, grouped.model_predictions.iloc[:7], rtol=1e-12)
    assert table.as_rows()[0]["n_customers"] == (expected.frequency_cal == 0).sum()


def test_chart_is_a_png(split):
    params = mbgnbd.fit(split.frequency, split.recency, split.T).usable_params()
    png = calibration_chart_png(calibration_table(MODELS["mbgnbd"], params, split), model="mbgnbd")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
