"""Command line: ``python -m loaders <command>``. The only module that prints."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console()


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


def _load(args: argparse.Namespace) -> int:
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

        results = treatments.load(Path(args.path), progress=on_progress)

    table = Table(title=f"Load summary: {args.path}")
    numeric = {"files", "items", "seconds", "items/s"}
    for column in ("export", "status", "files", "items", "seconds", "items/s"):
        table.add_column(column, justify="right" if column in numeric else "left", no_wrap=True)
    for result in results:
        rate = f"{result.items / result.seconds:,.0f}" if result.seconds and result.items else ""
        table.add_row(
            result.export_id,
            result.status,
            f"{result.files:,}",
            f"{result.items:,}",
            f"{result.seconds:.2f}",
            rate,
        )
    console.print(table)
    for result in results:
        colour = "red" if result.status in {"refused", "failed"} else "default"
        console.print(f"[{colour}]{result.export_id} {result.status}:[/{colour}] {result.message}",
                      soft_wrap=True, highlight=False)
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

    dep = commands.add_parser("deps", help="install dbt packages (hub, else the offline folder)")
    dep.set_defaults(func=_deps)

    gen = commands.add_parser("generate", help="write synthetic DynamoDB exports of treatments")
    gen.add_argument("--out", required=True, help="folder to write the export cycles into")
    gen.add_argument("--treatments", type=int, default=20_000, help="treatments in the first cycle")
    gen.add_argument("--seed", type=int, default=42)
    gen.set_defaults(func=_generate)

    load = commands.add_parser("load", help="land DynamoDB exports into bronze")
    load.add_argument("path", help="an export folder or a folder of exports")
    load.set_defaults(func=_load)

    summ = commands.add_parser("summary", help="print the warehouse's schemas, relations and rows")
    summ.set_defaults(func=_summary)

    reset = commands.add_parser("reset", help="drop the project's schemas: an empty warehouse")
    reset.set_defaults(func=_reset)
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
        console.print(f"[red]error:[/red] {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
