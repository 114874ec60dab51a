"""The DQ report: HTML rendering of a hand-made report, and reading real gold.dq_* tables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from loaders import cli, dq_report
from loaders.db import connect
from loaders.dq_report import DqReport, LoadRow, RuleRow

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
VOID_ELEMENTS = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr"}
# SVG elements written self-closing (<line .../>) are reported by HTMLParser as start+end.


class StructureChecker(HTMLParser):
    """Checks that every element is closed in order, and collects tags and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.doctype: str | None = None
        self.text: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> StructureChecker:
    checker = StructureChecker()
    checker.feed(page)
    checker.close()
    return checker


def hand_made_report() -> DqReport:
    evil = '<script>alert("x")</script>&'
    loads = (
        LoadRow("adt_events", "L1", T0, T0 + timedelta(seconds=3), 5, 1000, 990, 10),
        LoadRow("department_extracts", "L1", T0, T0, 7, 56, 56, 0),
        LoadRow("adt_events", "L2", T0 + timedelta(hours=1), T0 + timedelta(hours=1), 2, 300,
                297, 3),
        LoadRow(evil, "L3", T0 + timedelta(hours=2), T0 + timedelta(hours=2), 1, 4, 2, 2),
    )
    rejects = (
        RuleRow("adt_events", "L1", T0, "duplicate_event_id", 6),
        RuleRow("adt_events", "L1", T0, "future_event_ts", 4),
        RuleRow("adt_events", "L2", T0 + timedelta(hours=1), "duplicate_event_id", 3),
        RuleRow(evil, "L3", T0 + timedelta(hours=2), "rule <b>&", 2),
    )
    return DqReport(generated_at=T0 + timedelta(hours=3), loads=loads, rejects=rejects,
                    database="db<1>")


def test_html_is_well_formed_and_self_contained() -> None:
    page = dq_report.render_html(hand_made_report())
    checker = parse(page)
    assert checker.doctype is not None and checker.doctype.lower() == "doctype html"
    assert checker.problems == []
    assert checker.stack == []
    tags = [tag for tag, _attrs in checker.tags]
    assert tags[0] == "html"
    assert tags.count("svg") == 1 and tags.count("style") == 1
    assert tags.count("table") == 4
    # nothing is fetched from anywhere: no scripts, links, images, imports or URLs
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(tags)
    for _tag, attrs in checker.tags:
        assert not {"src", "href", "xlink:href"} & set(attrs)
    assert not re.search(r"https?:|//[a-z]|url\(|@import", page, re.IGNORECASE)


def test_every_text_is_escaped() -> None:
    page = dq_report.render_html(hand_made_report())
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    assert "rule &lt;b&gt;&amp;" in page
    assert "db&lt;1&gt;" in page
    checker = parse(page)
    assert "script" not in {tag for tag, _attrs in checker.tags}
    assert any('<script>alert("x")</script>&' in text for text in checker.text)


def test_chart_has_one_series_per_rule() -> None:
    report = hand_made_report()
    checker = parse(dq_report.render_html(report))
    series = [attrs for tag, attrs in checker.tags if tag == "g" and attrs.get("class") == "series"]
    assert [(attrs["data-source"], attrs["data-rule"]) for attrs in series] == [
        ('<script>alert("x")</script>&', "rule <b>&"),
        ("adt_events", "duplicate_event_id"),
        ("adt_events", "future_event_ts"),
    ]
    polylines = [attrs for tag, attrs in checker.tags if tag == "polyline"]
    assert len(polylines) == 3
    assert len({attrs["stroke"] for attrs in polylines}) == 3  # one colour each
    # a point per load of the series' source (0 where that load had none of the rule)
    assert [len((attrs["points"] or "").split()) for attrs in polylines] == [1, 2, 2]
    legend = [attrs for tag, attrs in checker.tags if tag == "ul"]
    assert legend == [{"class": "legend"}]
    assert sum(1 for tag, _attrs in checker.tags if tag == "li") == 3
    texts = " ".join(checker.text)
    assert "rows rejected" in texts and "load time (UTC)" in texts
    assert report.series()[("adt_events", "future_event_ts")] == [
        (T0, 4), (T0 + timedelta(hours=1), 0),
    ]


def test_many_rules_get_distinct_styles() -> None:
    styles = {dq_report.series_style(index) for index in range(2 * len(dq_report.PALETTE))}
    assert len(styles) == 2 * len(dq_report.PALETTE)


def test_empty_report() -> None:
    page = dq_report.render_html(DqReport(generated_at=T0, loads=(), rejects=()))
    checker = parse(page)
    assert checker.problems == [] and checker.stack == []
    assert "svg" not in {tag for tag, _attrs in checker.tags}
    assert "No rejected rows" in page


# --- against the database ----------------------------------------------------------------------


@pytest.fixture
def dq_tables(warehouse_db: str) -> Iterator[str]:
    """Hand-made gold.dq_loads and gold.dq_rejects_by_rule (the models' columns and types)."""
    with connect(autocommit=True) as conn:
        conn.execute("create schema if not exists gold")
        conn.execute("drop table if exists gold.dq_loads, gold.dq_rejects_by_rule cascade")
        conn.execute(
            """
            create table gold.dq_loads (
                source text, load_id uuid, first_loaded_at timestamptz,
                last_loaded_at timestamptz, files integer, rows_landed bigint,
                rows_accepted bigint, rows_rejected bigint
            )
            """
        )
        conn.execute(
            """
            create table gold.dq_rejects_by_rule (
                source text, load_id uuid, first_loaded_at timestamptz, reject_rule text,
                rows_rejected bigint
            )
            """
        )
        conn.execute(
            """
            insert into gold.dq_loads values
                ('adt_events', '00000000-0000-0000-0000-000000000002',
                 '2026-01-05 09:00:00+00', '2026-01-05 09:00:02+00', 3, 120, 117, 3),
                ('adt_events', '00000000-0000-0000-0000-000000000001',
                 '2026-01-05 08:00:00+00', '2026-01-05 08:00:01+00', 5, 200, 200, 0)
            """
        )
        conn.execute(
            """
            insert into gold.dq_rejects_by_rule values
                ('adt_events', '00000000-0000-0000-0000-000000000002',
                 '2026-01-05 09:00:00+00', 'missing_event_ts', 2),
                ('adt_events', '00000000-0000-0000-0000-000000000002',
                 '2026-01-05 09:00:00+00', 'duplicate_event_id', 1)
            """
        )
    yield warehouse_db
    with connect(autocommit=True) as conn:
        conn.execute("drop table if exists gold.dq_loads, gold.dq_rejects_by_rule cascade")


def test_read_report_from_the_database(dq_tables: str) -> None:
    report = dq_report.read_report()
    assert report.database == dq_tables
    assert [(load.load_id, load.rows_landed, load.rows_rejected) for load in report.loads] == [
        ("00000000-0000-0000-0000-000000000001", 200, 0),
        ("00000000-0000-0000-0000-000000000002", 120, 3),
    ]
    assert report.loads[0].first_loaded_at == datetime(2026, 1, 5, 8, tzinfo=UTC)
    assert [(row.reject_rule, row.rows_rejected) for row in report.rejects] == [
        ("duplicate_event_id", 1), ("missing_event_ts", 2),
    ]
    assert report.totals_by_source() == [("adt_events", 2, 8, 320, 317, 3)]


def test_cli_prints_tables_and_writes_the_page(
    dq_tables: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "console", Console(width=160))
    target = tmp_path / "out" / "dq.html"
    assert cli.main(["dq-report", "--html", str(target)]) == 0
    printed = capsys.readouterr().out
    assert "missing_event_ts" in printed and "Rows per source" in printed
    assert "00000000" in printed  # load ids, shortened
    assert str(target) in printed.replace("\n", "")
    page = target.read_text(encoding="utf-8")
    checker = parse(page)
    assert checker.problems == [] and checker.stack == []
    series = [attrs for tag, attrs in checker.tags if tag == "g" and attrs.get("class") == "series"]
    assert len(series) == 2


def test_missing_tables_are_a_clear_error(dq_tables: str) -> None:
    with connect(autocommit=True) as conn:
        conn.execute("drop table gold.dq_rejects_by_rule cascade")
    with pytest.raises(RuntimeError, match="dq_rejects_by_rule does not exist"):
        dq_report.read_report()
    assert cli.main(["dq-report", "--html", "unused.html"]) == 1
