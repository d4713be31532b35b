"""Value tiers (scoring.md §6): high, medium or low by CLV percentile or amount; unrated before
the first purchase."""

import numpy as np

from services.scoring.scores.standard import TierCutoffs

UNRATED = "unrated"


def clv_percentiles(clv) -> np.ndarray:
    """Each customer's mid-rank share of the population: ties share the middle of their ranks."""
    clv = np.asarray(clv, dtype=float)
    ordered = np.sort(clv)
    below = np.searchsorted(ordered, clv, side="left")
    tied = np.searchsorted(ordered, clv, side="right") - below
    return (below + tied / 2) / clv.size


def value_tiers(clv, cutoffs: TierCutoffs, *, has_purchase=None) -> np.ndarray:
    """The tier of every customer; percentiles are taken among the customers with a purchase."""
    clv = np.asarray(clv, dtype=float)
    rated = np.ones(clv.shape, dtype=bool) if has_purchase is None else np.asarray(has_purchase, dtype=bool)
    tiers = np.full(clv.shape, UNRATED, dtype=object)
    if not rated.any():
        return tiers
    if cutoffs.by == "percentile":
        position = clv_percentiles(clv[rated])
        high, medium = position >= 1 - cutoffs.high, position >= 1 - cutoffs.high - cutoffs.medium
    else:
        high, medium = clv[rated] >= cutoffs.high, clv[rated] >= cutoffs.medium
    tiers[rated] = np.where(high, "high", np.where(medium, "medium", "low"))
    return tiers
