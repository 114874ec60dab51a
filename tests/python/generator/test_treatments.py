"""The S1 generator: export layout, manifests, determinism, cycle-2 content and dirty data.

Also checks the shared population it draws on (time-dependent providers and patients).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from loaders.dynamo_json import deserialize_item, serialize_item
from loaders.generator import population as pop
from loaders.generator.treatments import (
    DISEASES,
    EXPORT_TIMES,
    OUTCOME_VARIANTS,
    RATES,
    TREATMENT_TYPES,
    UNKNOWN_OUTCOMES,
    generate,
)

if TYPE_CHECKING:  # fixtures come from conftest.py; only their types are imported
    from conftest import Generated, Line

EXPORT_1 = EXPORT_TIMES[1]
EXPORT_2 = EXPORT_TIMES[2]
OUTCOME_MAP = {
    "success": "success", "successful": "success",
    "failure": "failure", "failed": "failure", "unsuccessful": "failure",
    "ongoing": "ongoing", "in progress": "ongoing", "in_progress": "ongoing",
    "pending": "ongoing",
    "cancelled": "cancelled", "canceled": "cancelled",
}  # the contract's mapping (DOMAIN.md, cleaning rules)
GENDER_MAP = {"f": "female", "female": "female", "m": "male", "male": "male"}
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)")
ITEM_ATTRIBUTES = {
    "treatment_id", "patient", "provider", "disease", "treatment_type", "outcome_status",
    "cost", "treatment_ts", "medications", "is_emergency", "notes", "metadata_modified_at",
}
PATIENT_ATTRIBUTES = {
    "patient_id", "first_name", "last_name", "gender", "date_of_birth", "city", "state", "zip",
}
PROVIDER_ATTRIBUTES = {"provider_id", "name", "specialty", "hospital_id", "city", "state"}
COST_PATTERN = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


# ------------------------------------------------------------------------------- helpers
def parse_ts(value: Any) -> datetime | None:
    """The contract's reading of treatment_ts: ISO-8601 with date, time and offset."""
    if not isinstance(value, str) or not ISO_WITH_OFFSET.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def reject_rule(item: dict[str, Any]) -> str | None:
    """An independent implementation of the contract's reject rules, in order."""
    if not item.get("treatment_id"):
        return "missing_treatment_id"
    if not (item.get("patient") or {}).get("patient_id"):
        return "missing_patient_id"
    if not (item.get("provider") or {}).get("provider_id"):
        return "missing_provider_id"
    modified = parse_ts(item.get("metadata_modified_at"))
    if modified is None:
        return "invalid_modified_at"
    treated = parse_ts(item.get("treatment_ts"))
    if treated is None:
        return "invalid_treatment_ts"
    if treated > modified:
        return "treatment_ts_after_modified_at"
    outcome = item.get("outcome_status")
    if not isinstance(outcome, str) or outcome.strip().lower() not in OUTCOME_MAP:
        return "unknown_outcome"
    return None


def cost_of(item: dict[str, Any]) -> tuple[Decimal | None, bool]:
    """(cost, is_cost_invalid) following the contract."""
    raw = item.get("cost")
    if raw is None:
        return None, False
    if isinstance(raw, str):
        text = raw.strip().replace("$", "").replace(",", "")
        if not COST_PATTERN.fullmatch(text):
            return None, True
        raw = Decimal(text)
    if raw < 0 or raw >= Decimal("1e10"):
        return None, True
    return raw, False


def canonical_json(text: str) -> Any:
    """The JSON of a line with N payloads compared as numbers."""

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"N"}:
                return {"N": Decimal(node["N"])}
            return {key: fix(value) for key, value in node.items()}
        if isinstance(node, list):
            return [fix(value) for value in node]
        return node

    return fix(json.loads(text))


def export_dir(out: Path, cycle: int) -> Path:
    (export,) = (out / f"cycle-{cycle}" / "AWSDynamoDB").iterdir()
    return export


def tree_bytes(out: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(out)): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def by_id(lines: list[Line]) -> dict[str, list[Line]]:
    grouped: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        if "treatment_id" in line.item:
            grouped[line.item["treatment_id"]].append(line)
    return grouped


def number(treatment_id: str) -> int:
    return int(treatment_id.removeprefix("TRT-"))


# -------------------------------------------------------------------------------- layout
def test_layout_is_a_dynamodb_export_per_cycle(generated: Generated) -> None:
    assert sorted(p.name for p in generated.out.iterdir()) == ["cycle-1", "cycle-2"]
    export_ids = []
    for cycle in (1, 2):
        assert [p.name for p in (generated.out / f"cycle-{cycle}").iterdir()] == ["AWSDynamoDB"]
        export = export_dir(generated.out, cycle)
        assert re.fullmatch(r"\d{14}-[0-9a-f]{8}", export.name)
        export_ids.append(export.name)
        assert sorted(p.name for p in export.iterdir()) == [
            "data", "manifest-files.json", "manifest-summary.json",
        ]
        names = [p.name for p in (export / "data").iterdir()]
        assert len(names) >= 4
        assert all(re.fullmatch(r"[a-z2-7]{26}\.json\.gz", name) for name in names)
    assert len(set(export_ids)) == 2


def test_manifest_summary(generated: Generated) -> None:
    for cycle, export_type in ((1, "FULL_EXPORT"), (2, "INCREMENTAL_EXPORT")):
        export = export_dir(generated.out, cycle)
        text = (export / "manifest-summary.json").read_text()
        summary = json.loads(text)
        assert text.count("\n") == 1  # one JSON object
        assert summary["version"] == "2020-06-30"
        assert summary["exportType"] == export_type
        assert summary["outputFormat"] == "DYNAMODB_JSON"
        assert summary["exportTime"] == EXPORT_TIMES[cycle].strftime("%Y-%m-%dT%H:%M:%SZ")
        assert summary["manifestFilesS3Key"] == f"AWSDynamoDB/{export.name}/manifest-files.json"
        assert summary["exportArn"].endswith(f"/export/{export.name}")
        assert summary["exportArn"].startswith(summary["tableArn"])
        for key in ("startTime", "endTime", "s3Bucket", "s3Prefix", "billedSizeBytes"):
            assert key in summary
        assert summary["itemCount"] == len(generated.lines[cycle])
        assert summary["itemCount"] == generated.report.exports[cycle - 1].items
        assert export.name.startswith(f"{int(EXPORT_TIMES[cycle].timestamp() * 1000):014d}-")


def test_manifest_files_match_the_data_files(generated: Generated) -> None:
    for cycle in (1, 2):
        export = export_dir(generated.out, cycle)
        entries = [
            json.loads(text) for text in (export / "manifest-files.json").read_text().splitlines()
        ]
        listed = set()
        for entry in entries:
            assert set(entry) == {"itemCount", "md5Checksum", "etag", "dataFileS3Key"}
            key = entry["dataFileS3Key"]
            assert key.startswith(f"AWSDynamoDB/{export.name}/data/")
            path = generated.out / f"cycle-{cycle}" / key
            data = path.read_bytes()
            digest = hashlib.md5(data).digest()
            assert entry["md5Checksum"] == base64.b64encode(digest).decode()
            assert entry["etag"] == digest.hex()
            text = gzip.decompress(data).decode("utf-8")
            assert text == "" or text.endswith("\n")
            assert entry["itemCount"] == text.count("\n")
            listed.add(path.name)
        assert listed == {p.name for p in (export / "data").iterdir()}
        counts = [entry["itemCount"] for entry in entries]
        assert counts.count(0) >= 1, "every export has an empty data file"
        assert sum(1 for count in counts if count) >= 3, "several data files with items"


def test_empty_data_file_is_a_valid_empty_gzip(generated: Generated) -> None:
    export = export_dir(generated.out, 1)
    entries = [json.loads(t) for t in (export / "manifest-files.json").read_text().splitlines()]
    (empty,) = [e for e in entries if e["itemCount"] == 0]
    assert gzip.decompress((generated.out / "cycle-1" / empty["dataFileS3Key"]).read_bytes()) == b""


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", treatments=800, seed=5)
    generate(tmp_path / "b", treatments=800, seed=5)
    generate(tmp_path / "c", treatments=800, seed=6)
    a, b, c = (tree_bytes(tmp_path / name) for name in "abc")
    assert a == b
    assert set(a) != set(c)  # export ids and file names come from the seed
    assert sorted(a.values()) != sorted(c.values())
    assert first.items == sum(len(gzip.decompress(v).splitlines()) for k, v in a.items()
                              if k.endswith(".gz"))


def test_worker_processes_write_the_same_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "one", treatments=1_200, seed=3, workers=1)
    report = generate(tmp_path / "two", treatments=1_200, seed=3, workers=2)
    assert report.workers == 2
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")


def test_a_second_run_replaces_the_first(tmp_path: Path) -> None:
    generate(tmp_path, treatments=300, seed=1)
    generate(tmp_path, treatments=300, seed=2)
    assert len(list((tmp_path / "cycle-1" / "AWSDynamoDB").iterdir())) == 1
    (tmp_path / "cycle-2" / "notes.txt").write_text("not the generator's")
    with pytest.raises(RuntimeError, match="did not write"):
        generate(tmp_path, treatments=300, seed=1)


def test_rejects_nonsense_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, treatments=0, seed=1)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from loaders.cli import main

    assert main(["generate", "--out", str(tmp_path), "--treatments", "200", "--seed", "4"]) == 0
    printed = capsys.readouterr().out
    assert "cycle-1" in printed and "cycle-2" in printed and "defects injected" in printed
    assert (tmp_path / "cycle-2" / "AWSDynamoDB").is_dir()


# ----------------------------------------------------------------------------- the items
def test_every_line_is_canonical_dynamodb_json(generated: Generated) -> None:
    for lines in generated.lines.values():
        for line in lines:
            obj = json.loads(line.text)
            again = json.dumps(serialize_item(deserialize_item(obj)))
            assert canonical_json(again) == canonical_json(line.text)


def test_items_have_the_contract_attributes_and_types(generated: Generated) -> None:
    for lines in generated.lines.values():
        for line in lines:
            raw = json.loads(line.text)["Item"]
            assert set(raw) <= ITEM_ATTRIBUTES
            assert ITEM_ATTRIBUTES - set(raw) <= {"treatment_id", "cost", "treatment_ts",
                                                  "medications"}
            if "treatment_id" in raw:
                assert re.fullmatch(r"TRT-\d{9}", raw["treatment_id"]["S"])
            assert set(raw["patient"]["M"]) <= PATIENT_ATTRIBUTES
            assert set(raw["provider"]["M"]) <= PROVIDER_ATTRIBUTES
            assert set(raw["disease"]["M"]) == {"code", "name"}
            assert "S" in raw["treatment_type"] and "S" in raw["outcome_status"]
            assert set(raw["is_emergency"]) == {"BOOL"}
            assert set(raw["notes"]) <= {"S", "NULL"}
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z",
                                raw["metadata_modified_at"]["S"])
            if "medications" in raw:
                for med in raw["medications"]["L"]:
                    assert set(med["M"]) == {"name", "dose_mg"}
                    assert "N" in med["M"]["dose_mg"]
            item = line.item
            assert (item["disease"]["code"], item["disease"]["name"]) in DISEASES
            assert item["treatment_type"].strip() in {name for name, _, _ in TREATMENT_TYPES}
            patient = item["patient"]
            if "patient_id" in patient:
                assert re.fullmatch(r"MRN\d{8}", patient["patient_id"])
            assert re.fullmatch(r"\d{5}", patient["zip"])
            date.fromisoformat(patient["date_of_birth"])
            provider = item["provider"]
            if "provider_id" in provider:
                assert re.fullmatch(r"[12]\d{9}", provider["provider_id"])
            assert provider["name"].startswith("Dr. ")
            assert re.fullmatch(r"H00[1-7]", provider["hospital_id"])


def test_clean_costs_are_positive_amounts_with_two_decimals(generated: Generated) -> None:
    for line in generated.lines[1] + generated.lines[2]:
        raw = json.loads(line.text)["Item"].get("cost", {})
        text = raw.get("N", "")
        if re.fullmatch(r"\d+\.\d{2}", text):
            assert Decimal("50") <= Decimal(text) <= Decimal("50000")


def test_cycle_one_times(generated: Generated) -> None:
    zones = {h.hospital_id: ZoneInfo(h.timezone) for h in pop.HOSPITALS}
    first = datetime(2024, 1, 1, tzinfo=ZoneInfo("America/Chicago"))
    offsets = set()
    for line in generated.lines[1]:
        item = line.item
        modified = parse_ts(item["metadata_modified_at"])
        assert modified is not None and modified <= EXPORT_1
        treated = parse_ts(item.get("treatment_ts"))
        if treated is None or treated > modified:
            continue  # injected defects
        assert first <= treated < EXPORT_1
        # The offset is the provider's hospital's local offset at that instant (DST aware).
        zone = zones[item["provider"]["hospital_id"]]
        assert treated.utcoffset() == treated.astimezone(zone).utcoffset()
        offsets.add(item["treatment_ts"][-6:])
    assert {"-06:00", "-05:00", "-04:00"} <= offsets


def test_outcomes_depend_on_age(generated: Generated) -> None:
    old: Counter[str] = Counter()
    recent: Counter[str] = Counter()
    for line in generated.lines[1]:
        treated = parse_ts(line.item.get("treatment_ts"))
        outcome = OUTCOME_MAP.get(str(line.item["outcome_status"]).strip().lower())
        if treated is None or outcome is None:
            continue
        age = (EXPORT_1 - treated).days
        (recent if age < 14 else old if age > 60 else Counter())[outcome] += 1
    assert old["success"] > old["failure"] > old["ongoing"]
    assert old["cancelled"] > 0
    assert recent["ongoing"] > recent["success"] * 0.5


# ------------------------------------------------------------------------------- cycle 2
def test_cycle_two_holds_new_items_new_versions_and_repeats(generated: Generated) -> None:
    n = generated.treatments
    first_lines = {line.text for line in generated.lines[1]}
    first_by_id = by_id(generated.lines[1])
    new = repeats = versions = idless = 0
    for line in generated.lines[2]:
        item = line.item
        modified = parse_ts(item["metadata_modified_at"])
        assert modified is not None
        if line.text in first_lines:
            repeats += 1
            continue
        assert EXPORT_1 < modified < EXPORT_2
        if "treatment_id" not in item:  # a missing-id defect: new or revised, cannot tell
            idless += 1
            continue
        treatment = number(item["treatment_id"])
        if treatment > n:
            new += 1
            treated = parse_ts(item.get("treatment_ts"))
            if treated is not None and treated <= modified:
                assert EXPORT_1 <= treated < EXPORT_2
        else:
            versions += 1
            assert item["treatment_id"] in first_by_id
    report = generated.report.exports[1]
    assert report.new_items == round(n * 0.2)
    assert new + versions + idless == report.new_items + report.revised_items
    assert new <= report.new_items and versions <= report.revised_items
    assert repeats == report.repeated_items
    assert 0.07 * n < versions < 0.13 * n
    assert 0.01 * n < repeats < 0.03 * n


def test_repeated_items_are_byte_identical(generated: Generated) -> None:
    first = {line.text: line for line in generated.lines[1]}
    repeated = [line for line in generated.lines[2] if line.text in first]
    assert repeated
    for line in repeated:
        assert line.item["metadata_modified_at"] == first[line.text].item["metadata_modified_at"]


def test_new_versions_complete_and_correct(generated: Generated) -> None:
    first = {tid: lines[0].item for tid, lines in by_id(generated.lines[1]).items()}
    completed = cancelled = corrected = 0
    for line in generated.lines[2]:
        tid = line.item.get("treatment_id")
        if tid not in first or line.text in {json.dumps(None)}:
            continue
        before, after = first[tid], line.item
        if before == after:
            continue  # a repeat
        was = OUTCOME_MAP.get(str(before["outcome_status"]).strip().lower())
        now = OUTCOME_MAP.get(str(after["outcome_status"]).strip().lower())
        if was == "ongoing" and now in {"success", "failure"}:
            completed += 1
        if was == "ongoing" and now == "cancelled":
            cancelled += 1
        if (cost_of(before)[0] != cost_of(after)[0]
                and after.get("notes") == "Cost corrected by billing."):
            corrected += 1
        # The item keeps its treatment time and the patient and provider maps it had.
        for name in ("disease", "treatment_type", "is_emergency"):
            assert before[name] == after[name] or name == "treatment_type"
        for name in ("patient", "provider"):
            same = {k: v for k, v in before[name].items() if not k.endswith("_id")}
            assert same == {k: v for k, v in after[name].items() if not k.endswith("_id")}
    assert completed > 0.03 * generated.treatments
    assert cancelled > 0
    assert corrected > 0.01 * generated.treatments


def test_rules_judge_the_latest_version_both_ways(generated: Generated) -> None:
    first = by_id(generated.lines[1])
    became_rejected = became_valid = 0
    for tid, lines in by_id(generated.lines[2]).items():
        if tid not in first:
            continue
        latest = max(lines, key=lambda line: line.item["metadata_modified_at"])
        before = reject_rule(first[tid][0].item)
        after = reject_rule(latest.item)
        became_rejected += before is None and after is not None
        became_valid += before is not None and after is None
    assert became_rejected >= 0.003 * generated.treatments
    assert became_valid >= 0.005 * generated.treatments


# ----------------------------------------------------------------------------- dirty data
def test_every_dirty_kind_is_present_in_the_data(generated: Generated) -> None:
    seen: Counter[str] = Counter()
    canonical_outcomes = set(OUTCOME_VARIANTS)
    for line in generated.lines[1] + generated.lines[2]:
        item = line.item
        raw = json.loads(line.text)["Item"]
        outcome = item["outcome_status"]
        if outcome.strip().lower() not in OUTCOME_MAP:
            seen["outcome_unknown"] += 1
            assert outcome in UNKNOWN_OUTCOMES
        elif outcome not in canonical_outcomes:
            seen["outcome_variant"] += 1
        gender = item["patient"].get("gender", "<absent>")
        if gender in (None, "<absent>"):
            seen["gender_missing"] += 1
        elif gender not in ("female", "male"):
            seen["gender_variant"] += 1
            assert gender.strip().lower() in GENDER_MAP
        cost = raw.get("cost")
        if cost is None:
            seen["cost_absent"] += 1
        elif "NULL" in cost:
            seen["cost_null"] += 1
        elif "S" in cost:
            parsed, invalid = cost_of(item)
            if invalid and cost["S"].lstrip().startswith("-"):
                seen["cost_negative"] += 1
            elif invalid:
                seen["cost_unparseable"] += 1
            else:
                assert parsed is not None  # '$1,234.50', '1,234.50', ' $1234.50 ', '589.97'
                seen["cost_string"] += 1
        elif cost["N"].startswith("-"):
            seen["cost_negative"] += 1
        elif "E" in cost["N"]:
            seen["cost_exponent"] += 1
        rule = reject_rule(item)
        if rule == "invalid_treatment_ts":
            seen["treatment_ts_invalid"] += 1
        if rule == "treatment_ts_after_modified_at":
            seen["treatment_ts_future"] += 1
        if "treatment_id" not in raw:
            seen["treatment_id_missing"] += 1
        if "patient_id" not in item["patient"]:
            seen["patient_id_missing"] += 1
        if "provider_id" not in item["provider"]:
            seen["provider_id_missing"] += 1
        if item["treatment_type"] != item["treatment_type"].strip():
            seen["treatment_type_padded"] += 1
    kinds = set(RATES) | {"gender_variant", "gender_missing"}
    assert {kind for kind in kinds if seen[kind] == 0} == set()
    # What the data shows is what the report says was injected.
    injected = generated.report.defects
    for kind in kinds:
        assert seen[kind] == injected[kind], kind


def test_dirty_rates_are_roughly_the_documented_ones(generated: Generated) -> None:
    injected = generated.report.defects
    items = generated.report.items
    assert 0.26 < injected["outcome_variant"] / items < 0.34
    assert 0.035 < injected["cost_string"] / items < 0.065
    assert 0.028 < injected["cost_absent"] / items < 0.052
    assert 0.005 < injected["cost_negative"] / items < 0.016
    assert 0.12 < injected["gender_variant"] / items < 0.28
    assert 0.01 < injected["gender_missing"] / items < 0.05


def test_invalid_timestamps_take_several_forms(generated: Generated) -> None:
    forms = set()
    for line in generated.lines[1] + generated.lines[2]:
        raw = json.loads(line.text)["Item"]
        if reject_rule(line.item) != "invalid_treatment_ts" or "patient_id" not in line.item[
                "patient"] or "provider_id" not in line.item["provider"]:
            continue
        ts = raw.get("treatment_ts")
        if ts is None:
            forms.add("absent")
        elif "NULL" in ts:
            forms.add("null")
        else:
            text = ts["S"]
            forms.add("empty" if text == "" else "garbage" if text == "not-a-date" else
                      "impossible" if "-02-30T" in text else "no_offset" if len(text) == 19
                      else "date_only" if len(text) == 10 else text)
    assert len(forms) >= 4
    assert forms <= {"absent", "null", "empty", "garbage", "impossible", "no_offset", "date_only"}


# ------------------------------------------------------------------------- population
def test_population_is_deterministic() -> None:
    a = pop.build_population(9, 4_000)
    b = pop.build_population(9, 4_000)
    c = pop.build_population(10, 4_000)
    assert a.providers == b.providers
    assert list(a.patients()) == list(b.patients())
    assert list(a.patients()) != list(c.patients())
    assert a.departments == b.departments


def test_population_shape() -> None:
    population = pop.build_population(2, 40_000)
    assert len(population.hospitals) == 7
    states = [h.state for h in population.hospitals]
    assert set(states) == {"IL", "WI", "MN", "MO", "IN"}
    assert states.count("MN") == states.count("IN") == 2  # cities rank within a state
    assert {pop.HOSPITALS[pop.home_hospital_index(c)].state for c in pop.CITIES} == set(states)
    assert len(population.departments) == 7 * 8
    assert "H001-ICU" in {d.department_id for d in population.departments}
    assert population.patient_count == 10_000
    assert len(population.providers) == 100
    assert len({p.provider_id for p in population.providers}) == 100
    assert len({population.patient_id(i) for i in range(population.patient_count)}) == 10_000
    for hospital in population.hospitals:
        assert population.providers_of(hospital.hospital_id)
    assert len(pop.CITIES) >= 40
    for provider in population.providers:
        assert re.fullmatch(r"[12]\d{9}", provider.provider_id)
        # NPI check digit: Luhn over '80840' + the 10 digits is 0 mod 10.
        digits = [int(c) for c in "80840" + provider.provider_id]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                    for i, d in enumerate(reversed(digits)))
        assert total % 10 == 0


def test_some_providers_change_hospital_and_some_patients_move() -> None:
    population = pop.build_population(2, 40_000)
    changing = [p for p in population.providers if p.changes_at is not None]
    assert len(changing) == round(100 * pop.PROVIDER_CHANGE_RATE)
    moved = population.moved_patients()
    assert len(moved) == round(10_000 * pop.PATIENT_MOVE_RATE)
    for provider in changing:
        assert pop.CHANGE_WINDOW_START < provider.changes_at < pop.CHANGE_WINDOW_END
        before = pop.provider_as_of(provider, pop.CHANGE_WINDOW_START)
        after = pop.provider_as_of(provider, pop.CHANGE_WINDOW_END)
        assert before.hospital_id == provider.hospital_id != after.hospital_id
        assert (before.name, before.specialty) == (after.name, after.specialty)
        hospital = population.hospital(after.hospital_id)
        assert (after.city, after.state) == (hospital.city, hospital.state)
    for index in moved:
        patient = population.patient(index)
        assert patient.moves_at is not None
        before = pop.patient_as_of(patient, datetime(2024, 1, 1, tzinfo=UTC))
        after = pop.patient_as_of(patient, pop.CHANGE_WINDOW_END)
        assert (before.city, before.state) != (after.city, after.state)
        assert (before.first_name, before.gender, before.date_of_birth) == (
            after.first_name, after.gender, after.date_of_birth)
    with pytest.raises(ValueError):
        pop.provider_as_of(changing[0], datetime(2025, 1, 1))


def test_items_embed_patient_and_provider_as_of_their_treatment(generated: Generated) -> None:
    population = generated.population
    patients = {p.patient_id: p for p in population.patients()}
    providers = {p.provider_id: p for p in population.providers}
    moved_seen = changed_seen = 0
    for line in generated.lines[1] + generated.lines[2]:
        item = line.item
        if reject_rule(item) in {"missing_patient_id", "missing_provider_id",
                                 "invalid_treatment_ts", "treatment_ts_after_modified_at"}:
            continue
        treated = parse_ts(item["treatment_ts"])
        assert treated is not None
        patient = patients[item["patient"]["patient_id"]]
        version = pop.patient_as_of(patient, treated)
        expected = {
            "patient_id": version.patient_id, "first_name": version.first_name,
            "last_name": version.last_name, "date_of_birth": version.date_of_birth.isoformat(),
            "city": version.city, "state": version.state, "zip": version.zip,
        }
        if version.gender_form == "value":
            expected["gender"] = version.gender_raw
        elif version.gender_form == "null":
            expected["gender"] = None
        assert item["patient"] == expected
        provider = providers[item["provider"]["provider_id"]]
        pv = pop.provider_as_of(provider, treated)
        assert item["provider"] == {
            "provider_id": pv.provider_id, "name": pv.name, "specialty": pv.specialty,
            "hospital_id": pv.hospital_id, "city": pv.city, "state": pv.state,
        }
        moved_seen += patient.moves_at is not None and treated >= patient.moves_at
        changed_seen += provider.changes_at is not None and treated >= provider.changes_at
    assert moved_seen > 0
    assert changed_seen > 0


def test_gender_is_consistent_per_patient(generated: Generated) -> None:
    spellings: dict[str, set[str]] = defaultdict(set)
    for line in generated.lines[1] + generated.lines[2]:
        patient = line.item["patient"]
        if "patient_id" in patient:
            spellings[patient["patient_id"]].add(repr(patient.get("gender", "<absent>")))
    assert all(len(values) == 1 for values in spellings.values())
