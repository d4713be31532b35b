"""Lifecycle stages (scoring.md §6): prospect → new → active → at_risk → churned, and back to
active, marked as a reactivation, when an at-risk or churned customer buys again."""

from dataclasses import dataclass

from services.scoring.scores.standard import StageThresholds

PROSPECT, NEW, ACTIVE, AT_RISK, CHURNED = "prospect", "new", "active", "at_risk", "churned"
LAPSED = (AT_RISK, CHURNED)


def lifecycle_stage(*, purchase_periods: int, p_alive: float | None, thresholds: StageThresholds) -> str:
    if purchase_periods == 0:
        return PROSPECT
    if p_alive is not None and p_alive < thresholds.churned_below:
        return CHURNED
    if p_alive is not None and p_alive < thresholds.at_risk_below:
        return AT_RISK
    return NEW if purchase_periods == 1 else ACTIVE


@dataclass(frozen=True)
class StageChange:
    previous: str
    current: str
    reactivated: bool

    @property
    def changed(self) -> bool:
        return self.previous != self.current


def next_stage(previous: str, *, purchase_periods: int, p_alive: float | None, purchased: bool,
               thresholds: StageThresholds) -> StageChange:
    """The stage after an event; `purchased` says the event was a purchase."""
    if purchased and previous in LAPSED:
        return StageChange(previous, ACTIVE, reactivated=True)
    stage = lifecycle_stage(purchase_periods=purchase_periods, p_alive=p_alive, thresholds=thresholds)
    return StageChange(previous, stage, reactivated=False)
