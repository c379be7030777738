"""The activation page's charts: each finished run's rows and duration, oldest first."""

from common import charts

from .models import Activation, Run

RUNS_CHARTED = 30


def run_charts(activation: Activation) -> dict:
    """{"rows": svg, "duration": svg} for the last RUNS_CHARTED finished runs, or {}."""
    runs = list(
        activation.runs.exclude(finished_at=None)
        # Cancelled and skipped runs sent nothing worth charting.
        .exclude(status__in=[Run.Status.CANCELLED, Run.Status.SKIPPED])
        .order_by("-finished_at", "-pk")[:RUNS_CHARTED]
    )[::-1]
    if not runs:
        return {}
    labels = [f"#{run.display_number}" for run in runs]
    series = [charts.Series("Succeeded", [run.rows_succeeded for run in runs], "chart-sent")]
    # rows_unchanged arrives with incremental runs; charted once the field exists.
    if any(hasattr(run, "rows_unchanged") for run in runs):
        series.append(
            charts.Series(
                "Unchanged",
                [getattr(run, "rows_unchanged", 0) or 0 for run in runs],
                "chart-unchanged",
            )
        )
    series.append(charts.Series("Failed", [run.rows_failed for run in runs], "chart-failed"))
    return {
        "rows": charts.stacked_bars(title="Rows per run", labels=labels, series=series),
        "duration": charts.line(
            title="Duration per run",
            labels=labels,
            values=[run.duration.total_seconds() if run.duration else 0 for run in runs],
            unit="s",
        ),
    }
