"""Shared fixtures for the generator tests: one small generated data set per session."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from loaders.dynamo_json import deserialize_item
from loaders.generator.population import Population, build_population
from loaders.generator.treatments import GenerationReport, generate

TREATMENTS = 5_000
SEED = 11


@dataclass(frozen=True)
class Line:
    cycle: int
    key: str  # dataFileS3Key
    line_number: int  # 1-based
    text: str  # the JSON line as written
    item: dict[str, Any]  # decoded with dynamo_json


@dataclass(frozen=True)
class Generated:
    out: Path
    treatments: int
    seed: int
    report: GenerationReport
    population: Population
    lines: dict[int, list[Line]]  # cycle -> lines


def read_lines(out: Path) -> dict[int, list[Line]]:
    lines: dict[int, list[Line]] = {}
    for cycle in (1, 2):
        (export,) = (out / f"cycle-{cycle}" / "AWSDynamoDB").iterdir()
        entries = [
            json.loads(text)
            for text in (export / "manifest-files.json").read_text().splitlines()
        ]
        found = []
        for entry in entries:
            key = entry["dataFileS3Key"]
            with gzip.open(out / f"cycle-{cycle}" / key, "rt", encoding="utf-8") as fh:
                for number, text in enumerate(fh, start=1):
                    text = text.rstrip("\n")
                    found.append(Line(cycle, key, number, text, deserialize_item(json.loads(text))))
        lines[cycle] = found
    return lines


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    out = tmp_path_factory.mktemp("exports")
    report = generate(out, treatments=TREATMENTS, seed=SEED)
    return Generated(
        out=out,
        treatments=TREATMENTS,
        seed=SEED,
        report=report,
        population=build_population(SEED, TREATMENTS),
        lines=read_lines(out),
    )
