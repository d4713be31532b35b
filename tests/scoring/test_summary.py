"""The purchase summary follows lifetimes' daily convention, for any order of the same events."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifetimes.utils import summary_data_from_transaction_data

from services.scoring.scores.summary import CustomerPurchases, EventAfterAsOf, summarise_purchases
from tests.scoring.conftest import days_since_epoch

AS_OF = days_since_epoch("1998-06-30")


def test_cdnow_summary_of_every_customer_equals_lifetimes(cdnow_transactions):
    expected = summary_data_from_transaction_data(
        cdnow_transactions, "customer_id", "date", "dollar_value", observation_period_end="1998-06-30", freq="D"
    ).sort_index()
    ours = summarise_purchases(
        cdnow_transactions.customer_id.to_numpy(str),
        days_since_epoch(cdnow_transactions.date.to_numpy()),
        cdnow_transactions.dollar_value.to_numpy(),
        as_of=AS_OF,
    )
    assert len(ours.customers) == 23_570
    assert list(ours.customers) == list(expected.index)
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(getattr(ours, column), expected[column].to_numpy())
    # lifetimes sums floats; ours sums exact ten-thousandths: equal to rounding of the last bits.
    np.testing.assert_allclose(ours.monetary, expected.monetary_value.to_numpy(), rtol=1e-12, atol=0)


def summary_of(events, as_of):
    customers, days, amounts = (np.array(column) for column in zip(*events))
    return summarise_purchases(customers, days, amounts, as_of=as_of)


def test_several_purchases_on_one_day_are_one_period_with_summed_amount():
    summary = summary_of([("c", 0.2, 10.0), ("c", 5.1, 3.0), ("c", 5.9, 4.5), ("c", 9.0, 1.5)], as_of=12)
    assert (summary.frequency[0], summary.recency[0], summary.T[0]) == (2, 9, 12)
    assert summary.monetary[0] == pytest.approx((7.5 + 1.5) / 2)
    assert summary.total_spend[0] == pytest.approx(19.0)


def test_a_purchase_of_zero_is_a_purchase():
    summary = summary_of([("c", 0, 10.0), ("c", 3, 0.0)], as_of=5)
    assert (summary.frequency[0], summary.recency[0], summary.monetary[0]) == (1, 3, 0.0)


def test_a_fully_refunded_day_no_longer_counts():
    summary = summary_of([("c", 0, 10.0), ("c", 3, 20.0), ("c", 3, -20.0), ("d", 1, 5.0), ("d", 1, -5.0)], as_of=5)
    assert list(summary.customers) == ["c"]
    assert (summary.frequency[0], summary.recency[0]) == (0, 0)


def test_a_partial_refund_reduces_its_day():
    summary = summary_of([("c", 0, 10.0), ("c", 3, 20.0), ("c", 3, -5.0)], as_of=5)
    assert (summary.frequency[0], summary.monetary[0]) == (1, 15.0)


def test_an_event_after_as_of_is_refused_with_its_position():
    with pytest.raises(EventAfterAsOf) as refused:
        summary_of([("c", 0, 10.0), ("c", 6.5, 1.0)], as_of=5.9)
    assert refused.value.event_index == 1


amounts = st.one_of(st.integers(0, 50_000), st.integers(-50_000, -1)).map(lambda cents: cents / 100)
events = st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 30).map(float), amounts), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(events=events, seed=st.integers(0, 2**32 - 1))
def test_summary_does_not_depend_on_event_order(events, seed):
    shuffled = [events[i] for i in np.random.default_rng(seed).permutation(len(events))]
    assert _as_rows(summary_of(events, 40)) == _as_rows(summary_of(shuffled, 40))


@settings(max_examples=150, deadline=None)
@given(events=events, seed=st.integers(0, 2**32 - 1))
def test_incremental_form_equals_batch_form_for_events_in_any_order(events, seed):
    histories = {}
    for i in np.random.default_rng(seed).permutation(len(events)):
        customer, day, amount = events[i]
        histories.setdefault(customer, CustomerPurchases()).record(day=day, amount=amount)
    incremental = {c: h.summary(as_of=40) for c, h in histories.items()}
    incremental_rows = {
        c: (s.frequency, s.recency, s.T, s.monetary, s.total_spend) for c, s in incremental.items() if s is not None
    }
    assert incremental_rows == _as_rows(summary_of(events, 40))


def _as_rows(summary):
    return {
        c: (f, r, t, m, s)
        for c, f, r, t, m, s in zip(
            summary.customers, summary.frequency, summary.recency, summary.T, summary.monetary, summary.total_spend
        )
    }
