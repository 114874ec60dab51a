"""The watcher (complete files only, build triggers, failures, stop) and the replay."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from loaders import feeds, watch
from loaders.db import connect

pytestmark = pytest.mark.usefixtures("empty_bronze")

HEADER = "hospital_id,department_id,bed_capacity"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeBuilder:
    """Counts builds, returns scripted results, and may take (fake) time."""

    def __init__(
        self,
        results: list[watch.BuildResult] | None = None,
        clock: Clock | None = None,
        seconds: float = 0.0,
    ) -> None:
        self.results = list(results or [])
        self.clock = clock
        self.seconds = seconds
        self.calls = 0

    def __call__(self, stop: threading.Event) -> watch.BuildResult:
        self.calls += 1
        if self.clock is not None:
            self.clock.now += self.seconds
        return self.results.pop(0) if self.results else watch.BuildResult(True, "Done. PASS=1")


def jsonl(*numbers: int) -> bytes:
    return b"".join(
        json.dumps({"event_id": f"EV{n}", "event_type": "ARRIVE"}).encode() + b"\n" for n in numbers
    )


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def make_watcher(landing: Path, **options: Any) -> tuple[watch.Watcher, list[Any]]:
    events: list[Any] = []
    options.setdefault("builder", FakeBuilder())
    watcher = watch.Watcher(landing, report=events.append, **options)
    return watcher, events


def loaded_files(events: list[Any]) -> list[str]:
    return [
        result.file
        for event in events
        if isinstance(event, watch.FilesLoaded)
        for result in event.results
        if result.status == "loaded"
    ]


def builds(events: list[Any]) -> list[watch.BuildFinished]:
    return [event for event in events if isinstance(event, watch.BuildFinished)]


def count(table: str) -> int:
    with connect() as conn:
        exists = conn.execute("select to_regclass(%s) is not null", (f"bronze.{table}",))
        if not exists.fetchone()[0]:
            return 0
        return conn.execute(f"select count(*) from bronze.{table}").fetchone()[0]


# --- which files load -------------------------------------------------------------------------


def test_a_new_file_waits_one_poll_then_loads(tmp_path: Path) -> None:
    write(tmp_path / "adt/a.jsonl", jsonl(1, 2))
    watcher, events = make_watcher(tmp_path, min_files=5)

    watcher.poll()
    assert events == [] and count("adt_events") == 0

    watcher.poll()
    assert loaded_files(events) == ["adt/a.jsonl"]
    assert watcher.pending == ["adt/a.jsonl"]
    assert count("adt_events") == 2


def test_a_half_written_jsonl_is_skipped_until_complete(tmp_path: Path) -> None:
    data = jsonl(1, 2, 3)
    path = write(tmp_path / "a.jsonl", data[:-20])  # ends in the middle of the last line
    watcher, events = make_watcher(tmp_path)

    watcher.poll()
    watcher.poll()  # size and mtime stable, but no final newline
    assert events == [] and count("adt_events") == 0

    append(path, data[-20:])
    watcher.poll()  # changed since the previous poll
    assert events == []
    watcher.poll()
    assert loaded_files(events) == ["a.jsonl"]
    assert count("adt_events") == 3


def test_a_growing_csv_waits_until_its_size_and_mtime_are_stable(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", f"{HEADER}\nH001,H001-ED,10\n".encode())
    watcher, events = make_watcher(tmp_path)

    watcher.poll()
    append(path, b"H001,H001-ICU,8\n")
    watcher.poll()
    assert events == []

    watcher.poll()
    assert loaded_files(events) == ["d.csv"]
    assert count("department_extracts") == 2


def test_hidden_and_partial_names_are_never_candidates(tmp_path: Path) -> None:
    for name in (".a.jsonl", "b.jsonl.tmp", "c.jsonl.part", "d.csv.partial", ".inbox/e.jsonl"):
        write(tmp_path / name, jsonl(1))
    watcher, events = make_watcher(tmp_path)

    for _ in range(3):
        watcher.poll()

    assert events == [] and count("adt_events") == 0


def test_content_loaded_before_is_not_loaded_or_built_again(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", jsonl(1))
    feeds.load(tmp_path)
    audit_rows = count("load_audit")
    watcher, events = make_watcher(tmp_path, min_files=1)

    watcher.poll()
    watcher.poll()

    assert events == [] and watcher.pending == []
    assert count("load_audit") == audit_rows


def test_a_failed_file_is_tried_again_once_it_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", b"hospital_id,bad\x00header\nH001,x\n")
    watcher, events = make_watcher(tmp_path)

    watcher.poll()
    watcher.poll()
    [event] = events
    assert [(r.file, r.status) for r in event.results] == [("d.csv", "failed")]
    watcher.poll()
    assert len(events) == 1  # not tried again while unchanged

    write(path, f"{HEADER}\nH001,H001-ED,10\n".encode())
    watcher.poll()
    watcher.poll()
    assert loaded_files(events) == ["d.csv"]


# --- build triggers ---------------------------------------------------------------------------


def test_min_files_triggers_a_build(tmp_path: Path) -> None:
    clock = Clock()
    builder = FakeBuilder(clock=clock, seconds=4.0)
    watcher, events = make_watcher(
        tmp_path, builder=builder, min_files=2, max_wait=1000, clock=clock
    )
    write(tmp_path / "a.jsonl", jsonl(1, 2))
    watcher.poll()  # t=0: a seen
    clock.now = 1.0
    watcher.poll()  # a loaded: one file pending
    assert builder.calls == 0 and watcher.pending == ["a.jsonl"]

    clock.now = 10.0
    write(tmp_path / "b.jsonl", jsonl(3))
    watcher.poll()  # b seen
    clock.now = 11.0
    assert watcher.poll() is True  # b loaded: two pending, build

    [build] = builds(events)
    assert builder.calls == 1
    assert (build.ok, build.files, build.rows, build.seconds) == (True, 2, 3, 4.0)
    assert build.delays == (15.0, 5.0)  # build ended at 15; arrivals 0 and 10
    assert build.detail == "Done. PASS=1"
    assert watcher.pending == []


def test_max_wait_triggers_a_build_less_the_previous_build_time(tmp_path: Path) -> None:
    clock = Clock()
    builder = FakeBuilder(clock=clock, seconds=20.0)
    watcher, events = make_watcher(
        tmp_path, builder=builder, min_files=10, max_wait=60, clock=clock
    )
    write(tmp_path / "a.jsonl", jsonl(1))
    watcher.poll()  # t=0: seen
    clock.now = 1.0
    watcher.poll()  # loaded
    clock.now = 59.9
    watcher.poll()
    assert builder.calls == 0
    clock.now = 60.0
    watcher.poll()
    assert builder.calls == 1 and builds(events)[0].delays == (80.0,)

    write(tmp_path / "b.jsonl", jsonl(2))
    clock.now = 100.0
    watcher.poll()  # seen
    clock.now = 101.0
    watcher.poll()  # loaded; due at 100 + 60 - 20 = 140
    clock.now = 139.9
    watcher.poll()
    assert builder.calls == 1
    clock.now = 140.0
    watcher.poll()
    assert builder.calls == 2
    assert builds(events)[1].delays == (60.0,)  # ended at 160, arrived at 100


def test_a_failed_build_is_reported_and_the_watcher_goes_on(tmp_path: Path) -> None:
    clock = Clock()
    failure = watch.BuildResult(False, "Database Error in model fct_encounters")
    builder = FakeBuilder([failure], clock=clock, seconds=2.0)
    watcher, events = make_watcher(tmp_path, builder=builder, min_files=1, max_wait=30, clock=clock)
    write(tmp_path / "a.jsonl", jsonl(1))
    watcher.poll()
    clock.now = 1.0
    watcher.poll()  # loaded, build fails (ends at t=3)

    [failed] = builds(events)
    assert (failed.ok, failed.files, failed.delays) == (False, 1, ())
    assert "fct_encounters" in failed.detail
    assert watcher.pending == ["a.jsonl"]

    clock.now = 30.9  # retry at 3 + 30 - 2 = 31
    watcher.poll()
    assert builder.calls == 1
    clock.now = 31.0
    watcher.poll()
    assert builder.calls == 2
    assert builds(events)[1].ok and builds(events)[1].delays == (33.0,)
    assert watcher.pending == []


def test_after_a_failed_build_new_files_trigger_the_retry(tmp_path: Path) -> None:
    clock = Clock()
    builder = FakeBuilder([watch.BuildResult(False, "boom")], clock=clock)
    watcher, events = make_watcher(tmp_path, builder=builder, min_files=1, max_wait=999)
    write(tmp_path / "a.jsonl", jsonl(1))
    watcher.poll()
    watcher.poll()  # loaded; the build fails
    watcher.poll()
    assert builder.calls == 1  # the failed file alone does not retry at once

    write(tmp_path / "b.jsonl", jsonl(2))
    watcher.poll()
    watcher.poll()  # one new file: min_files again
    assert builder.calls == 2 and builds(events)[1].files == 2


def test_a_builder_that_raises_is_a_failed_build(tmp_path: Path) -> None:
    def broken(stop: threading.Event) -> watch.BuildResult:
        raise OSError("no dbt here")

    watcher, events = make_watcher(tmp_path, builder=broken, min_files=1)
    write(tmp_path / "a.jsonl", jsonl(1))
    watcher.poll()
    watcher.poll()

    [build] = builds(events)
    assert not build.ok and "no dbt here" in build.detail


# --- run, once, stop --------------------------------------------------------------------------


def test_the_stop_event_ends_the_loop(tmp_path: Path) -> None:
    stop = threading.Event()
    watcher, _ = make_watcher(tmp_path, stop=stop)
    runner = threading.Thread(target=watcher.run, kwargs={"poll_seconds": 0.05})
    runner.start()
    time.sleep(0.2)

    stop.set()
    runner.join(timeout=2)

    assert not runner.is_alive()
    assert watcher.summary.polls >= 2


def test_once_loads_what_is_complete_builds_and_returns(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", jsonl(1))
    write(tmp_path / "b.jsonl", jsonl(2, 3))
    write(tmp_path / "c.jsonl", jsonl(4)[:-3])  # still being written
    builder = FakeBuilder()
    watcher, events = make_watcher(tmp_path, builder=builder, min_files=50, max_wait=600)

    summary = watcher.run(poll_seconds=0.05, once=True)

    assert sorted(loaded_files(events)) == ["a.jsonl", "b.jsonl"]
    assert builder.calls == 1
    assert (summary.files_loaded, summary.rows_loaded, summary.builds, summary.pending) == (
        2,
        3,
        1,
        0,
    )


def test_once_without_new_files_does_not_build(tmp_path: Path) -> None:
    builder = FakeBuilder()
    watcher, events = make_watcher(tmp_path, builder=builder)

    watcher.run(poll_seconds=0.01, once=True)

    assert builder.calls == 0 and events == []


# --- the dbt builder, with stand-in commands --------------------------------------------------


def test_dbt_builder_reports_success_with_the_summary_line(tmp_path: Path) -> None:
    script = "print('Running'); print('Done. PASS=7 WARN=0 ERROR=0 SKIP=0 TOTAL=7')"
    build = watch.dbt_builder(command=[sys.executable, "-c", script], project_dir=tmp_path)

    result = build(threading.Event())

    assert result == watch.BuildResult(True, "Done. PASS=7 WARN=0 ERROR=0 SKIP=0 TOTAL=7")


def test_dbt_builder_reports_a_failure_with_the_output_tail(tmp_path: Path) -> None:
    script = "import sys; [print(f'line {n}') for n in range(40)]; sys.exit(1)"
    build = watch.dbt_builder(
        command=[sys.executable, "-c", script], project_dir=tmp_path, tail_lines=3
    )

    result = build(threading.Event())

    assert (result.ok, result.interrupted) == (False, False)
    assert result.detail == "line 37\nline 38\nline 39"


def test_dbt_builder_keeps_dbts_closing_report_without_colours(tmp_path: Path) -> None:
    output = [
        "\x1b[0m05:14:39  1 of 9 SKIP test a",
        "\x1b[0m05:14:40  \x1b[31mCompleted with 1 error:\x1b[0m",
        "\x1b[0m05:14:41  \x1b[31mFailure in test b\x1b[0m",
        "\x1b[0m05:14:41  Done. PASS=8 WARN=0 ERROR=1 SKIP=1 TOTAL=10",
    ]
    script = f"import sys; print({chr(10).join(output)!r}); sys.exit(1)"
    build = watch.dbt_builder(
        command=[sys.executable, "-c", script], project_dir=tmp_path, tail_lines=1
    )

    result = build(threading.Event())

    assert result.detail.splitlines() == [
        "05:14:40  Completed with 1 error:",
        "05:14:41  Failure in test b",
        "05:14:41  Done. PASS=8 WARN=0 ERROR=1 SKIP=1 TOTAL=10",
    ]


def test_dbt_builder_interrupts_the_build_on_stop(tmp_path: Path) -> None:
    build = watch.dbt_builder(
        command=[sys.executable, "-c", "import time; time.sleep(30)"], project_dir=tmp_path
    )
    stop = threading.Event()
    stop.set()
    started = time.monotonic()

    result = build(stop)

    assert (result.ok, result.interrupted) == (False, True)
    assert time.monotonic() - started < 5


def test_dbt_builder_reports_a_missing_command(tmp_path: Path) -> None:
    build = watch.dbt_builder(command=[str(tmp_path / "no-dbt")], project_dir=tmp_path)

    result = build(threading.Event())

    assert not result.ok and "cannot run" in result.detail


def test_the_default_build_command_is_the_environments_dbt() -> None:
    assert watch.dbt_executable() == Path(sys.executable).parent / "dbt"


# --- replay -----------------------------------------------------------------------------------


def test_drop_time_comes_from_the_file_name() -> None:
    assert watch.drop_time("adt/2025-12-01/adt_20251201T001500Z.jsonl") == datetime(
        2025, 12, 1, 0, 15, tzinfo=UTC
    )
    assert watch.drop_time("departments/2025-12-02/departments_H003_2025-12-02.csv") == datetime(
        2025, 12, 2, 8, 0, tzinfo=UTC
    )
    assert watch.drop_time("adt_20251301T001500Z.jsonl") is None  # month 13
    assert watch.drop_time("notes.jsonl") is None


def make_source(root: Path) -> dict[str, bytes]:
    files = {
        "adt/2025-12-01/adt_20251201T090000Z.jsonl": jsonl(5, 6),
        "adt/2025-12-01/adt_20251201T001500Z.jsonl": jsonl(1),
        "adt/2025-12-01/adt_20251201T010000Z.jsonl": jsonl(3, 4),
        "adt/2025-12-01/adt_20251201T003000Z.jsonl": jsonl(2),
        "departments/2025-12-01/departments_H001_2025-12-01.csv": (
            f"{HEADER}\nH001,H001-ED,10\nH001,H001-ICU,8\n".encode()
        ),
    }
    for name, data in files.items():
        write(root / name, data)
    return files


def test_replay_drops_every_file_in_order_each_in_two_chunks(tmp_path: Path) -> None:
    files = make_source(tmp_path / "generated")
    target = tmp_path / "landing"
    sleeps: list[float] = []
    partial: list[tuple[str, bytes]] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        for name, data in files.items():
            path = target / name
            if path.exists() and path.read_bytes() != data:
                partial.append((name, path.read_bytes()))

    dropped: list[watch.Dropped] = []
    summary = watch.replay(
        tmp_path / "generated",
        target,
        speed=900,
        chunk_pause=0.25,
        max_sleep=3.0,
        report=dropped.append,
        sleep=sleep,
    )

    order = [
        "adt/2025-12-01/adt_20251201T001500Z.jsonl",
        "adt/2025-12-01/adt_20251201T003000Z.jsonl",
        "adt/2025-12-01/adt_20251201T010000Z.jsonl",
        "departments/2025-12-01/departments_H001_2025-12-01.csv",
        "adt/2025-12-01/adt_20251201T090000Z.jsonl",
    ]
    assert [event.drop.name for event in dropped] == order
    assert (summary.files, summary.bytes, summary.stopped) == (
        5,
        sum(map(len, files.values())),
        False,
    )
    for name, data in files.items():
        assert (target / name).read_bytes() == data
    # gaps of 15 min, 30 min, 7 h, 1 h at speed 900: 1 s, 2 s, then capped at 3 s
    assert [event.waited for event in dropped] == [0.0, 1.0, 2.0, 3.0, 3.0]
    assert sleeps == [0.25, 1.0, 0.25, 2.0, 0.25, 3.0, 0.25, 3.0, 0.25]
    # while each file paused between its chunks it was a strict prefix ending mid-line
    assert [name for name, _ in partial] == order
    for name, seen in partial:
        assert 0 < len(seen) < len(files[name])
        assert files[name].startswith(seen) and not seen.endswith(b"\n")


def test_replay_stops_between_files(tmp_path: Path) -> None:
    make_source(tmp_path / "generated")
    stop = threading.Event()

    def stop_after_first(event: watch.Dropped) -> None:
        stop.set()

    summary = watch.replay(
        tmp_path / "generated",
        tmp_path / "landing",
        chunk_pause=0,
        stop=stop,
        report=stop_after_first,
    )

    assert (summary.files, summary.stopped) == (1, True)


def test_replay_refuses_to_write_into_its_source_and_lists_unknown_names(tmp_path: Path) -> None:
    make_source(tmp_path / "generated")
    write(tmp_path / "generated" / "extra.jsonl", jsonl(9))
    with pytest.raises(ValueError, match="must not be"):
        watch.replay(tmp_path / "generated", tmp_path / "generated")
    with pytest.raises(ValueError, match="must not be"):
        watch.replay(tmp_path / "generated" / "adt", tmp_path / "generated")

    summary = watch.replay(
        tmp_path / "generated", tmp_path / "landing", chunk_pause=0, sleep=lambda s: None
    )

    assert summary.unknown == ["extra.jsonl"] and summary.files == 5


def test_a_watcher_loads_a_replay_once_and_never_a_half_written_file(tmp_path: Path) -> None:
    files = make_source(tmp_path / "generated")
    landing = tmp_path / "landing"
    landing.mkdir()
    stop = threading.Event()
    watcher, events = make_watcher(landing, stop=stop, min_files=2, max_wait=0.5)
    runner = threading.Thread(target=watcher.run, kwargs={"poll_seconds": 0.3})
    runner.start()
    try:
        watch.replay(tmp_path / "generated", landing, speed=1e6, chunk_pause=0.15, max_sleep=0.05)
        deadline = time.monotonic() + 10
        while len(loaded_files(events)) < len(files) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        runner.join(timeout=5)

    assert sorted(loaded_files(events)) == sorted(files)
    assert count("adt_events") == 6 and count("department_extracts") == 2
    with connect() as conn:
        quarantined = conn.execute("select count(*) from bronze.adt_events where event is null")
        assert quarantined.fetchone()[0] == 0
    assert builds(events) and all(build.ok for build in builds(events))


def test_cli_watch_once_prints_the_loads_and_the_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from loaders import cli

    selectors: list[str] = []

    def fake_dbt_builder(selector: str) -> FakeBuilder:
        selectors.append(selector)
        return FakeBuilder()

    monkeypatch.setattr(watch, "dbt_builder", fake_dbt_builder)
    write(tmp_path / "adt/a.jsonl", jsonl(1, 2))

    status = cli.main(["watch", str(tmp_path), "--once", "--poll", "0.05", "--select", "x"])

    output = " ".join(capsys.readouterr().out.split())
    assert status == 0 and selectors == ["x"]
    assert "loaded 1 file(s), 2 rows" in output
    assert "gold refreshed: 1 file(s), 2 rows" in output and "delay min" in output
    assert "done: 1 file(s) loaded" in output
