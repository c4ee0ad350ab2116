"""`occurrence_by_hour.png` as matplotlib objects: stacked bars equal the counts, and no bar or marker is cut."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auroral.edge.archive.stats import NIGHT_HOURS, add_night_columns, count_table, hourly_figure
from auroral.edge.classes import CLASSES


@pytest.fixture
def hourly() -> pd.DataFrame:
    """One hour holds far more frames than the rest (a burst), and at 23 UTC every frame is one class (share 1)."""
    times = ["2019-01-04T21:00:00Z"] * 40 + ["2019-01-04T22:10:00Z"] * 5 + ["2019-01-04T23:30:00Z"] * 6
    labels = ["breakup"] * 25 + ["arcs"] * 15 + ["faint", "arcs", "arcs", "patchy", "faint"] + ["faint"] * 6
    frame = pd.DataFrame({"captured_at": pd.to_datetime(times), "label": labels})
    return count_table(add_night_columns(frame, None), "hour", list(CLASSES), NIGHT_HOURS)


def test_stacked_bars_equal_the_counts_and_fit_under_the_limit(hourly):
    fig = hourly_figure(hourly, list(CLASSES), None)
    top, bottom = fig.axes
    bars = np.array([p.get_height() for p in top.patches]).reshape(len(CLASSES), len(NIGHT_HOURS))
    np.testing.assert_array_equal(bars, hourly[list(CLASSES)].to_numpy().T)
    tops = max(p.get_y() + p.get_height() for p in top.patches)
    assert tops == hourly["total"].max() == 40
    assert top.get_ylim()[0] == 0 and top.get_ylim()[1] >= 1.05 * tops  # headroom above the tallest stack
    low, high = bottom.get_ylim()
    assert low < 0 and high > 1  # markers at share 0 and 1 are drawn whole
    shares = np.concatenate([line.get_ydata() for line in bottom.get_lines()])
    assert np.nanmax(shares) == 1.0 and np.nanmin(shares) == 0.0
    fig.canvas.draw()
    drawn, canvas = fig.get_tightbbox(fig.canvas.get_renderer()), fig.bbox_inches
    assert canvas.x0 - 0.02 <= drawn.x0 and drawn.x1 <= canvas.x1 + 0.02  # the outside legend is on the canvas
    assert canvas.y0 - 0.02 <= drawn.y0 and drawn.y1 <= canvas.y1 + 0.02


def test_labels_name_the_units_and_the_time_scale(hourly):
    utc = hourly_figure(hourly, list(CLASSES), None)
    assert utc.axes[0].get_ylabel() == "frames per hour (count)"
    assert utc.axes[1].get_ylabel() == "share of the hour's frames"
    assert utc.axes[1].get_xlabel() == "hour (UTC)" and utc.axes[0].get_title().endswith("(UTC)")
    local = hourly_figure(hourly, list(CLASSES), 45.0)
    assert "local solar time, UTC +3.00 h" in local.axes[0].get_title()
    assert [t.get_text() for t in local.axes[1].get_xticklabels()] == [f"{h:02d}" for h in NIGHT_HOURS]
    assert [t.get_text() for t in utc.axes[0].get_legend().get_texts()] == list(CLASSES)
