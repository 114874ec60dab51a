"""Command line: ``python -m loaders <command>``. The only module that prints, besides the
benchmark (``loaders.bench``), which prints its progress as it measures."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from loaders.backup import SchemaCount
    from loaders.feeds import FeedFile

# Piped output (make logs, CI) gets wide tables instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 140)


def _server(args: argparse.Namespace) -> int:
    from loaders import config, server

    if config.is_external() and args.action != "status":
        host = config.connection_settings().host
        console.print(f"PGHOST is set ({host}): the embedded server is not used")
        return 0
    if args.action == "start":
        current = server.start()
        console.print(f"embedded PostgreSQL running (pid {current.pid})")
        console.print(f"socket {current.socket_dir}, database '{config.DEFAULT_DATABASE}'")
        console.print("profiles.yml written from profiles.yml.example with that socket")
    elif args.action == "stop":
        stopped = server.stop()
        console.print("embedded PostgreSQL " + ("stopped" if stopped else "was not running"))
    else:
        if config.is_external():
            console.print(f"external server: {config.connection_settings().host} (PGHOST)")
            return 0
        current = server.status()
        if current.running:
            console.print(f"running: pid {current.pid}, data {current.pgdata}")
            console.print(f"socket {current.socket_dir}")
        else:
            console.print(f"not running (data folder {current.pgdata})")
            return 1
    return 0


def _access(args: argparse.Namespace) -> int:
    from loaders import access, config

    database = args.database or config.connection_settings().dbname
    try:
        roles = access.bootstrap(database)
    except access.AccessError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        return 1
    console.print(
        f"database '{database}': roles {roles.loader} (bronze), {roles.transformer} (dbt), "
        f"{roles.analyst} (bi views), {len(roles.hospital_roles)} hospital roles "
        f"(group {roles.hospitals}); pseudonym key in vault.pseudonym_key",
        soft_wrap=True, highlight=False,
    )
    return 0


def _deps(args: argparse.Namespace) -> int:
    from loaders import deps

    try:
        console.print(deps.install())
    except deps.MissingPackagesError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    return 0


def _generate(args: argparse.Namespace) -> int:
    from loaders.generator import treatments

    report = treatments.generate(Path(args.out), treatments=args.treatments, seed=args.seed)
    console.print(report.describe())
    return 0


def _generate_admissions(args: argparse.Namespace) -> int:
    from loaders.generator import admissions

    try:
        report = admissions.generate(
            Path(args.out), days=args.days, seed=args.seed, treatments=args.treatments,
            start=args.start, file_minutes=args.file_minutes,
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    console.print(report.describe(), soft_wrap=True, highlight=False)
    return 0


def _generate_clinical(args: argparse.Namespace) -> int:
    from loaders.generator import clinical

    try:
        report = clinical.generate(Path(args.out), treatments=args.treatments, seed=args.seed)
    except (ValueError, RuntimeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    console.print(report.describe(), soft_wrap=True, highlight=False)
    return 0


def _load(args: argparse.Namespace) -> int:
    from loaders import feeds, treatments

    path = Path(args.path)
    if feeds.text_name(args.path) != args.path:  # it could be neither printed nor audited
        raise RuntimeError(f"{feeds.text_name(args.path)}: the path is not UTF-8; rename it")
    if not path.exists():
        raise RuntimeError(f"{path} does not exist")
    try:
        has_exports = bool(treatments.find_exports(path))
    except treatments.LoadError:
        has_exports = False
    feed_files = feeds.find_files(path)
    if not has_exports and not feed_files:
        raise RuntimeError(
            f"{path} holds no DynamoDB export (manifest-summary.json) and no feed file "
            f"({feeds.patterns()})"
        )
    status = _load_exports(path) if has_exports else 0
    if feed_files:
        status = max(status, _load_feeds(path, feed_files))
    return status


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT (Ctrl-C) or SIGTERM instead of raising, while the block runs."""
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S")


_FILE_STATUSES = ("loaded", "skipped", "failed")


def _load_feeds(path: Path, files: list[FeedFile]) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from loaders import feeds

    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} files"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as progress,
        _stop_on_signals() as stop,
    ):
        task = progress.add_task("feed files", total=len(files))
        results = feeds.load_files(
            files,
            progress=lambda name, done, total: progress.update(task, completed=done),
            should_stop=stop.is_set,
        )

    table = Table(title=f"Feed files: {escape(str(path))}")
    table.add_column("", no_wrap=True)
    columns: dict[str, list[str]] = {}
    for source in feeds.SOURCES:
        mine = [result for result in results if result.source == source.name]
        if not mine:
            continue
        rows = sum(result.rows for result in mine)
        seconds = sum(result.seconds for result in mine)
        table.add_column(source.name, justify="right")
        columns[source.name] = [
            *(f"{sum(r.status == status for r in mine):,}" for status in _FILE_STATUSES),
            f"{rows:,}",
            f"{sum(result.quarantined for result in mine):,}",
            f"{seconds:.2f}",
            f"{rows / seconds:,.0f}" if rows and seconds else "",
        ]
    labels = [f"files {status}" for status in _FILE_STATUSES]
    labels += ["rows landed", "rows quarantined", "seconds", "rows/s"]
    for number, label in enumerate(labels):
        table.add_row(label, *(values[number] for values in columns.values()))
    console.print(table)
    concurrent: dict[str, int] = {}  # files skipped because a concurrent run loaded them
    for result in results:
        if result.concurrent_load is not None:
            load = str(result.concurrent_load)
            concurrent[load] = concurrent.get(load, 0) + 1
    for load, count in concurrent.items():
        console.print(
            f"{count:,} file(s) skipped: loaded by a concurrent run (load {load}) "
            "while this one ran; nothing added", highlight=False,
        )
    failed = [result for result in results if result.status == "failed"]
    for result in failed:
        console.print(
            f"[red]{escape(result.file)} failed:[/red] {escape(result.message)}", soft_wrap=True
        )
    if len(results) < len(files):
        console.print(
            f"[yellow]stopped:[/yellow] {len(files) - len(results):,} file(s) not loaded; "
            "the current file was finished, run the same command again to go on"
        )
    return 1 if failed or len(results) < len(files) else 0


def _watch(args: argparse.Namespace) -> int:
    from loaders import watch

    if args.min_files < 1 or args.max_wait < 0 or args.poll <= 0:
        console.print("[red]error:[/red] --min-files >= 1, --max-wait >= 0 and --poll > 0")
        return 2
    landing = Path(args.landing)
    landing.mkdir(parents=True, exist_ok=True)

    def on_event(event: watch.WatchEvent) -> None:
        if isinstance(event, watch.FilesLoaded):
            counts = {s: sum(r.status == s for r in event.results) for s in ("loaded", "skipped")}
            rows = sum(result.rows for result in event.results)
            quarantined = sum(result.quarantined for result in event.results)
            console.print(
                f"{_now()} loaded {counts['loaded']} file(s), {rows:,} rows"
                + (f" ({quarantined:,} quarantined)" if quarantined else "")
                + (f", {counts['skipped']} skipped" if counts["skipped"] else "")
                + f" [dim]load {event.load_id}[/dim]",
                highlight=False,
            )
            for result in event.results:
                if result.status == "failed":
                    console.print(
                        f"[red]{_now()} {escape(result.file)} failed:[/red] "
                        f"{escape(result.message)}",
                        soft_wrap=True,
                    )
        elif isinstance(event, watch.BuildFinished):
            what = f"{event.files} file(s), {event.rows:,} rows, build {event.seconds:.1f} s"
            if event.ok:
                console.print(
                    f"{_now()} [green]gold refreshed:[/green] {what}; arrival -> gold delay "
                    f"min {min(event.delays):.1f} s, max {max(event.delays):.1f} s"
                    + (f" [dim]({escape(event.detail)})[/dim]" if event.detail else ""),
                    highlight=False,
                )
            else:
                state = "interrupted" if event.interrupted else "FAILED"
                console.print(
                    f"{_now()} [red]build {state}:[/red] {what}; the files stay pending",
                    highlight=False,
                )
                if event.detail and not event.interrupted:
                    console.print(f"[dim]{escape(event.detail)}[/dim]", soft_wrap=True)
        else:
            console.print(f"{_now()} [red]poll failed:[/red] {escape(event.message)}")

    console.print(
        f"watching {escape(str(landing))} every {args.poll:g} s: build "
        f"(dbt build --select {escape(args.select)}) at {args.min_files} new file(s) or "
        f"{args.max_wait:g} s after the oldest; Ctrl-C stops",
        highlight=False,
    )
    with _stop_on_signals() as stop:
        watcher = watch.Watcher(
            landing,
            builder=watch.dbt_builder(args.select),
            min_files=args.min_files,
            max_wait=args.max_wait,
            report=on_event,
            stop=stop,
        )
        summary = watcher.run(poll_seconds=args.poll, once=args.once)
    console.print(
        f"{_now()} {'stopped' if stop.is_set() else 'done'}: {summary.files_loaded} file(s) "
        f"loaded, {summary.rows_loaded:,} rows, {summary.builds} build(s)"
        + (f", {summary.builds_failed} failed" if summary.builds_failed else "")
        + (
            f"; {summary.pending} loaded file(s) not in gold yet (the next build covers them)"
            if summary.pending
            else ""
        ),
        highlight=False,
    )
    if args.once and (summary.builds_failed or summary.files_failed):
        return 1
    return 0


def _replay(args: argparse.Namespace) -> int:
    from loaders import watch

    def on_drop(event: watch.Dropped) -> None:
        console.print(
            f"{_now()} {event.number}/{event.total} {escape(event.drop.name)} "
            f"[dim](drop {event.drop.at:%Y-%m-%d %H:%M:%S}Z)[/dim]",
            highlight=False,
        )

    with _stop_on_signals() as stop:
        try:
            summary = watch.replay(
                Path(args.source),
                Path(args.target),
                speed=args.speed,
                chunk_pause=args.chunk_pause,
                max_sleep=args.max_sleep,
                stop=stop,
                report=on_drop,
            )
        except ValueError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            return 1
    for name in summary.unknown:
        console.print(f"[yellow]not replayed (no drop time in its name):[/yellow] {escape(name)}")
    console.print(
        f"{'stopped' if summary.stopped else 'replayed'}: {summary.files:,} file(s), "
        f"{summary.bytes:,} bytes in {summary.seconds:.1f} s",
        highlight=False,
    )
    return 0


def _load_exports(path: Path) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from loaders import treatments

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} items"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        tasks: dict[str, int] = {}

        def on_progress(export_id: str, done: int, total: int) -> None:
            if export_id not in tasks:
                tasks[export_id] = progress.add_task(f"export {export_id}", total=total)
            progress.update(tasks[export_id], completed=done)

        results = treatments.load(path, progress=on_progress)

    table = Table(title=f"Load summary: {escape(str(path))}")
    numeric = {"files", "items", "seconds", "items/s"}
    for column in ("export", "status", "files", "items", "seconds", "items/s"):
        table.add_column(column, justify="right" if column in numeric else "left", no_wrap=True)
    for result in results:
        rate = f"{result.items / result.seconds:,.0f}" if result.seconds and result.items else ""
        table.add_row(
            escape(result.export_id),
            result.status,
            f"{result.files:,}",
            f"{result.items:,}",
            f"{result.seconds:.2f}",
            rate,
        )
    console.print(table)
    for result in results:
        colour = "red" if result.status in {"refused", "failed"} else "default"
        console.print(
            f"[{colour}]{escape(result.export_id)} {result.status}:[/{colour}] "
            f"{escape(result.message)}",
            soft_wrap=True, highlight=False,
        )
    return 1 if any(result.status in {"refused", "failed"} for result in results) else 0


def _summary(args: argparse.Namespace) -> int:
    from loaders import warehouse

    table = Table(title="What was built")
    for column in ("schema", "relation", "kind", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for row in warehouse.relations():
        table.add_row(row.schema, row.name, row.kind, f"{row.rows:,}")
    console.print(table)
    return 0


def _reset(args: argparse.Namespace) -> int:
    from loaders import config, warehouse

    dropped = warehouse.drop_project_schemas()
    database = config.connection_settings().dbname
    console.print(f"dropped schemas {', '.join(dropped)} in database '{database}'")
    return 0


def _schema_table(title: str, counts: list[SchemaCount]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("schema")
    for column in ("tables", "views", "rows in tables"):
        table.add_column(column, justify="right")
    for count in counts:
        table.add_row(count.schema, f"{count.tables:,}", f"{count.views:,}", f"{count.rows:,}")
    return table


def _backup(args: argparse.Namespace) -> int:
    from loaders import backup

    try:
        result = backup.backup(Path(args.out) if args.out else None, wait=args.wait)
    except backup.BackupError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted:[/yellow] no backup written")
        return 130
    console.print(_schema_table(f"Backup of database '{result.database}'", result.schemas))
    console.print(
        f"{escape(str(result.path))}: {result.bytes / 1e6:,.1f} MB, schemas "
        f"{', '.join(count.schema for count in result.schemas)}, {result.seconds:.1f} s "
        f"[dim](PostgreSQL {result.server_version}, pg_dump {result.tools.version} from "
        f"{escape(str(result.tools.bindir))})[/dim]",
        soft_wrap=True, highlight=False,
    )
    return 0


def _restore(args: argparse.Namespace) -> int:
    from loaders import backup

    try:
        result = backup.restore(Path(args.file), database=args.database, force=args.force)
    except backup.BackupError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted:[/yellow] nothing restored (rolled back)")
        return 130
    console.print(_schema_table(f"Restored into database '{result.database}'", result.schemas))
    source = f"database '{result.archive.database}'" if result.archive.database else "a database"
    console.print(
        f"restored {escape(str(result.path))} (backup of {source}) into database "
        f"'{result.database}'"
        + (" (created)" if result.created else "")
        + (f", replacing schemas {', '.join(result.replaced)}" if result.replaced else "")
        + f" in {result.seconds:.1f} s [dim](pg_restore {result.tools.version})[/dim]",
        soft_wrap=True, highlight=False,
    )
    return 0


def _dq_table(title: str, columns: tuple[str, ...], numeric: int) -> Table:
    """A compact table whose last ``numeric`` columns are right-aligned counts; text folds
    rather than being cut on a narrow terminal."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for index, column in enumerate(columns):
        if index >= len(columns) - numeric:
            table.add_column(column, justify="right", no_wrap=True)
        else:
            table.add_column(column, overflow="fold")
    return table


def _bench(args: argparse.Namespace) -> int:
    from loaders.bench import run
    from loaders.bench.common import Context

    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(run.PARTS))
    if unknown or args.repeats < 3 or args.treatments < 1_000:
        raise RuntimeError(
            f"bench: the parts are {', '.join(run.PARTS)}"
            f"{' (unknown: ' + ', '.join(unknown) + ')' if unknown else ''}; "
            "--repeats must be at least 3 and --treatments at least 1,000"
        )
    context = Context(data=Path(args.data), treatments=args.treatments, repeats=args.repeats)
    json_path, md_path, text = run.main(context, parts, Path(args.results))
    console.print()
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    console.print(f"figures written to {json_path} and {md_path}")
    return 0


def _dq_report(args: argparse.Namespace) -> int:
    from loaders import dq_report

    report = dq_report.read_report()

    def when(instant: datetime) -> str:
        return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M:%S}"

    sources = _dq_table(
        "Rows per source", ("source", "loads", "files", "landed", "accepted", "rejected"), 5
    )
    for source, *counts in report.totals_by_source():
        sources.add_row(source, *(f"{count:,}" for count in counts))
    console.print(sources)

    loads = _dq_table(
        "Loads (gold.dq_loads)",
        ("source", "load", "first loaded (UTC)", "files", "landed", "accepted", "rejected"),
        4,
    )
    for load in report.loads:
        loads.add_row(
            load.source, load.load_id[:8], when(load.first_loaded_at), f"{load.files:,}",
            f"{load.rows_landed:,}", f"{load.rows_accepted:,}", f"{load.rows_rejected:,}",
        )
    console.print(loads)

    rules = _dq_table(
        "Rejects per rule (gold.dq_rejects_by_rule)",
        ("source", "load", "first loaded (UTC)", "reject rule", "rejected"),
        1,
    )
    for row in report.rejects:
        rules.add_row(row.source, row.load_id[:8], when(row.first_loaded_at), row.reject_rule,
                      f"{row.rows_rejected:,}")
    console.print(rules)

    path = dq_report.write_html(report, Path(args.html))
    console.print(f"HTML report written to {path}", highlight=False, soft_wrap=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loaders",
        description="Healthcare warehouse: embedded PostgreSQL, synthetic exports, bronze loads.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    commands = parser.add_subparsers(dest="command", required=True)

    srv = commands.add_parser("server", help="start, stop or check the embedded PostgreSQL server")
    srv.add_argument("action", choices=["start", "stop", "status"])
    srv.set_defaults(func=_server)

    acc = commands.add_parser(
        "access", help="create the roles, grants and pseudonym key of the warehouse (idempotent)"
    )
    acc.add_argument("--database", help="database to set up (default: the configured one)")
    acc.set_defaults(func=_access)

    dep = commands.add_parser("deps", help="install dbt packages (hub, else the offline folder)")
    dep.set_defaults(func=_deps)

    gen = commands.add_parser("generate", help="write synthetic DynamoDB exports of treatments")
    gen.add_argument("--out", required=True, help="folder to write the export cycles into")
    gen.add_argument("--treatments", type=int, default=20_000, help="treatments in the first cycle")
    gen.add_argument("--seed", type=int, default=42)
    gen.set_defaults(func=_generate)

    adm = commands.add_parser(
        "generate-admissions",
        help="write a synthetic ADT feed and department extracts (with the defects' truth)",
    )
    adm.add_argument("--out", required=True, help="folder to write landing/ and truth/ into")
    adm.add_argument("--days", type=int, default=60, help="days in the window")
    adm.add_argument("--seed", type=int, default=42)
    adm.add_argument("--treatments", type=int, default=20_000,
                     help="population size, as for `generate` (the same patients)")
    adm.add_argument("--start", type=date.fromisoformat, default=date(2025, 12, 1),
                     help="first day of the window, YYYY-MM-DD (00:00 UTC; default 2025-12-01)")
    adm.add_argument("--file-minutes", type=int, default=15,
                     help="minutes of simulated time per ADT file (default 15)")
    adm.set_defaults(func=_generate_admissions)

    clin = commands.add_parser(
        "generate-clinical",
        help="write synthetic EHR extracts, claim batches and prescription fills (with truth)",
    )
    clin.add_argument("--out", required=True, help="folder to write landing/ and truth/ into")
    clin.add_argument("--treatments", type=int, default=20_000,
                      help="population size, as for `generate` (the same patients)")
    clin.add_argument("--seed", type=int, default=42)
    clin.set_defaults(func=_generate_clinical)

    load = commands.add_parser(
        "load", help="land DynamoDB exports and feed files (*.jsonl ADT, *.csv departments, "
        "ehr_*.jsonl EHR, claims_*.csv claims, *.parquet prescription fills)"
    )
    load.add_argument("path", help="a folder of exports and/or feed files, or one of them")
    load.set_defaults(func=_load)

    watch = commands.add_parser(
        "watch", help="load feed files as they land in a folder and refresh gold (dbt build)"
    )
    watch.add_argument("landing", help="the landing folder to watch (created when missing)")
    watch.add_argument(
        "--min-files", type=int, default=5, help="build at this many new files (5)"
    )
    watch.add_argument(
        "--max-wait", type=float, default=60.0, help="seconds a file may wait for gold (60)"
    )
    watch.add_argument("--poll", type=float, default=2.0, help="seconds between polls (2)")
    watch.add_argument("--select", default="tag:admissions", help="dbt selector (tag:admissions)")
    watch.add_argument(
        "--once", action="store_true", help="load what is complete, build if needed, exit"
    )
    watch.set_defaults(func=_watch)

    replay = commands.add_parser(
        "replay", help="drop generated feed files into a landing folder at simulated pace"
    )
    replay.add_argument("source", metavar="FROM_LANDING", help="generated landing folder")
    replay.add_argument("target", metavar="TO_LANDING", help="landing folder to fill")
    replay.add_argument(
        "--speed", type=float, default=600.0, help="simulated seconds per real second (600)"
    )
    replay.add_argument(
        "--chunk-pause", type=float, default=0.5, help="seconds between a file's two writes (0.5)"
    )
    replay.add_argument(
        "--max-sleep", type=float, default=3.0, help="longest pause between drops, s (3)"
    )
    replay.set_defaults(func=_replay)

    summ = commands.add_parser("summary", help="print the warehouse's schemas, relations and rows")
    summ.set_defaults(func=_summary)

    reset = commands.add_parser("reset", help="drop the project's schemas: an empty warehouse")
    reset.set_defaults(func=_reset)

    bak = commands.add_parser(
        "backup", help="write a pg_dump archive of the project's schemas (bronze to gold)"
    )
    bak.add_argument("--out", help="archive to write (default backups/<database>-<UTC time>.dump)")
    bak.add_argument("--wait", type=float, default=300.0,
                     help="seconds to wait for a running dbt build to end (300)")
    bak.set_defaults(func=_backup)

    rst = commands.add_parser(
        "restore", help="restore a backup archive, all or nothing (one transaction)"
    )
    rst.add_argument("file", metavar="FILE", help="archive written by `backup`")
    rst.add_argument("--database", help="database to restore into, created when missing "
                     "(default: the configured one)")
    rst.add_argument("--force", action="store_true",
                     help="replace project schemas the database already holds")
    rst.set_defaults(func=_restore)

    dq = commands.add_parser(
        "dq-report", help="print the data-quality tables and write them as an HTML page"
    )
    dq.add_argument("--html", default="reports/dq-report.html",
                    help="where to write the HTML page (default reports/dq-report.html)")
    dq.set_defaults(func=_dq_report)

    bench = commands.add_parser(
        "bench", help="the performance benchmark (README, Benchmark): figures into results/"
    )
    bench.add_argument("--treatments", type=int, default=1_000_000,
                       help="the large size (default 1,000,000); the small one is a tenth")
    bench.add_argument("--repeats", type=int, default=3,
                       help="timed runs of each contender (default 3, at least 3)")
    bench.add_argument("--parts", default="landing,silver,memory,builds",
                       help="comma-separated parts to measure (default: all)")
    bench.add_argument("--data", default="data/bench",
                       help="where generated sources are kept between runs (default data/bench)")
    bench.add_argument("--results", default="results",
                       help="folder for the JSON and markdown figures (default results)")
    bench.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except RuntimeError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
