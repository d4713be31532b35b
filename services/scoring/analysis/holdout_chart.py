"""The holdout check as a chart: mean actual and predicted holdout purchases by calibration frequency."""

import io

import matplotlib

matplotlib.use("Agg")  # a chart rendered to bytes, never to a window
import matplotlib.pyplot as plt  # noqa: E402

from services.scoring.analysis.holdout import CalibrationTable  # noqa: E402


def calibration_chart_png(table: CalibrationTable, *, model: str) -> bytes:
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.plot(table.frequency, table.actual, marker="o", label="actual")
    axes.plot(table.frequency, table.predicted, marker="s", label=f"predicted ({model})")
    axes.set(
        xlabel="purchases in calibration period (repeat periods)",
        ylabel="average purchases in holdout period",
        title="Actual vs predicted purchases in the holdout period",
    )
    axes.legend()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    plt.close(figure)
    return png.getvalue()
