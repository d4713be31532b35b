"""NPS, CSAT and CES on fixed answers, worked out by hand; trends, throttling and link expiry."""

from datetime import datetime, timezone

import pytest

from services.feedback.surveys.metrics import (
    SurveyResponse,
    ces,
    csat,
    latest_answers,
    nps,
    period_summary,
    response_rate,
    trend,
)
from services.feedback.surveys.invitations import csat_invitation_at, may_answer, may_invite, may_send_csat


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_nps_counts_promoters_passives_and_detractors():
    result = nps([10, 9, 9, 8, 7, 6, 3, 0, 10, 5])
    assert (result.promoters, result.passives, result.detractors, result.count) == (4, 2, 4, 10)
    assert result.score == 0


def test_nps_is_percent_promoters_minus_percent_detractors_with_its_margin_of_error():
    result = nps([10, 10, 9, 8, 2])
    assert result.score == pytest.approx(40)  # 60 % - 20 %
    # Answers as +1/0/-1: variance 0.8 - 0.4^2 = 0.64; 1.96 * sqrt(0.64 / 5) * 100.
    assert result.margin_of_error == pytest.approx(70.12, abs=0.01)


def test_all_promoters_is_nps_100_and_all_detractors_is_minus_100():
    assert nps([9, 10, 10]).score == 100
    assert nps([0, 6, 3]).score == -100


def test_a_single_nps_answer_has_a_score_but_no_margin_of_error():
    result = nps([7])
    assert (result.score, result.passives, result.margin_of_error) == (0, 1, None)


def test_no_answers_is_no_data_never_zero():
    assert nps([]) is None
    assert csat([]) is None
    assert ces([]) is None


def test_csat_is_the_share_of_answers_four_or_five():
    result = csat([5, 4, 3, 2, 1, 5])
    assert (result.score, result.satisfied, result.count) == (50, 3, 6)
    assert result.margin_of_error == pytest.approx(40.01, abs=0.01)  # 1.96 * sqrt(0.25 / 6) * 100
    assert csat([5, 5]).score == 100
    assert csat([3]).score == 0


def test_ces_is_the_mean_effort_with_the_share_of_five_to_seven():
    result = ces([1, 2, 5, 7, 7])
    assert (result.mean, result.low_effort_share, result.count) == (4.4, 60, 5)
    assert result.margin_of_error == pytest.approx(2.448, abs=0.001)  # 1.96 * sqrt(7.8) / sqrt(5)
    assert ces([4]).margin_of_error is None


def test_a_score_outside_its_scale_is_refused():
    with pytest.raises(ValueError, match="csat score 6 is outside 1-5"):
        SurveyResponse("i-1", "csat", 6, utc(2026, 3, 2))


def test_a_changed_answer_keeps_only_the_latest_for_metrics():
    first = SurveyResponse("i-1", "nps", 3, utc(2026, 3, 2, 10))
    changed = SurveyResponse("i-1", "nps", 9, utc(2026, 3, 2, 11))
    other = SurveyResponse("i-2", "nps", 10, utc(2026, 3, 2, 9))
    for arrival in ([first, changed, other], [changed, first, other]):
        assert sorted(r.score for r in latest_answers(arrival)) == [9, 10]


def test_trend_buckets_follow_iso_weeks_in_the_reporting_time_zone():
    sunday_evening_utc = SurveyResponse("i-1", "nps", 10, utc(2026, 3, 1, 17))  # Monday 01:00 in Shanghai
    buckets = trend([sunday_evening_utc], scale="nps", period="iso_week", time_zone="Asia/Shanghai", min_count=1)
    assert [(b.label, b.starts_on.isoformat(), b.count) for b in buckets] == [("2026-W10", "2026-03-02", 1)]
    in_utc = trend([sunday_evening_utc], scale="nps", period="iso_week", time_zone="UTC", min_count=1)
    assert in_utc[0].label == "2026-W09"


def test_trend_hides_buckets_below_the_minimum_count():
    responses = [
        SurveyResponse("i-1", "csat", 5, utc(2026, 3, 31, 20)),  # 1 April in Shanghai
        SurveyResponse("i-2", "csat", 2, utc(2026, 4, 2)),
        SurveyResponse("i-3", "csat", 4, utc(2026, 3, 10)),
    ]
    buckets = trend(responses, scale="csat", period="month", time_zone="Asia/Shanghai", min_count=2)
    assert [(b.label, b.count, b.hidden) for b in buckets] == [("2026-03", 1, True), ("2026-04", 2, False)]
    assert buckets[0].value is None
    assert buckets[1].value.score == 50


def test_no_new_invitation_within_thirty_days_of_the_last_send_and_it_says_why():
    refused = may_invite(utc(2026, 3, 1, 10), utc(2026, 3, 20), throttle_days=30)
    assert not refused.allowed
    assert "throttled" in refused.reason and "2026-03-31T10:00:00+00:00" in refused.reason
    assert may_invite(utc(2026, 3, 1, 10), utc(2026, 3, 31, 10)).allowed
    assert may_invite(None, utc(2026, 3, 20)).allowed


def test_a_survey_link_expires_fourteen_days_after_it_was_sent():
    assert may_answer(utc(2026, 3, 1, 10), utc(2026, 3, 15, 9, 59)).allowed
    expired = may_answer(utc(2026, 3, 1, 10), utc(2026, 3, 15, 10))
    assert not expired.allowed and expired.reason == "link expired at 2026-03-15T10:00:00+00:00"


def test_the_response_rate_leaves_out_throttled_sends_and_has_no_data_without_sends():
    assert response_rate(sent=4, answered=1) == 25
    assert response_rate(sent=0, answered=0) is None


def test_the_csat_invitation_goes_out_a_day_after_resolve_unless_resolved_without_survey():
    assert csat_invitation_at(utc(2026, 3, 2, 10)) == utc(2026, 3, 3, 10)
    assert csat_invitation_at(utc(2026, 3, 2, 10), without_survey=True) is None


def test_a_reopen_before_the_invitation_goes_out_cancels_it():
    refused = may_send_csat(utc(2026, 3, 3, 10), reopened_at=utc(2026, 3, 3, 9))
    assert not refused.allowed and refused.reason.startswith("cancelled: the complaint was reopened")
    assert may_send_csat(utc(2026, 3, 3, 10), reopened_at=utc(2026, 3, 3, 11)).allowed
    assert may_send_csat(utc(2026, 3, 3, 10), reopened_at=None).allowed


def test_a_period_summary_gives_each_metric_of_the_answers_in_the_period_or_none():
    responses = [
        SurveyResponse("i-1", "nps", 10, utc(2026, 3, 2)),
        SurveyResponse("i-2", "nps", 4, utc(2026, 3, 3)),
        SurveyResponse("i-3", "csat", 5, utc(2026, 3, 4)),
        SurveyResponse("i-4", "nps", 10, utc(2026, 4, 1)),  # the next period
    ]
    summary = period_summary(responses, utc(2026, 3, 1), utc(2026, 4, 1))
    assert (summary["nps"].score, summary["nps"].count) == (0, 2)
    assert (summary["csat"].score, summary["csat"].count) == (100, 1)
    assert summary["ces"] is None
