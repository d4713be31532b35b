"""Datasets shipped with lifetimes (a test-only dependency), read where lifetimes installed them."""

from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

DATASETS = files("lifetimes.datasets")


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    """2,357 customers in weeks: frequency, recency, T."""
    return pd.read_csv(DATASETS / "cdnow_customers_summary.csv")


@pytest.fixture(scope="session")
def cdnow_with_values() -> pd.DataFrame:
    """The same customers with their mean repeat order value zbar; times here turned into days."""
    data = pd.read_csv(DATASETS / "cdnow_customers_summary_with_transactions.csv")
    return data.assign(t_x_days=data.t_x * 7, T_days=data["T"] * 7)


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    data = pd.read_csv(DATASETS / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": str, "date": str})
    return data.assign(date=pd.to_datetime(data["date"], format="%Y%m%d"))


def days_since_epoch(dates) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[D]").astype(np.int64).astype(float)
