"""RFM quintile scores (scoring.md §4): recency, frequency and monetary, each 1-5, 5 = best."""

from dataclasses import dataclass

import numpy as np

QUINTILES = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class RfmEdges:
    """Population quintile edges, recomputed at each calibration."""

    days_since_last: np.ndarray
    purchase_periods: np.ndarray
    total_spend: np.ndarray


def rfm_edges(*, days_since_last, purchase_periods, total_spend) -> RfmEdges:
    return RfmEdges(*(np.quantile(np.asarray(v, dtype=float), QUINTILES) for v in (days_since_last, purchase_periods, total_spend)))


def _quintile_score(values, edges) -> np.ndarray:
    """1 for the bottom fifth up to 5 for the top; a value on an edge goes to the lower group."""
    return 1 + np.searchsorted(edges, np.asarray(values, dtype=float), side="left")


def rfm_scores(edges: RfmEdges, *, days_since_last, purchase_periods, total_spend) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R, F, M) scores; fewer days since the last purchase is better, so R is reversed."""
    return (
        6 - _quintile_score(days_since_last, edges.days_since_last),
        _quintile_score(purchase_periods, edges.purchase_periods),
        _quintile_score(total_spend, edges.total_spend),
    )


def rfm_codes(recency, frequency, monetary) -> list[str]:
    """The three digits, e.g. "545"."""
    return [f"{r}{f}{m}" for r, f, m in zip(recency.tolist(), frequency.tolist(), monetary.tolist())]
