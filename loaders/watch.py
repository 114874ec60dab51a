"""The real-time path: a watcher that loads feed files as they land and refreshes gold, and a
replay that drops generated files into a landing folder the way the feed does.

Watcher, one poll every ``poll`` seconds:

* A file is a candidate when it is a file of the watched feeds (by default the near-real-time
  ones, ``loaders.feeds.REALTIME_SOURCES``: ADT ``*.jsonl`` and department ``*.csv``, routed
  as ``loaders.feeds`` routes names, so EHR ``ehr_*.jsonl``, claims ``claims_*.csv`` and fills
  ``*.parquet``, batch extracts loaded with ``python -m loaders load``, are ignored rather than
  taken for ADT or department files; no name or folder starting with ``.``, nothing under
  ``AWSDynamoDB``; so nothing ending in ``.tmp``, ``.part`` or ``.partial``), its content MD5 is
  not ``loaded`` in the audit, its size and mtime are the same as at the previous poll (a file
  seen for the first time waits one poll), and it ends as its feed's complete files end
  (``FeedSource.complete_ending``): JSON lines with a newline, Parquet with its footer's
  ``PAR1`` when a watcher is given the fills feed.
* The candidates of a poll load under one load id, a transaction per file. A file that failed
  is tried again once its size or mtime changes; so is a loaded name whose content changes.
* Loaded files are pending until a build covers them. A build runs when the pending files are
  at least ``min_files``, or when the oldest pending file's arrival (when the watcher first saw
  it) + ``max_wait`` - (duration of the previous build) <= now. After a failed build the files
  stay pending and the next attempt waits for ``min_files`` more files, or for the failure's
  end + ``max_wait`` - its duration. A file's delay is the end of the build that covered it
  minus its arrival.
* The stop event is checked between files and between polls: the current file completes (or
  rolls back), and a running build is interrupted (SIGINT to dbt).

The build is an injectable callable; :func:`dbt_builder` runs ``dbt build --select <selector>``
with the dbt next to the running Python, in the project root. Events go to a ``report``
callback (the command line prints them); the library only logs.
"""

from __future__ import annotations

import logging
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from loaders import audit, config, feeds

log = logging.getLogger(__name__)

DEFAULT_SELECTOR = "tag:admissions"
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failure_tail(lines: list[str], count: int) -> list[str]:
    """dbt's closing report (from "Completed with ..." on) when there is one, else the last
    ``count`` lines."""
    start = next(
        (index for index in range(len(lines) - 1, -1, -1) if "Completed with" in lines[index]),
        None,
    )
    if start is None:
        return lines[-count:]
    return lines[start:][: count * 4]


# --- builds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildResult:
    """What a build did: ``detail`` is dbt's summary line, or the tail of its output."""

    ok: bool
    detail: str = ""
    interrupted: bool = False


Builder = Callable[[threading.Event], BuildResult]  # gets the stop event; interrupts on it


def dbt_executable() -> Path:
    """The dbt of the running Python's environment."""
    return Path(sys.executable).parent / "dbt"


def dbt_builder(
    selector: str = DEFAULT_SELECTOR,
    *,
    project_dir: Path = config.PROJECT_ROOT,
    command: Sequence[str] | None = None,
    extra_args: Sequence[str] = (),
    tail_lines: int = 25,
    grace_seconds: float = 30.0,
) -> Builder:
    """A builder running ``dbt build --select selector`` (plus ``extra_args``, e.g. dbt's
    ``--target-path``), or ``command`` instead, in ``project_dir``.

    Output is captured; a failure's result holds its last ``tail_lines`` lines. When the stop
    event is set the build gets SIGINT, and is killed after ``grace_seconds``.
    """
    # cautious: tests that also read models outside the selection (e.g. fct_treatments against
    # dim_patient) wait for the next full build instead of judging a half-refreshed graph
    default = [str(dbt_executable()), "build", "--select", selector]
    argv = list(command or [*default, "--indirect-selection", "cautious", *extra_args])

    def build(stop: threading.Event) -> BuildResult:
        try:
            process = subprocess.Popen(
                argv,
                cwd=project_dir,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            return BuildResult(False, f"cannot run {argv[0]}: {exc}")
        interrupted_at: float | None = None
        while True:
            try:
                output, _ = process.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stop.is_set() and interrupted_at is None:
                    log.info("stopping: interrupting the build (pid %d)", process.pid)
                    process.send_signal(signal.SIGINT)
                    interrupted_at = time.monotonic()
                elif (
                    interrupted_at is not None and time.monotonic() > interrupted_at + grace_seconds
                ):
                    process.kill()
        lines = [_ANSI.sub("", line).rstrip() for line in output.splitlines() if line.strip()]
        if interrupted_at is not None:
            log.info("%s interrupted (exit %s)", " ".join(argv), process.returncode)
            return BuildResult(False, "interrupted", interrupted=True)
        if process.returncode == 0:
            summary = next((line for line in reversed(lines) if "Done. PASS=" in line), "")
            return BuildResult(True, summary.strip())
        tail = "\n".join(_failure_tail(lines, tail_lines))
        log.info("%s exited with %s:\n%s", " ".join(argv), process.returncode, tail)
        return BuildResult(False, tail)

    return build


# --- the watcher -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilesLoaded:
    """A poll loaded files (``results`` holds every file it tried, under one load id)."""

    load_id: uuid.UUID
    results: tuple[feeds.FileResult, ...]


@dataclass(frozen=True)
class BuildFinished:
    """A build ended. ``delays``: arrival to the end of this build, per covered file."""

    ok: bool
    interrupted: bool
    files: int
    rows: int
    seconds: float
    delays: tuple[float, ...]
    detail: str


@dataclass(frozen=True)
class PollFailed:
    """A poll could not reach the database; the watcher goes on polling."""

    message: str


WatchEvent = FilesLoaded | BuildFinished | PollFailed
Reporter = Callable[[WatchEvent], None]


@dataclass
class WatchSummary:
    polls: int = 0
    files_loaded: int = 0
    rows_loaded: int = 0
    files_failed: int = 0
    builds: int = 0
    builds_failed: int = 0
    pending: int = 0  # files loaded that no successful build has covered yet


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    arrival: float
    state: str = "waiting"  # 'waiting' | 'done' | 'failed'


@dataclass(frozen=True)
class _Pending:
    name: str
    arrival: float
    rows: int


def _ends_with(path: Path, ending: bytes) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(-len(ending), 2)
            return handle.read(len(ending)) == ending
    except OSError:  # shorter than the ending (seek before the start) or unreadable
        return False


class Watcher:
    """Polls a landing folder, loads complete new files and builds when a trigger fires."""

    def __init__(
        self,
        landing: Path,
        *,
        builder: Builder,
        min_files: int = 5,
        max_wait: float = 60.0,
        report: Reporter | None = None,
        clock: Callable[[], float] = time.monotonic,
        stop: threading.Event | None = None,
        sources: Sequence[feeds.FeedSource] = feeds.REALTIME_SOURCES,
    ) -> None:
        if min_files < 1:
            raise ValueError("min_files must be at least 1")
        if max_wait < 0:
            raise ValueError("max_wait must not be negative")
        self.landing = Path(landing)
        self.builder = builder
        self.min_files = min_files
        self.max_wait = max_wait
        self.stop = stop or threading.Event()
        self._report = report or (lambda event: None)
        self._clock = clock
        self._sources = sources
        self._seen: dict[str, _Seen] = {}
        self._pending: list[_Pending] = []
        self._last_build_seconds = 0.0
        self._wait_from: float | None = None  # after a failed build: when it ended
        self._count_from = 0  # after a failed build: pending files then
        self.summary = WatchSummary()

    @property
    def pending(self) -> list[str]:
        """Files loaded and not yet covered by a successful build."""
        return [item.name for item in self._pending]

    def run(self, *, poll_seconds: float = 2.0, once: bool = False) -> WatchSummary:
        """Poll until the stop event is set. ``once``: look, wait one poll, load what is
        complete, build if anything is pending, return."""
        log.info(
            "watching %s (min %d files, max wait %s s)", self.landing, self.min_files, self.max_wait
        )
        if once:
            self.poll(build=False)
            if not self.stop.wait(poll_seconds):
                self.poll(build=False)
            if self._pending and not self.stop.is_set():
                self.build()
        else:
            while not self.stop.is_set():
                if not self.poll():
                    self.stop.wait(poll_seconds)
        self.summary.pending = len(self._pending)
        log.info("watcher stopped after %d polls", self.summary.polls)
        return self.summary

    def poll(self, *, build: bool = True) -> bool:
        """One poll: scan, load the candidates, build when due. True when a build ran and
        succeeded (the loop then polls again at once for files that came meanwhile)."""
        self.summary.polls += 1
        candidates = self._scan(self._clock())
        if candidates:
            try:
                self._load(candidates)
            except (feeds.LoadError, psycopg.Error) as exc:
                message = feeds.failure_message(exc)
                log.error("poll failed: %s", message)
                self._report(PollFailed(message))
                return False
        if build and not self.stop.is_set() and self.build_due(self._clock()):
            return self.build().ok
        return False

    def build_due(self, now: float) -> bool:
        """Whether a trigger fires at ``now`` (a clock reading)."""
        if not self._pending:
            return False
        if len(self._pending) - self._count_from >= self.min_files:
            return True
        oldest = min(item.arrival for item in self._pending)
        wait_from = oldest if self._wait_from is None else self._wait_from
        return wait_from + self.max_wait - self._last_build_seconds <= now

    def build(self) -> BuildFinished:
        """Run the builder over the pending files and report it."""
        files = len(self._pending)
        rows = sum(item.rows for item in self._pending)
        log.info("building: %d pending files, %d rows", files, rows)
        started = self._clock()
        try:
            result = self.builder(self.stop)
        except Exception as exc:  # a broken builder is a failed build, not a dead watcher
            log.exception("the build raised")
            result = BuildResult(False, f"the build raised {type(exc).__name__}: {exc}")
        ended = self._clock()
        seconds = ended - started
        self._last_build_seconds = seconds
        self.summary.builds += 1
        delays: tuple[float, ...] = ()
        if result.ok:
            delays = tuple(ended - item.arrival for item in self._pending)
            self._pending.clear()
            self._wait_from = None
            self._count_from = 0
        else:
            self.summary.builds_failed += 1
            self._wait_from = ended
            self._count_from = len(self._pending)
        event = BuildFinished(
            result.ok, result.interrupted, files, rows, seconds, delays, result.detail
        )
        log.log(
            logging.WARNING if not (result.ok or result.interrupted) else logging.INFO,
            "build %s in %.1f s (%d files, %d rows)",
            "done" if result.ok else "interrupted" if result.interrupted else "failed",
            seconds,
            files,
            rows,
        )
        self._report(event)
        return event

    def _scan(self, now: float) -> list[feeds.FeedFile]:
        """Track every feed file's size and mtime; return those that became candidates."""
        try:
            found = feeds.find_files(self.landing, self._sources)
        except feeds.LoadError:  # the landing folder is gone: nothing to do
            found = []
        present: set[str] = set()
        candidates: list[feeds.FeedFile] = []
        for feed_file in found:
            if feed_file.name.lower().endswith(PARTIAL_SUFFIXES):
                continue
            try:
                stat = feed_file.path.stat()
            except OSError:
                continue
            present.add(feed_file.name)
            seen = self._seen.get(feed_file.name)
            if seen is None:
                self._seen[feed_file.name] = _Seen(stat.st_size, stat.st_mtime_ns, now)
                continue
            if (stat.st_size, stat.st_mtime_ns) != (seen.size, seen.mtime_ns):
                if seen.state != "waiting":
                    seen.arrival = now  # new content under a name seen before
                seen.size, seen.mtime_ns, seen.state = stat.st_size, stat.st_mtime_ns, "waiting"
                continue
            if seen.state != "waiting":
                continue
            ending = feed_file.source.complete_ending
            if ending and not _ends_with(feed_file.path, ending):
                continue
            candidates.append(feed_file)
        for name in set(self._seen) - present:
            del self._seen[name]
        return candidates

    def _load(self, candidates: list[feeds.FeedFile]) -> None:
        hashes: dict[str, str] = {}
        for feed_file in candidates:
            try:
                hashes[feed_file.name] = feeds.file_md5(feed_file.path)[0]
            except OSError:
                continue  # gone or unreadable now: looked at again next poll
        loaded_before: set[str] = set()
        with audit.open_connection() as conn:
            for source in self._sources:
                mine = [f.name for f in candidates if f.source is source and f.name in hashes]
                done = audit.loaded_contents(conn, source.name, [hashes[n] for n in mine])
                loaded_before.update(name for name in mine if hashes[name] in done)
        to_load = []
        for feed_file in candidates:
            if feed_file.name in loaded_before:
                self._seen[feed_file.name].state = "done"
                log.debug("%s: content loaded before", feed_file.name)
            elif feed_file.name in hashes:
                to_load.append(feed_file)
        if not to_load:
            return
        load_id = uuid.uuid4()
        results = feeds.load_files(to_load, load_id=load_id, should_stop=self.stop.is_set)
        for result in results:
            seen = self._seen[result.file]
            seen.state = "failed" if result.status == "failed" else "done"
            if result.status == "loaded":
                self._pending.append(_Pending(result.file, seen.arrival, result.rows))
                self.summary.files_loaded += 1
                self.summary.rows_loaded += result.rows
            elif result.status == "failed":
                self.summary.files_failed += 1
        self._report(FilesLoaded(load_id, tuple(results)))


# --- replay ------------------------------------------------------------------------------------

_ADT_NAME = re.compile(r"^adt_(\d{8}T\d{6})Z\.jsonl$")
_DEPARTMENTS_NAME = re.compile(r"^departments_.+_(\d{4}-\d{2}-\d{2})\.csv$")
DEPARTMENTS_DROP_HOUR = 8  # a department extract is dropped at 08:00:00Z of its date


def drop_time(name: str) -> datetime | None:
    """When the feed drops a file, from its name: ``adt_YYYYMMDDTHHMMSSZ.jsonl`` at that instant,
    ``departments_<hospital>_<YYYY-MM-DD>.csv`` at 08:00:00Z that day; else None."""
    base = name.rsplit("/", 1)[-1]
    try:
        if match := _ADT_NAME.match(base):
            return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        if match := _DEPARTMENTS_NAME.match(base):
            day = date.fromisoformat(match.group(1))
            return datetime(day.year, day.month, day.day, DEPARTMENTS_DROP_HOUR, tzinfo=UTC)
    except ValueError:
        return None
    return None


@dataclass(frozen=True)
class Drop:
    name: str  # path relative to the landing folder
    path: Path
    at: datetime


@dataclass(frozen=True)
class Dropped:
    """A replayed file is complete in the target folder."""

    drop: Drop
    number: int
    total: int
    waited: float  # seconds slept before it (the simulated gap / speed, capped)


@dataclass
class ReplaySummary:
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    stopped: bool = False
    unknown: list[str] = field(default_factory=list)  # feed files without a drop time in the name


def plan_replay(from_landing: Path) -> tuple[list[Drop], list[str]]:
    """The feed files below ``from_landing`` by drop time (then name), and those without one."""
    drops: list[Drop] = []
    unknown: list[str] = []
    for feed_file in feeds.find_files(Path(from_landing)):
        at = drop_time(feed_file.name)
        if at is None:
            unknown.append(feed_file.name)
        else:
            drops.append(Drop(feed_file.name, feed_file.path, at))
    drops.sort(key=lambda drop: (drop.at, drop.name))
    return drops, unknown


def _mid_line_cut(path: Path, size: int) -> int:
    """A byte offset near the middle whose previous byte is not a newline (0: there is none)."""
    cut = size // 2
    with path.open("rb") as handle:
        while cut > 0:
            start = max(0, cut - 65536)
            handle.seek(start)
            window = handle.read(cut - start)
            stripped = window.rstrip(b"\n")
            if stripped:
                return start + len(stripped)
            cut = start
    return 0


def _copy_bytes(reader: object, writer: object, count: int) -> None:
    while count > 0:
        chunk = reader.read(min(count, 1024 * 1024))  # type: ignore[attr-defined]
        if not chunk:
            return
        writer.write(chunk)  # type: ignore[attr-defined]
        count -= len(chunk)


def write_in_two_chunks(
    source: Path, target: Path, pause: float, sleep: Callable[[float], object]
) -> int:
    """Copy ``source`` to ``target`` (its final name) in two writes, ``pause`` seconds apart;
    the first ends in the middle of a line. Returns the bytes written."""
    size = source.stat().st_size
    cut = _mid_line_cut(source, size)
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as reader:
        with target.open("wb") as writer:
            _copy_bytes(reader, writer, cut)
        if cut:
            sleep(pause)
        with target.open("ab") as writer:
            shutil.copyfileobj(reader, writer)
    return size


def replay(
    from_landing: Path,
    to_landing: Path,
    *,
    speed: float = 600.0,
    chunk_pause: float = 0.5,
    max_sleep: float = 3.0,
    stop: threading.Event | None = None,
    report: Callable[[Dropped], None] | None = None,
    sleep: Callable[[float], object] | None = None,
) -> ReplaySummary:
    """Drop the files of ``from_landing`` into ``to_landing`` in drop-time order: the gap
    between two drops is the simulated gap / ``speed`` (at most ``max_sleep`` seconds); each
    file goes to its final name in two chunks ``chunk_pause`` seconds apart. The stop event
    ends the replay between files (a started file is completed)."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    source_root, target_root = Path(from_landing).resolve(), Path(to_landing).resolve()
    if source_root == target_root or source_root.is_relative_to(target_root):
        raise ValueError(f"{to_landing} must not be {from_landing} or contain it")
    stop = stop or threading.Event()
    sleep = sleep or stop.wait
    started = time.monotonic()
    drops, unknown = plan_replay(source_root)
    summary = ReplaySummary(unknown=unknown)
    previous: datetime | None = None
    for number, drop in enumerate(drops, 1):
        waited = 0.0
        if previous is not None:
            waited = min(max((drop.at - previous).total_seconds() / speed, 0.0), max_sleep)
            if waited > 0:
                sleep(waited)
        if stop.is_set():
            summary.stopped = True
            break
        summary.bytes += write_in_two_chunks(drop.path, target_root / drop.name, chunk_pause, sleep)
        summary.files += 1
        previous = drop.at
        log.info("replayed %s (drop %s)", drop.name, drop.at.isoformat())
        if report:
            report(Dropped(drop, number, len(drops), waited))
    summary.seconds = time.monotonic() - started
    return summary
