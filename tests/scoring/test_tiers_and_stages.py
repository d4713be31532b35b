"""Value tiers by CLV percentile or amount, RFM quintiles, and lifecycle stages with reactivation."""

import numpy as np

from services.scoring.scores.lifecycle import next_stage
from services.scoring.scores.rfm import rfm_codes, rfm_edges, rfm_scores
from services.scoring.scores.standard import DEFAULT_STANDARD, StageThresholds, TierCutoffs
from services.scoring.scores.tiers import value_tiers

STAGES = DEFAULT_STANDARD.stages


def test_tiers_by_percentile_put_the_top_fifth_high_and_the_next_thirty_percent_medium():
    tiers = value_tiers(np.random.default_rng(3).permutation(1000).astype(float), TierCutoffs())
    assert (tiers == "high").sum() == 200 and (tiers == "medium").sum() == 300 and (tiers == "low").sum() == 500


def test_customer_without_purchase_is_unrated_and_left_out_of_percentiles():
    tiers = value_tiers([0.0, 10.0, 20.0, 30.0, 40.0, 50.0], TierCutoffs(high=0.2, medium=0.4),
                        has_purchase=[False, True, True, True, True, True])
    assert list(tiers) == ["unrated", "low", "low", "medium", "medium", "high"]


def test_tiers_by_amount_use_the_clv_cut_offs():
    tiers = value_tiers([50.0, 100.0, 499.0, 500.0], TierCutoffs(by="amount", high=500, medium=100))
    assert list(tiers) == ["low", "medium", "medium", "high"]


def test_rfm_scores_give_five_to_the_most_recent_frequent_and_spending_fifth():
    days_since_last = np.arange(100.0)
    periods, spend = np.arange(1.0, 101.0), np.arange(100.0) * 3
    edges = rfm_edges(days_since_last=days_since_last, purchase_periods=periods, total_spend=spend)
    r, f, m = rfm_scores(edges, days_since_last=days_since_last, purchase_periods=periods, total_spend=spend)
    assert all((np.bincount(score)[1:] == 20).all() for score in (r, f, m))
    assert rfm_codes(r, f, m)[0] == "511" and rfm_codes(r, f, m)[-1] == "155"


def stage(previous, periods, p_alive, purchased=False):
    return next_stage(previous, purchase_periods=periods, p_alive=p_alive, purchased=purchased, thresholds=STAGES)


def test_stages_run_from_prospect_through_new_and_active_to_at_risk_and_churned():
    assert stage("prospect", 0, None).current == "prospect"
    assert stage("prospect", 1, 0.9, purchased=True).current == "new"
    assert stage("new", 2, 0.9, purchased=True).current == "active"
    assert stage("active", 2, 0.45).current == "at_risk"
    assert stage("at_risk", 2, 0.15).current == "churned"


def test_purchase_from_at_risk_or_churned_returns_to_active_marked_reactivated():
    for lapsed in ("at_risk", "churned"):
        change = stage(lapsed, 5, 0.3, purchased=True)
        assert (change.current, change.reactivated, change.changed) == ("active", True, True)
    assert not stage("active", 5, 0.9, purchased=True).reactivated


def test_stage_thresholds_come_from_the_standard():
    strict = StageThresholds(at_risk_below=0.8, churned_below=0.6)
    change = next_stage("active", purchase_periods=3, p_alive=0.7, purchased=False, thresholds=strict)
    assert change.current == "at_risk"
