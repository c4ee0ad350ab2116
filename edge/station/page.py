"""The station page: what an observer wants at a glance, rendered on the server as one HTML document.

It shows the newest frame (label, confidence, sky, capture time, and the picture from ``/latest.jpg``), the
labels of the last :data:`WINDOW` as a ribbon over capture time (inline SVG, one coloured segment per run
of a label), the recent alerts and triggers, and the health of each component. The page is self-contained:
no script, no external style, font or image, so nothing leaves the station; it reloads itself every
:data:`REFRESH_S` seconds. Every text on it comes through :func:`_text`, which escapes HTML and shows
control characters as ``\\xNN``: frame names come from whoever writes into the watch folder.
"""
from __future__ import annotations

import html
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from string import Template
from typing import Any

from auroral.edge.station.history import Decision, SeenFrame

WINDOW = timedelta(hours=12)
REFRESH_S = 30
MAX_DECISIONS = 20
#: a frame stands for the sky until the next one, but for no longer than this (a gap shows as no data)
MAX_SPAN = timedelta(minutes=5)

_COLOURS = {"breakup": "#e8453c", "colored": "#b15cd6", "arcs": "#3cba54", "discrete": "#f4c20d",
            "patchy": "#23a8c9", "edge": "#8d6e63", "faint": "#3f6fb5"}
_PALETTE = ("#e67e22", "#16a085", "#9b59b6", "#2ecc71", "#f1c40f", "#1abc9c", "#e74c3c", "#3498db")
_UNLABELLED = "#555b66"  # frames not classified (daylight, twilight) or too uncertain to count
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="$refresh">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>auroral · $station</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #0d1117; color: #e6edf3; }
header, main { max-width: 980px; margin: 0 auto; padding: 0 16px; }
header { display: flex; align-items: baseline; gap: 16px; }
h1 { font-size: 22px; } h2 { font-size: 16px; margin: 20px 0 8px; color: #9fb0c3; }
.ok { color: #3fb950; } .bad { color: #f85149; }
#now { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
#latest { width: 320px; height: 320px; object-fit: contain; background: #000; border: 1px solid #30363d; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 16px; margin: 0; }
dt { color: #9fb0c3; } dd { margin: 0; overflow-wrap: anywhere; }
#ribbon svg { width: 100%; height: 48px; display: block; border: 1px solid #30363d; background: #161b22; }
.axis { display: flex; justify-content: space-between; color: #9fb0c3; font-size: 13px; }
.legend span { display: inline-block; margin-right: 12px; font-size: 13px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #21262d; white-space: nowrap; }
td.frame, td.details { white-space: normal; overflow-wrap: anywhere; }
th { color: #9fb0c3; font-weight: normal; }
</style>
</head>
<body>
<header><h1>$station</h1><p id="healthy" class="$health_class">$health_text</p></header>
<main>
<section id="now">
<img id="latest" src="/latest.jpg" alt="$image_alt">
<dl>
<dt>label</dt><dd id="label">$label</dd>
<dt>confidence</dt><dd id="confidence">$confidence</dd>
<dt>sky</dt><dd id="sky">$sky</dd>
<dt>captured</dt><dd id="captured">$captured</dd>
<dt>frame</dt><dd id="frame">$frame</dd>
</dl>
</section>
<section id="ribbon">
<h2>Labels over capture time (last $window_h h)</h2>
$ribbon
</section>
<section id="decisions">
<h2>Alerts and triggers</h2>
$decisions
</section>
<section id="health">
<h2>Components</h2>
$components
</section>
<p class="axis"><span>page made $now</span><span>reloads every $refresh s</span></p>
</main>
</body>
</html>
""")


@dataclass(frozen=True)
class PageData:
    """Everything the page shows, read at one moment."""

    station: str
    now: datetime
    frames: Sequence[SeenFrame]  # the last WINDOW, in capture order
    decisions: Sequence[Decision]  # the same window, oldest first
    healthy: bool
    components: dict[str, dict[str, Any]]  # Supervisor.health()'s report
    gave_up: str | None


@dataclass(frozen=True)
class Segment:
    """A run of frames with one label: from the first one's capture to where the last one stops counting."""

    label: str | None
    start: datetime
    end: datetime
    frames: int


def render(data: PageData) -> str:
    latest = data.frames[-1] if data.frames else None
    if data.gave_up:
        health_text = f"stopping: {data.gave_up} failed too often"
    else:
        health_text = "healthy" if data.healthy else "unhealthy: " + ", ".join(
            name for name, report in data.components.items() if not report["ok"])
    return _PAGE.substitute(
        refresh=REFRESH_S, station=_text(data.station), now=_time(data.now),
        window_h=f"{WINDOW / timedelta(hours=1):g}",
        health_class="ok" if data.healthy else "bad", health_text=_text(health_text),
        image_alt=_text(f"the latest frame, {latest.frame}" if latest else "no frame yet"),
        label=_text(_label(latest) if latest else "no frame yet"),
        confidence=_text(f"{latest.confidence:.3f}" if latest and latest.confidence is not None else "–"),
        sky=_text(latest.sky if latest and latest.sky else "unknown"),
        captured=_text(_time(latest.captured_at) if latest else "–"),
        frame=_text(latest.frame if latest else "–"),
        ribbon=ribbon(data.frames), decisions=_decisions(data.decisions), components=_components(data.components))


def segments(frames: Sequence[SeenFrame]) -> list[Segment]:
    """Runs of one label in capture order. A frame counts until the next one, for at most :data:`MAX_SPAN`
    (the last one for the typical interval between frames), so a camera that stopped leaves a gap."""
    if not frames:
        return []
    gaps = sorted(b.captured_at - a.captured_at for a, b in pairwise(frames))
    cadence = min(gaps[len(gaps) // 2] if gaps else timedelta(minutes=1), MAX_SPAN) or timedelta(seconds=1)
    runs: list[Segment] = []
    for i, frame in enumerate(frames):
        label = None if frame.uncertain else frame.label
        nxt = frames[i + 1].captured_at if i + 1 < len(frames) else frame.captured_at + cadence
        end = min(nxt, frame.captured_at + MAX_SPAN)
        if runs and runs[-1].label == label and runs[-1].end == frame.captured_at:
            runs[-1] = Segment(label, runs[-1].start, end, runs[-1].frames + 1)
        else:
            runs.append(Segment(label, frame.captured_at, end, 1))
    return runs


def ribbon(frames: Sequence[SeenFrame]) -> str:
    """The label ribbon: an inline SVG from the first frame's capture to the last one's end, a legend, the times."""
    runs = segments(frames)
    if not runs:
        return '<p id="no-frames">no frames recorded in this window</p>'
    start, end = runs[0].start, runs[-1].end
    span = (end - start).total_seconds() or 1.0
    rects = []
    for run in runs:
        x = 1000 * (run.start - start).total_seconds() / span
        width = max(1000 * (run.end - run.start).total_seconds() / span, 0.5)
        name = run.label or "not labelled"
        rects.append(f'<rect class="segment" x="{x:.2f}" y="0" width="{width:.2f}" height="40" '
                     f'fill="{colour(run.label)}" data-label="{_text(name)}"><title>{_text(name)}: '
                     f'{_text(_time(run.start))} – {_text(_time(run.end))}, {run.frames} frames</title></rect>')
    labels = sorted({run.label for run in runs}, key=lambda label: (label is None, label or ""))
    legend = "".join(f'<span><i style="background:{colour(label)}"></i>{_text(label or "not labelled")}</span>'
                     for label in labels)
    return (f'<svg viewBox="0 0 1000 40" preserveAspectRatio="none" role="img" '
            f'aria-label="labels over capture time">{"".join(rects)}</svg>\n'
            f'<p class="axis"><span>{_text(_time(start))}</span><span>{len(frames)} frames</span>'
            f'<span>{_text(_time(end))}</span></p>\n<p class="legend">{legend}</p>')


def colour(label: str | None) -> str:
    """A class's colour: fixed for the seven classes, stable for any other name."""
    if label is None:
        return _UNLABELLED
    return _COLOURS.get(label) or _PALETTE[zlib.crc32(label.encode()) % len(_PALETTE)]


def _decisions(decisions: Sequence[Decision]) -> str:
    if not decisions:
        return '<p id="no-decisions">none in this window</p>'
    rows = []
    for decision in list(reversed(decisions))[:MAX_DECISIONS]:
        details = dict(decision.details)
        confidence = details.pop("confidence", None)
        rows.append(
            f'<tr class="{"trigger" if decision.kind == "trigger" else "alert"}" data-kind="{_text(decision.kind)}">'
            f'<td>{_text(_time(decision.captured_at or decision.decided_at))}</td><td>{_text(decision.kind)}</td>'
            f'<td class="frame">{_text(decision.frame or "–")}</td>'
            f'<td>{_text(f"{confidence:.3f}" if isinstance(confidence, float) else "–")}</td>'
            f'<td>{_text("live" if decision.live else "replayed")}</td>'
            f'<td class="details">{_text(" ".join(f"{k}={v}" for k, v in details.items()))}</td></tr>')
    return ('<table><thead><tr><th>captured</th><th>what</th><th>frame</th><th>confidence</th><th>seen</th>'
            f'<th>details</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _components(components: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name, report in components.items():
        state = "ok" if report["ok"] else "late"
        age, deadline = float(report["age_s"]), float(report["deadline_s"])
        rows.append(f'<tr data-component="{_text(name)}"><td>{_text(name)}</td>'
                    f'<td class="{"ok" if report["ok"] else "bad"}">{state}</td><td>{age:.1f} s ago</td>'
                    f'<td>every {deadline:g} s</td><td>{_text(report["failures"])}</td></tr>')
    return ('<table><thead><tr><th>component</th><th>state</th><th>last beat</th><th>deadline</th>'
            f'<th>recent failures</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _label(frame: SeenFrame) -> str:
    if frame.label is None:
        return "not labelled"
    return f"{frame.label} (uncertain)" if frame.uncertain else frame.label


def _time(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _text(value: object) -> str:
    """``value`` as HTML text: control characters as visible ``\\xNN`` escapes, then HTML-escaped (quotes too)."""
    return html.escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value)), quote=True)
