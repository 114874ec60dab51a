"""Full and incremental ``dbt build`` times at the small and the large size.

For each size, on a scratch database: every source is landed (cycle 1 of the treatment exports,
the ADT feed and department extracts, the EHR, claims and fills files), then ``dbt build`` runs
on the empty silver and gold layers (the full build). The incremental cycle then lands an
export holding 1% of the size in new and changed treatments (the first lines of every data file
of the generator's cycle 2: new treatments, new versions and repeated items alike) and builds
what is downstream of the sources that received data: ``dbt source freshness`` (each source's
newest ``loaded_at``) compared with the one taken before the full build, ``dbt build --select
source_status:fresher+ --state <full build's artifacts>``. The five slowest models of each
build come from dbt's run_results.json.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loaders.bench.common import (
    Context,
    Section,
    Target,
    model_seconds,
    run_dbt,
    run_results,
    scratch_database,
)

INCREMENTAL_SHARE = 0.01
SLOWEST_SHOWN = 5


def run(ctx: Context) -> Section:
    sizes: dict[str, Any] = {}
    for n in (ctx.small, ctx.treatments):
        print(f"  builds at {n:,} treatments", flush=True)
        sizes[str(n)] = _measure(ctx, n)
    large = sizes[str(ctx.treatments)]
    rows = [
        [
            f"{int(n):,}",
            figures["full_build_s"],
            figures["incremental_load_s"],
            figures["incremental_freshness_s"] + figures["incremental_build_s"],
            f"{figures['nodes_full']:,} / {figures['nodes_incremental']:,}",
            figures["incremental_ratio"],
            ", ".join(f"{m['model']} {m['seconds']:.1f}" for m in figures["slowest_full"]),
            ", ".join(f"{m['model']} {m['seconds']:.1f}" for m in figures["slowest_incremental"]),
        ]
        for n, figures in sizes.items()
    ]
    return Section(
        key="builds",
        title="dbt build: full from empty, then a cycle of 1% new and changed treatments",
        columns=[
            "treatments", "full build s", "1% load s", "freshness + incremental build s",
            "nodes built, full / incremental", "incremental / full",
            "slowest models, full (s)", "slowest models, incremental (s)",
        ],
        rows=rows,
        data=sizes,
        targets=[
            Target(
                "builds: incremental cycle (load, freshness, build) / full build, large size",
                large["incremental_ratio"], 0.10, higher_is_better=False,
            )
        ],
        notes=[
            "The full build runs on freshly landed sources (every source, cycle 1 of the "
            "treatments). The incremental cycle is the 1% export's load, `dbt source freshness` "
            "and `dbt build --select source_status:fresher+ --state <the full build's "
            "artifacts>`: what is downstream of the sources that received data, their tests "
            "included.",
        ],
    )


def _measure(ctx: Context, n: int) -> dict[str, Any]:
    increment = incremental_export(ctx.exports(n) / "cycle-2", ctx.scratch / f"increment-{n}", n)
    target = ctx.scratch / f"dbt-{n}"
    with scratch_database(f"builds_{n}"):
        started = time.perf_counter()
        for folder in (ctx.exports(n) / "cycle-1", ctx.admissions(n), ctx.clinical(n)):
            _loaders("load", str(folder))
        landing = time.perf_counter() - started
        print(f"    sources landed in {landing:.1f} s", flush=True)
        # one target folder, as a scheduler would keep (dbt's partial parsing included); the
        # freshness the full build saw and its manifest are the state the next cycle compares with
        run_dbt(target, "source", "freshness")
        full = _dbt_build(target)
        print(f"    full build {full['seconds']:.1f} s", flush=True)
        state = target / "state"
        state.mkdir(parents=True, exist_ok=True)
        for artifact in ("manifest.json", "sources.json"):
            shutil.copy2(target / artifact, state / artifact)
        started = time.perf_counter()
        _loaders("load", str(increment))
        load = time.perf_counter() - started
        freshness = run_dbt(target, "source", "freshness")
        selection = ("--select", "source_status:fresher+", "--state", str(state))
        incremental = _dbt_build(target, *selection)
        seconds = freshness + incremental["seconds"]
        print(
            f"    1% load {load:.1f} s, freshness {freshness:.1f} s, incremental build "
            f"{incremental['seconds']:.1f} s ({incremental['nodes']} nodes of {full['nodes']})",
            flush=True,
        )
    return {
        "landing_s": landing,
        "full_build_s": full["seconds"],
        "incremental_items": increment_items(increment),
        "incremental_load_s": load,
        "incremental_freshness_s": freshness,
        "incremental_build_s": incremental["seconds"],
        "incremental_ratio": (load + seconds) / full["seconds"],
        "nodes_full": full["nodes"],
        "nodes_incremental": incremental["nodes"],
        "slowest_full": full["slowest"],
        "slowest_incremental": incremental["slowest"],
        "models_full_s": full["models"],
        "models_incremental_s": incremental["models"],
    }


def _loaders(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "loaders", *args], check=True, stdout=subprocess.DEVNULL)


def _dbt_build(target: Path, *selection: str) -> dict[str, Any]:
    """Run ``dbt build``; its wall seconds, nodes, per-model seconds and the slowest models."""
    seconds = run_dbt(target, "build", *selection)
    results = run_results(target)
    models = {name: round(value, 3) for name, value in model_seconds(results).items()}
    slowest = sorted(models.items(), key=lambda item: -item[1])[:SLOWEST_SHOWN]
    return {
        "seconds": seconds,
        "nodes": len(results),
        "models": models,
        "slowest": [{"model": name, "seconds": value} for name, value in slowest],
    }


def incremental_export(cycle_2: Path, out: Path, treatments: int) -> Path:
    """An incremental export of about ``INCREMENTAL_SHARE`` x ``treatments`` items: the first
    lines of every data file of the generator's cycle-2 export, with its own export id and
    manifests (checksums and counts of the new files). Returns the export prefix folder."""
    (summary_path,) = cycle_2.glob("AWSDynamoDB/*/manifest-summary.json")
    source = summary_path.parent
    summary = json.loads(summary_path.read_text())
    manifest_lines = (source / "manifest-files.json").read_text().splitlines()
    entries = [json.loads(line) for line in manifest_lines]
    wanted = round(INCREMENTAL_SHARE * treatments)
    share = wanted / summary["itemCount"]
    export_id = source.name.split("-")[0] + "-01010101"
    folder = out / "AWSDynamoDB" / export_id
    if (folder / "manifest-summary.json").exists():
        return out
    (folder / "data").mkdir(parents=True, exist_ok=True)
    manifest: list[str] = []
    total = 0
    for entry in entries:
        name = Path(entry["dataFileS3Key"]).name
        with gzip.open(cycle_2 / entry["dataFileS3Key"], "rt", encoding="utf-8") as handle:
            keep = round(entry["itemCount"] * share)
            lines = [line for _, line in zip(range(keep), handle, strict=False)]
        data = gzip.compress("".join(lines).encode(), mtime=0)
        (folder / "data" / name).write_bytes(data)
        key = f"AWSDynamoDB/{export_id}/data/{name}"
        manifest.append(json.dumps({
            "itemCount": len(lines),
            "md5Checksum": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "etag": hashlib.md5(data).hexdigest(),
            "dataFileS3Key": key,
        }))
        total += len(lines)
    (folder / "manifest-files.json").write_text("\n".join(manifest) + "\n")
    summary.update(
        itemCount=total,
        manifestFilesS3Key=f"AWSDynamoDB/{export_id}/manifest-files.json",
        exportArn=summary["exportArn"].rsplit("/", 1)[0] + f"/{export_id}",
    )
    (folder / "manifest-summary.json").write_text(json.dumps(summary))
    return out


def increment_items(prefix: Path) -> int:
    (summary_path,) = prefix.glob("AWSDynamoDB/*/manifest-summary.json")
    return int(json.loads(summary_path.read_text())["itemCount"])
