"""Lifecycle stages (scoring.md §6): prospect → new → active → at_risk → churned, and back to
active, marked as a reactivation, when an at-risk or churned customer buys again."""

from dataclasses import dataclass

import numpy as np

from services.scoring.scores.standard import StageThresholds

PROSPECT, NEW, ACTIVE, AT_RISK, CHURNED = "prospect", "new", "active", "at_risk", "churned"
LAPSED = (AT_RISK, CHURNED)


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
    stages, reactivated = next_stages(np.array([previous], dtype=object), purchase_periods=np.array([purchase_periods]),
                                      p_alive=np.array([np.nan if p_alive is None else p_alive]),
                                      purchased=np.array([purchased]), thresholds=thresholds)
    return StageChange(previous, stages[0], bool(reactivated[0]))


def next_stages(previous: np.ndarray, *, purchase_periods: np.ndarray, p_alive: np.ndarray, purchased: np.ndarray,
                thresholds: StageThresholds) -> tuple[list[str], np.ndarray]:
    """Many customers' stages at once (p_alive NaN where unknown): a lapsed customer who buys is
    active again, a reactivation; otherwise the stage follows from the purchases and p_alive."""
    reactivated = purchased & np.isin(previous, LAPSED)
    with np.errstate(invalid="ignore"):
        stage = np.select(
            [reactivated, purchase_periods == 0, p_alive < thresholds.churned_below, p_alive < thresholds.at_risk_below,
             purchase_periods == 1],
            [ACTIVE, PROSPECT, CHURNED, AT_RISK, NEW], ACTIVE)
    return stage.tolist(), reactivated
