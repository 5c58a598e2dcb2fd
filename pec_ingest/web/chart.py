"""The chart of adherents over time, drawn on the server as SVG: the running count of
organisations (current submissions, rejected ones left out) by day of arrival, with the
deadline and the meetings of the procedure marked. Text in the SVG is escaped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from pec_ingest.config import Config
from store.model import Submission

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 300, 48, 16, 20, 46


def arrivals(session: Session, config: Config) -> list[date]:
    """The local day of arrival of each adherent, in order."""
    times = session.scalars(select(Submission.received_at).where(
        Submission.is_current.is_(True), Submission.review_state != "rejected"))
    return sorted(t.astimezone(config.zone).date() for t in times)


def _marks(config: Config) -> list[tuple[date, str]]:
    marks = [(config.deadline.astimezone(config.zone).date(), "Scadenza")]
    for meeting in config.acknowledgements.meetings:
        if meeting.when is not None:
            when = meeting.when if meeting.when.tzinfo else meeting.when.replace(
                tzinfo=config.zone)
            marks.append((when.astimezone(config.zone).date(), meeting.title or "Incontro"))
    return marks


def adherents_svg(session: Session, config: Config) -> str:
    days = arrivals(session, config)
    marks = _marks(config)
    span = [d for d, _ in marks] + days
    first, last = min(span) - timedelta(days=1), max(span) + timedelta(days=1)
    total = max(len(days), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + plot_w * (day - first).days / max((last - first).days, 1)

    def y(count: int) -> float:
        return TOP + plot_h * (1 - count / total)

    points, count = [f"{x(first):.1f},{y(0):.1f}"], 0
    for day in days:
        points.append(f"{x(day):.1f},{y(count):.1f}")
        count += 1
        points.append(f"{x(day):.1f},{y(count):.1f}")
    points.append(f"{x(last):.1f},{y(count):.1f}")
    parts = [_axes(first, last, total, x, y),
             f'<polyline points="{" ".join(points)}" fill="none" stroke="#0b5394" '
             'stroke-width="2.5"/>']
    for n, (day, title) in enumerate(marks):
        colour = "#a4000f" if n == 0 else "#5b2a86"
        parts.append(f'<line x1="{x(day):.1f}" x2="{x(day):.1f}" y1="{TOP}" '
                     f'y2="{HEIGHT - BOTTOM}" stroke="{colour}" stroke-dasharray="6 4"/>'
                     f'<text x="{x(day) + (4 if x(day) < WIDTH / 2 else -4):.1f}" '
                     f'y="{TOP + 14 + 16 * n}" fill="{colour}" font-size="13" text-anchor='
                     f'"{"start" if x(day) < WIDTH / 2 else "end"}">{escape(title)} '
                     f'{day:%d/%m}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'role="img" aria-labelledby="t"><title id="t">Aderenti nel tempo: {len(days)} '
            f'in tutto</title><rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>'
            + "".join(parts) + "</svg>")


def _axes(first: date, last: date, total: int, x: Callable[[date], float],
          y: Callable[[int], float]) -> str:
    out = [f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" '
           f'y2="{HEIGHT - BOTTOM}" stroke="#333"/>',
           f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>']
    for value in sorted({0, total // 2, total}):
        out.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                   f'font-size="12" fill="#222">{value}</text>')
    step = max((last - first).days // 6, 1)
    day = first
    while day <= last:
        out.append(f'<text x="{x(day):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" '
                   f'font-size="12" fill="#222">{day:%d/%m}</text>')
        day += timedelta(days=step)
    return "".join(out)

