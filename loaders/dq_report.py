"""The data-quality report: gold.dq_loads and gold.dq_rejects_by_rule, read and rendered.

:func:`read_report` reads both tables into a :class:`DqReport`; :func:`render_html` turns a
report into one self-contained HTML page (inline CSS, an inline SVG chart of the rows rejected
per rule over load time, the tables; no script, no external resource; every text escaped).
"""

from __future__ import annotations

import html
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg import sql

from loaders.db import connect

log = logging.getLogger(__name__)

SCHEMA = "gold"
DEFAULT_HTML = Path("reports/dq-report.html")

# Series colours (colour-blind safe first), then the same again dashed.
PALETTE = (
    "#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442", "#000000",
    "#8c564b", "#7f7f7f", "#bcbd22", "#17becf",
)
CHART_WIDTH = 900
CHART_HEIGHT = 360
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 20, 20, 60


@dataclass(frozen=True)
class LoadRow:
    """One row of gold.dq_loads: the rows one load landed for one source."""

    source: str
    load_id: str
    first_loaded_at: datetime
    last_loaded_at: datetime
    files: int
    rows_landed: int
    rows_accepted: int
    rows_rejected: int

    @property
    def rejected_share(self) -> float | None:
        return self.rows_rejected / self.rows_landed if self.rows_landed else None


@dataclass(frozen=True)
class RuleRow:
    """One row of gold.dq_rejects_by_rule: the rows one load rejected for one rule."""

    source: str
    load_id: str
    first_loaded_at: datetime
    reject_rule: str
    rows_rejected: int


@dataclass(frozen=True)
class DqReport:
    """The two DQ tables, ordered by load time, and when they were read."""

    generated_at: datetime
    loads: tuple[LoadRow, ...]
    rejects: tuple[RuleRow, ...]
    database: str = ""
    title: str = "Data-quality report"

    def totals_by_source(self) -> list[tuple[str, int, int, int, int, int]]:
        """(source, loads, files, landed, accepted, rejected) per source, by source name."""
        loads_of_source: dict[str, list[LoadRow]] = defaultdict(list)
        for load in self.loads:
            loads_of_source[load.source].append(load)
        return [
            (
                source,
                len(loads),
                sum(load.files for load in loads),
                sum(load.rows_landed for load in loads),
                sum(load.rows_accepted for load in loads),
                sum(load.rows_rejected for load in loads),
            )
            for source, loads in sorted(loads_of_source.items())
        ]

    def totals_by_rule(self) -> list[tuple[str, str, int]]:
        """(source, reject_rule, rows_rejected) over all loads, by source then rule."""
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for row in self.rejects:
            totals[(row.source, row.reject_rule)] += row.rows_rejected
        return [(source, rule, count) for (source, rule), count in sorted(totals.items())]

    def series(self) -> dict[tuple[str, str], list[tuple[datetime, int]]]:
        """Rows rejected per (source, rule) at each load of that source (0 where the load
        rejected nothing for the rule), in load-time order."""
        loads_of_source: dict[str, list[LoadRow]] = defaultdict(list)
        for load in self.loads:
            loads_of_source[load.source].append(load)
        counts = {(row.source, row.load_id, row.reject_rule): row.rows_rejected
                  for row in self.rejects}
        result: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
        for source, rule, _total in self.totals_by_rule():
            loads = loads_of_source.get(source)
            if loads:
                points = [
                    (load.first_loaded_at, counts.get((source, load.load_id, rule), 0))
                    for load in loads
                ]
            else:  # a rule row without its load row: plot what there is
                points = [
                    (row.first_loaded_at, row.rows_rejected)
                    for row in self.rejects
                    if (row.source, row.reject_rule) == (source, rule)
                ]
            result[(source, rule)] = sorted(points)
        return result


# --- reading ----------------------------------------------------------------------------------


def read_report(conn: psycopg.Connection | None = None, schema: str = SCHEMA) -> DqReport:
    """Read ``<schema>.dq_loads`` and ``<schema>.dq_rejects_by_rule`` (RuntimeError when they
    do not exist yet: run ``dbt build`` first)."""
    if conn is None:
        with connect() as own:
            return read_report(own, schema)
    for table in ("dq_loads", "dq_rejects_by_rule"):
        found = conn.execute(
            "select to_regclass(%s) is not null", (f"{_quote(schema)}.{_quote(table)}",)
        ).fetchone()
        if not found or not found[0]:
            raise RuntimeError(f"{schema}.{table} does not exist: run `dbt build` first")
    loads = conn.execute(
        sql.SQL(
            """
            select source, cast(load_id as text), first_loaded_at, last_loaded_at, files,
                rows_landed, rows_accepted, rows_rejected
            from {}
            order by first_loaded_at, source, load_id
            """
        ).format(sql.Identifier(schema, "dq_loads"))
    ).fetchall()
    rejects = conn.execute(
        sql.SQL(
            """
            select source, cast(load_id as text), first_loaded_at, reject_rule, rows_rejected
            from {}
            order by first_loaded_at, source, load_id, reject_rule
            """
        ).format(sql.Identifier(schema, "dq_rejects_by_rule"))
    ).fetchall()
    database = conn.info.dbname
    log.info("DQ report: %d load rows, %d rule rows from %s", len(loads), len(rejects), database)
    return DqReport(
        generated_at=datetime.now(UTC),
        loads=tuple(LoadRow(*(_int_or(value) for value in row)) for row in loads),
        rejects=tuple(RuleRow(*(_int_or(value) for value in row)) for row in rejects),
        database=database,
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _int_or(value: object) -> object:
    """bigint/integer columns arrive as int; numeric counts (if any) become int too."""
    return int(value) if isinstance(value, Decimal) else value


# --- rendering --------------------------------------------------------------------------------

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f23;
       margin: 2rem auto; max-width: 1100px; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
p.meta { color: #57606a; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0 1rem; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.rejected td { background: #fff5f5; }
code { font-size: .9em; }
svg { display: block; max-width: 100%; height: auto; background: #fff; }
svg text { font: 12px system-ui, sans-serif; fill: #1b1f23; }
svg .grid { stroke: #e5e7eb; stroke-width: 1; }
svg .axis { stroke: #57606a; stroke-width: 1; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; margin: .5rem 0 0; padding: 0;
          list-style: none; }
.legend li { display: flex; align-items: center; gap: .4rem; }
.swatch { display: inline-block; width: 1.6rem; height: .25rem; }
.empty { color: #57606a; font-style: italic; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def format_time(value: datetime) -> str:
    """An instant as UTC text, to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _count(value: int) -> str:
    return f"{value:,}"


def _nice_step(span: float, ticks: int = 5) -> float:
    """A 1/2/5 x 10^n step that cuts ``span`` into about ``ticks`` intervals."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if raw <= multiple * power:
            return max(multiple * power, 1.0)
    return 10 * power


def _tick_format(span_seconds: float) -> str:
    """Time labels fine enough that the five ticks over ``span_seconds`` differ."""
    if span_seconds < 4 * 60:
        return "%H:%M:%S"
    if span_seconds < 4 * 86400:
        return "%m-%d %H:%M"
    return "%Y-%m-%d"


def series_style(index: int) -> tuple[str, str]:
    """(colour, stroke-dasharray) of the index-th series: the palette, then dashed."""
    colour = PALETTE[index % len(PALETTE)]
    dash = "" if index < len(PALETTE) else "6 3"
    return colour, dash


def render_chart(report: DqReport) -> str:
    """Inline SVG: rows rejected (y) per load time (x), one polyline per (source, rule)."""
    series = report.series()
    if not series:
        return '<p class="empty">No rejected rows: nothing to chart.</p>'
    times = [point[0] for points in series.values() for point in points]
    counts = [point[1] for points in series.values() for point in points]
    first, last = min(times), max(times)
    span = (last - first).total_seconds()
    y_step = _nice_step(max(counts))
    y_max = max(y_step, math.ceil(max(counts) / y_step) * y_step)
    plot_w = CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x_of(instant: datetime) -> float:
        if span == 0:
            return MARGIN_LEFT + plot_w / 2
        return MARGIN_LEFT + plot_w * (instant - first).total_seconds() / span

    def y_of(count: float) -> float:
        return MARGIN_TOP + plot_h * (1 - count / y_max)

    parts = [
        f'<svg role="img" aria-labelledby="chart-title" viewBox="0 0 {CHART_WIDTH} '
        f'{CHART_HEIGHT}" width="{CHART_WIDTH}" height="{CHART_HEIGHT}">',
        '<title id="chart-title">Rows rejected per rule over load time</title>',
    ]
    # y grid, ticks and label
    tick = 0.0
    while tick <= y_max + 1e-9:
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{MARGIN_LEFT}" y1="{y:.1f}" '
            f'x2="{MARGIN_LEFT + plot_w}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{tick:,.0f}</text>'
        )
        tick += y_step
    parts.append(
        f'<text x="16" y="{MARGIN_TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 16 {MARGIN_TOP + plot_h / 2:.1f})">rows rejected</text>'
    )
    # x ticks: the first and last load time, and up to three between
    x_ticks = [first] if span == 0 else [
        first + (last - first) * step / 4 for step in range(5)
    ]
    tick_format = _tick_format(span)
    for number, instant in enumerate(x_ticks):
        x = x_of(instant)
        anchor = "middle"
        if len(x_ticks) > 1 and number == 0:
            anchor = "start"
        elif len(x_ticks) > 1 and number == len(x_ticks) - 1:
            anchor = "end"
        parts.append(
            f'<line class="axis" x1="{x:.1f}" y1="{MARGIN_TOP + plot_h}" x2="{x:.1f}" '
            f'y2="{MARGIN_TOP + plot_h + 5}"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{MARGIN_TOP + plot_h + 20}" text-anchor="{anchor}">'
            f"{_e(instant.astimezone(UTC).strftime(tick_format))}</text>"
        )
    parts.append(
        f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{CHART_HEIGHT - 12}" '
        'text-anchor="middle">load time (UTC)</text>'
    )
    # axes
    parts.append(
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" '
        f'y2="{MARGIN_TOP + plot_h}"/>'
    )
    parts.append(
        f'<line class="axis" x1="{MARGIN_LEFT}" y1="{MARGIN_TOP + plot_h}" '
        f'x2="{MARGIN_LEFT + plot_w}" y2="{MARGIN_TOP + plot_h}"/>'
    )
    # one series per (source, rule)
    for index, ((source, rule), points) in enumerate(series.items()):
        colour, dash = series_style(index)
        dash_attribute = f' stroke-dasharray="{dash}"' if dash else ""
        label = f"{rule} ({source})"
        coordinates = " ".join(f"{x_of(at):.1f},{y_of(count):.1f}" for at, count in points)
        parts.append(
            f'<g class="series" data-source="{_e(source)}" data-rule="{_e(rule)}">'
            f"<title>{_e(label)}</title>"
            f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash_attribute} '
            f'points="{coordinates}"/>'
        )
        for at, count in points:
            parts.append(
                f'<circle cx="{x_of(at):.1f}" cy="{y_of(count):.1f}" r="3" fill="{colour}">'
                f"<title>{_e(label)}: {_count(count)} at {_e(format_time(at))}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    legend = ['<ul class="legend">']
    for index, (source, rule) in enumerate(series):
        colour, dash = series_style(index)
        style = (
            f"background: repeating-linear-gradient(90deg, {colour} 0 6px, transparent 6px 9px)"
            if dash
            else f"background: {colour}"
        )
        legend.append(
            f'<li><span class="swatch" style="{style}"></span>'
            f"<code>{_e(rule)}</code> ({_e(source)})</li>"
        )
    legend.append("</ul>")
    return "\n".join(parts + legend)


def _table(headers: list[tuple[str, bool]], rows: list[list[str]], row_classes: list[str]) -> str:
    """An HTML table; headers are (text, is_numeric); cells are already escaped."""
    if not rows:
        return '<p class="empty">No rows.</p>'
    head = "".join(
        f'<th class="num">{_e(text)}</th>' if numeric else f"<th>{_e(text)}</th>"
        for text, numeric in headers
    )
    body = []
    for row, css in zip(rows, row_classes, strict=True):
        cells = "".join(
            f'<td class="num">{cell}</td>' if numeric else f"<td>{cell}</td>"
            for cell, (_text, numeric) in zip(row, headers, strict=True)
        )
        body.append(f'<tr class="{css}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    return (
        f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body)
        + "\n</tbody>\n</table>"
    )


def render_html(report: DqReport) -> str:
    """The report as one self-contained HTML page."""
    by_source = _table(
        [("source", False), ("loads", True), ("files", True), ("rows landed", True),
         ("rows accepted", True), ("rows rejected", True), ("rejected %", True)],
        [
            [_e(source), _count(loads), _count(files), _count(landed), _count(accepted),
             _count(rejected), f"{100 * rejected / landed:.2f}" if landed else ""]
            for source, loads, files, landed, accepted, rejected in report.totals_by_source()
        ],
        ["rejected" if row[5] else "" for row in report.totals_by_source()],
    )
    by_rule = _table(
        [("source", False), ("reject rule", False), ("rows rejected", True)],
        [[_e(source), f"<code>{_e(rule)}</code>", _count(count)]
         for source, rule, count in report.totals_by_rule()],
        ["" for _row in report.totals_by_rule()],
    )
    loads = _table(
        [("source", False), ("load id", False), ("first loaded", False), ("last loaded", False),
         ("files", True), ("rows landed", True), ("rows accepted", True),
         ("rows rejected", True)],
        [
            [_e(load.source), f"<code>{_e(load.load_id)}</code>",
             _e(format_time(load.first_loaded_at)), _e(format_time(load.last_loaded_at)),
             _count(load.files), _count(load.rows_landed), _count(load.rows_accepted),
             _count(load.rows_rejected)]
            for load in report.loads
        ],
        ["rejected" if load.rows_rejected else "" for load in report.loads],
    )
    rejects = _table(
        [("source", False), ("load id", False), ("first loaded", False), ("reject rule", False),
         ("rows rejected", True)],
        [
            [_e(row.source), f"<code>{_e(row.load_id)}</code>",
             _e(format_time(row.first_loaded_at)), f"<code>{_e(row.reject_rule)}</code>",
             _count(row.rows_rejected)]
            for row in report.rejects
        ],
        ["" for _row in report.rejects],
    )
    meta = f"Generated {_e(format_time(report.generated_at))}"
    if report.database:
        meta += f" from database <code>{_e(report.database)}</code>"
    meta += " (gold.dq_loads, gold.dq_rejects_by_rule)."
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(report.title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{_e(report.title)}</h1>
<p class="meta">{meta}</p>
<h2>Rows per source</h2>
{by_source}
<h2>Rejects per rule over time</h2>
{render_chart(report)}
<h2>Rejects per rule</h2>
{by_rule}
<h2>Loads</h2>
{loads}
<h2>Rejects per rule and load</h2>
{rejects}
</body>
</html>
"""


def write_html(report: DqReport, path: Path = DEFAULT_HTML) -> Path:
    """Write the HTML page to ``path`` (folders created); the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    log.info("DQ report written to %s", path)
    return path
