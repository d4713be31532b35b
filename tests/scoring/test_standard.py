"""An invalid evaluation standard is refused with a message that names the field."""

import pytest

from services.scoring.scores.standard import DEFAULT_STANDARD, EvaluationStandard, InvalidStandard


def test_default_standard_round_trips_through_its_dict():
    assert EvaluationStandard.from_dict(DEFAULT_STANDARD.to_dict()) == DEFAULT_STANDARD
    assert DEFAULT_STANDARD.to_dict()["weights"] == {
        "value": 0.25, "activity": 0.25, "loyalty": 0.15, "satisfaction": 0.20, "service": 0.15,
    }


@pytest.mark.parametrize(
    "change, message",
    [
        ({"weights": {"value": 0.5, "activity": 0.4}}, "weights: must sum to 1, got 0.9"),
        ({"weights": {"value": -0.25, "activity": 1.25}}, "weights.value: must be >= 0"),
        ({"weights": {"value": 0.5, "charisma": 0.5}}, "weights.charisma: unknown indicator"),
        ({"weights": {"value": "half", "activity": 0.5}}, "weights.value: must be a number"),
        ({"stages": {"at_risk_below": 0.2, "churned_below": 0.5}}, "stages.churned_below: must be above 0 and below stages.at_risk_below"),
        ({"stages": {"at_risk_below": 1.5}}, "stages.at_risk_below: must be a probability"),
        ({"tiers": {"high": 0.6, "medium": 0.5}}, "tiers.medium: must be a share between 0 and 1 - tiers.high"),
        ({"tiers": {"by": "amount", "high": 100, "medium": 500}}, "tiers.medium: must be >= 0 and below tiers.high"),
        ({"tiers": {"by": "mood"}}, "tiers.by: must be one of percentile, amount"),
        ({"indicators": {"satisfaction_half_life_days": 0}}, "indicators.satisfaction_half_life_days: must be > 0"),
        ({"version": ""}, "version: must be a whole number >= 1, got ''"),
        ({"version": 0}, "version: must be a whole number >= 1, got 0"),
        ({"colour": "blue"}, "colour: unknown field"),
    ],
)
def test_invalid_standard_is_refused_naming_the_field(change, message):
    with pytest.raises(InvalidStandard) as refused:
        EvaluationStandard.from_dict(DEFAULT_STANDARD.to_dict() | change)
    assert str(refused.value).startswith(message)
    assert refused.value.field == message.split(":")[0]


def test_a_valid_custom_standard_keeps_its_version_and_values():
    standard = EvaluationStandard.from_dict(
        {"version": 2, "weights": {"value": 0.5, "activity": 0.5}, "tiers": {"by": "amount", "high": 500, "medium": 100}}
    )
    assert standard.version == 2 and standard.weights["value"] == 0.5
    assert standard.tiers.by == "amount" and standard.stages == DEFAULT_STANDARD.stages
