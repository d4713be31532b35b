"""The feedback service's settings, `PULSE_`-prefixed like every other (README's settings table)."""

from services.common.settings import Settings


class FeedbackSettings(Settings):
    survey_throttle_days: int = 30  # no new survey invitation to a customer within this many days of the last
    survey_link_expiry_days: int = 14
    survey_link_key: str = ""  # signs survey response links; made in ./data in the embedded mode
    csat_after_resolve_hours: float = 24.0  # the CSAT invitation follows a resolved complaint after this delay
    complaint_auto_close_days: int = 7  # a resolved complaint nobody closes is closed after this many days
    survey_trend_min_count: int = 5  # trend buckets with fewer answers are hidden
    survey_time_zone: str = "Asia/Shanghai"  # weeks and months of result trends are counted here
    points_expiry_days: int = 365  # points awarded expire after this many days unless redeemed
    max_invitations_per_request: int = 1000
