"""Charts drawn on the server as SVG geometry: no script, no charting library, no network asset.

Pure functions from numbers to path data and tick labels; `templates/_charts.html` turns them into `<svg>`
markup (styled by app.css, so the page's CSP needs nothing new).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 600
HEIGHT = 220
PAD_LEFT = 44  # room for the y labels
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28  # room for the x labels


@dataclass(frozen=True)
class Tick:
    """A labelled position on an axis (in SVG user units)."""

    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    """One chart's geometry: the line (`line`) and the area under it (`area`), or bars, plus axis ticks."""

    label: str
    line: str
    area: str
    bars: tuple[tuple[float, float, float, float], ...]  # x, y, width, height
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def left(self) -> float:
        return float(PAD_LEFT)

    @property
    def right(self) -> float:
        return float(WIDTH - PAD_RIGHT)


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _x(i: float, n: float) -> float:
    return PAD_LEFT + (WIDTH - PAD_LEFT - PAD_RIGHT) * (i / n if n else 0.0)


def _y(v: float, top: float) -> float:
    return HEIGHT - PAD_BOTTOM - (HEIGHT - PAD_TOP - PAD_BOTTOM) * (v / top if top else 0.0)


def retention_chart(shares: Sequence[float], label: str) -> Chart:
    """The retention curve: share of viewers (0–100 %) against the second of the video, as a step line."""
    n = max(1, len(shares) - 1)
    points: list[tuple[float, float]] = []
    for i, share in enumerate(shares):
        x, y = _x(i, n), _y(share, 1.0)
        if points:
            points.append((x, points[-1][1]))  # hold the previous share until this second: a step, not a slope
        points.append((x, y))
    line = "M" + " L".join(f"{_fmt(x)},{_fmt(y)}" for x, y in points) if points else ""
    area = f"{line} L{_fmt(points[-1][0])},{_fmt(_y(0, 1))} L{_fmt(points[0][0])},{_fmt(_y(0, 1))} Z" if points else ""
    step = max(1, round(n / 6))
    x_ticks = tuple(Tick(_x(i, n), f"{i}s") for i in range(0, n + 1, step))
    y_ticks = tuple(Tick(_y(p / 100, 1.0), f"{p}%") for p in (0, 25, 50, 75, 100))
    return Chart(label=label, line=line, area=area, bars=(), x_ticks=x_ticks, y_ticks=y_ticks)


def bar_chart(values: Sequence[float], dates: Sequence[str], label: str) -> Chart:
    """One bar per day; the x axis labels a few dates (MM-DD)."""
    top = _nice_top(max(values, default=0))
    n = max(1, len(values))
    slot = (WIDTH - PAD_LEFT - PAD_RIGHT) / n
    floor = _y(0, top)
    bars = tuple(
        (PAD_LEFT + (i + 0.15) * slot, _y(v, top), slot * 0.7, floor - _y(v, top)) for i, v in enumerate(values)
    )
    step = max(1, round(n / 6))
    x_ticks = tuple(Tick(PAD_LEFT + (i + 0.5) * slot, dates[i][5:]) for i in range(0, len(dates), step))
    fractions = (0, 0.5, 1) if top >= 2 else (0, 1)  # counts: no "0.5" label on an axis of 0 to 1
    y_ticks = tuple(Tick(_y(top * f, top), _fmt(top * f)) for f in fractions)
    return Chart(label=label, line="", area="", bars=bars, x_ticks=x_ticks, y_ticks=y_ticks)


def _nice_top(v: float) -> float:
    """A round number at or above `v` for the top of an axis (1, 2, 5 × a power of ten)."""
    if v <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= v:
        power *= 10
    for f in (1, 2, 5, 10):
        if f * power >= v:
            return f * power
    return 10 * power
