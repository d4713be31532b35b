"""The demo shop's generator: seeded and pure, its purchases as BG/NBD and Gamma-Gamma say, its people Chinese."""

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import phonenumbers
import pytest

from services.demo import shop
from services.scoring.btyd import bgnbd

ANCHOR = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HAN = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


@pytest.fixture(scope="module")
def population():
    return shop.customers(11, 1500, ANCHOR)


def test_the_same_seed_draws_the_same_customers_whatever_the_count_and_the_start():
    alone = shop.customer(3, 42, ANCHOR)
    among = shop.customers(3, 10, ANCHOR, start=40)[2]
    assert (alone.name, alone.phone, alone.purchases, alone.complaint) == (among.name, among.phone, among.purchases, among.complaint)
    assert shop.customer(4, 42, ANCHOR).external_id != alone.external_id


@pytest.mark.parametrize("segment", shop.SEGMENTS, ids=lambda s: s.name)
def test_repeat_purchases_per_segment_match_the_bgnbd_mean(segment):
    """The mean repeat count over 365 days against E[X(t)] = sum n P(X(t) = n) from scoring's BG/NBD."""
    rng = np.random.default_rng(5)
    counts = np.array([len(shop.repeat_purchase_days(rng, segment, 365.0)) for _ in range(6000)])
    params = (segment.r, segment.alpha, segment.a, segment.b)
    n = np.arange(0, 400)
    expected = float(np.sum(n * bgnbd.probability_of_purchases(params, n, 365.0)))
    standard_error = counts.std() / np.sqrt(counts.size)
    assert abs(counts.mean() - expected) < 4 * standard_error + 0.02 * expected


@pytest.mark.parametrize("segment", shop.SEGMENTS, ids=lambda s: s.name)
def test_order_values_per_segment_match_the_gamma_gamma_mean(segment):
    rng = np.random.default_rng(6)
    values = np.array([float(v) for _ in range(4000) for v in shop.order_values(rng, segment, 3)])
    assert values.mean() == pytest.approx(segment.mean_order_value(), rel=0.08)


def test_the_best_customers_buy_more_often_and_spend_more_than_the_occasional(population):
    def per_customer(name, measure):
        return np.mean([measure(c) for c in population if c.segment == name])

    purchases = {s.name: per_customer(s.name, lambda c: len(c.purchases)) for s in shop.SEGMENTS}
    spend = {s.name: per_customer(s.name, lambda c: float(sum(p.amount for p in c.purchases))) for s in shop.SEGMENTS}
    assert purchases["vip"] > purchases["regular"] > purchases["occasional"]
    assert spend["vip"] > 2 * spend["occasional"]


def test_some_customers_slip_away_silent_for_months_before_the_end(population):
    slipping = [c for c in population if c.segment == "slipping_away" and len(c.purchases) > 1]
    silent = [c for c in slipping if ANCHOR - c.purchases[-1].occurred_at > timedelta(days=180)]
    assert len(silent) > 0.3 * len(slipping)


def test_names_phones_and_addresses_are_chinese_and_valid_for_cn(population):
    for plan in population:
        assert HAN.match(plan.name), plan.name
        number = phonenumbers.parse(plan.phone)
        assert phonenumbers.is_valid_number(number) and phonenumbers.region_code_for_number(number) == "CN"
        assert re.search(r"[\u4e00-\u9fff]", plan.address)
    assert len({p.phone for p in population}) == len({p.email for p in population}) == len(population)


def test_history_lies_in_the_two_years_before_the_anchor_in_shop_hours(population):
    start = ANCHOR - timedelta(days=shop.HISTORY_DAYS)
    moments = [p.occurred_at for c in population for p in c.purchases]
    assert min(moments) >= start - timedelta(days=1) and max(moments) < ANCHOR
    assert all(9 <= m.astimezone(shop.SHANGHAI).hour < 22 for m in moments)
    refunds = [p for c in population for p in c.purchases if p.refund_amount]
    assert refunds and all(0 < p.refund_amount <= p.amount and p.occurred_at < p.refunded_at < ANCHOR for p in refunds)


def test_complaints_surveys_and_feedback_are_a_minority_with_every_path(population):
    complaints = [c.complaint for c in population if c.complaint]
    assert 0.005 < len(complaints) / len(population) < 0.06
    assert {p.path for p in complaints} >= {(), ("acknowledge", "start", "reply", "resolve", "close")}
    kinds = {c.survey.kind for c in population if c.survey}
    assert kinds == {"nps", "csat", "ces"}
    scores = [c.survey.score for c in population if c.survey and c.survey.kind == "nps"]
    assert all(0 <= s <= 10 for s in scores) and min(scores) <= 6 and max(scores) >= 9
