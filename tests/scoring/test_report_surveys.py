"""NPS, CSAT and CES of a period with their margins, and the buckets of their trends (scoring.md §7)."""

import math
from datetime import UTC, datetime, timedelta, timezone
from statistics import stdev

from services.scoring.scores.surveys import Z_95, survey_metric, trend_buckets


def test_no_answers_is_no_data_never_zero():
    for kind in ("nps", "csat", "ces"):
        assert survey_metric(kind, []) == {"count": 0, "score": None, "margin": None}


def test_one_answer_has_a_score_but_no_margin():
    assert survey_metric("nps", [10]) == {"count": 1, "score": 100.0, "margin": None}


def test_nps_is_promoters_minus_detractors_with_the_spread_of_plus_one_zero_minus_one():
    scores = [10, 9, 9, 8, 7, 6, 3, 10, 10, 0]  # 5 promoters, 2 passives, 3 detractors
    metric = survey_metric("nps", scores)
    votes = [1 if s >= 9 else -1 if s <= 6 else 0 for s in scores]
    population_sd = math.sqrt(sum(v * v for v in votes) / 10 - (sum(votes) / 10) ** 2)
    assert metric["count"] == 10 and metric["score"] == 20.0
    assert math.isclose(metric["margin"], Z_95 * 100 * population_sd / math.sqrt(10))


def test_csat_is_the_share_of_four_and_five_and_ces_the_mean_effort():
    csat = survey_metric("csat", [5, 4, 3, 5])
    assert csat["score"] == 75.0 and math.isclose(csat["margin"], Z_95 * 100 * math.sqrt(0.75 * 0.25 / 4))
    ces = survey_metric("ces", [7, 5, 6, 2])
    assert ces["score"] == 5.0 and math.isclose(ces["margin"], Z_95 * stdev([7, 5, 6, 2]) / 2)


def test_a_short_period_is_cut_into_iso_weeks_and_a_long_one_into_months():
    weeks = trend_buckets(datetime(2026, 3, 4, 12, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC))
    assert [label for label, _, _ in weeks] == ["2026-W10", "2026-W11", "2026-W12"]
    assert weeks[0][1] == datetime(2026, 3, 4, 12, tzinfo=UTC) and weeks[1][1] == datetime(2026, 3, 9, tzinfo=UTC)
    assert weeks[-1][2] == datetime(2026, 3, 20, tzinfo=UTC)
    months = trend_buckets(datetime(2025, 11, 15, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert [label for label, _, _ in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert all(end == following[1] for (_, _, end), following in zip(months, months[1:]))  # no gap, no overlap


def test_buckets_are_utc_whatever_the_zone_of_the_period():
    shanghai = timezone(timedelta(hours=8))
    buckets = trend_buckets(datetime(2026, 3, 1, tzinfo=shanghai), datetime(2026, 3, 3, tzinfo=shanghai))
    assert buckets[0][1] == datetime(2026, 2, 28, 16, tzinfo=UTC) and buckets[0][0] == "2026-W09"
