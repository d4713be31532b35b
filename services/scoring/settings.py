"""The scoring service's settings (`PULSE_SCORING_*`), beside the platform's own."""

from pydantic import Field

from services.common.settings import Settings


class ScoringSettings(Settings):
    scoring_model: str = "mbgnbd"  # the purchase-count model for p_alive: mbgnbd, bgnbd or paretonbd
    scoring_refit_interval_seconds: float = Field(default=86_400.0, gt=0)
    scoring_min_population: int = Field(default=200, ge=1)  # customers with a purchase needed to fit
    # Used below the minimum population: CDNOW's published fit, its times turned from weeks into days.
    scoring_prior_r: float = Field(default=0.243, gt=0)
    scoring_prior_alpha: float = Field(default=30.9, gt=0)
    scoring_prior_a: float = Field(default=0.793, gt=0)
    scoring_prior_b: float = Field(default=2.426, gt=0)
    scoring_prior_p: float = Field(default=6.25, gt=0)
    scoring_prior_q: float = Field(default=3.74, gt=1)
    scoring_prior_v: float = Field(default=15.44, gt=0)
    scoring_horizon_months: int = Field(default=12, ge=1)
    scoring_monthly_discount: float = Field(default=0.01, ge=0)
    scoring_health_step: float = Field(default=5.0, gt=0)  # the default standard's score_change_step
    # Customers re-scored per transaction in bulk: at 5,000 a batch's cards, rows and events swung the
    # refit's memory by about 50 MB (100,000 customers); at 2,000 it stayed flat (200,000, the first refit).
    scoring_rescore_batch: int = Field(default=2_000, ge=1)
    # Re-score batches in flight at once on PostgreSQL (SQLite: always one).
    scoring_rescore_lanes: int = Field(default=2, ge=1, le=16)

    def purchase_priors(self) -> dict[str, float]:
        return {"r": self.scoring_prior_r, "alpha": self.scoring_prior_alpha,
                "a": self.scoring_prior_a, "b": self.scoring_prior_b}

    def order_value_priors(self) -> dict[str, float]:
        return {"p": self.scoring_prior_p, "q": self.scoring_prior_q, "v": self.scoring_prior_v}
