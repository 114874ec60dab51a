"""The benchmark's figures as JSON and as a markdown table, in the results folder."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loaders.bench.common import Section


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    from loaders.db import connect

    with connect() as conn:
        version = conn.execute("show server_version").fetchone()
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": version[0] if version else None,
    }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown(sections: list[Section], about: dict[str, Any]) -> str:
    lines = [
        "# Benchmark",
        "",
        f"{about['measured_at']}, {about['cpus']} CPUs, PostgreSQL {about['postgresql']}, "
        f"Python {about['python']}",
    ]
    targets = [target for section in sections for target in section.targets]
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        lines.append("| " + " | ".join(section.columns) + " |")
        lines.append("|" + "---|" * len(section.columns))
        lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in section.rows]
        lines += [""] + [f"- {note}" for note in section.notes] if section.notes else []
    if targets:
        lines += ["", "## Targets", "", "| target | measured | goal | met |", "|---|---|---|---|"]
        for target in targets:
            goal = ("at least " if target.higher_is_better else "at most ") + _cell(target.target)
            met = "yes" if target.met else "**no**"
            lines.append(f"| {target.name} | {_cell(target.measured)} | {goal} | {met} |")
    return "\n".join(lines) + "\n"


def write(sections: list[Section], results: Path) -> tuple[Path, Path, str]:
    """Write ``bench-<time>.json`` and ``.md`` into ``results``; returns both and the markdown."""
    about = machine()
    stamp = about["measured_at"].replace(":", "").replace("-", "").split("+")[0]
    results.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": about,
        "targets": [
            {**vars(target), "met": target.met}
            for section in sections
            for target in section.targets
        ],
        **{section.key: section.data for section in sections},
    }
    json_path = results / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    text = markdown(sections, about)
    md_path = results / f"bench-{stamp}.md"
    md_path.write_text(text)
    return json_path, md_path, text
