"""Synthetic S4 and S5 sources: EHR documents, monthly claims and prescription fills.

``generate(out, treatments=N, seed=S)`` writes (README.md, "Sources S4, S5")::

    out/landing/ehr/ehr_extract_<YYYY-MM-DD>.jsonl   one EHR document per line (``ehr``)
    out/landing/claims/claims_<YYYY-MM>.csv          monthly claim batches (``claims``)
    out/landing/fills/fills_<YYYY-MM>.parquet        monthly prescription fills (``claims``)
    out/truth/clinical_defects.jsonl                 one line per spoiled record
    out/truth/clinical_generation.json               arguments, counts, per-defect counts, rates

The patients and providers are ``build_population(seed, treatments)``, the same as the other
generators'. Patients are handled one at a time in index order (each from its own seeded
``random.Random``) and their records appended to the open files, so memory stays bounded
whatever N: the open files, a Parquet buffer of at most ``ROW_GROUP_ROWS`` rows per month and
the ledger. Ids come from global counters through bijections (``ehr.IdSequence``). The same
arguments give byte-identical files.

Ledger lines (sorted by source, file, line): ``source`` (ehr, claims, fills), ``file`` (relative
to ``landing``), ``line`` (1-based physical line; the CSV header is line 1; for Parquet the
1-based row number in the file), ``record_id`` (visit_id, claim_id, rx_id or null for a
document), ``record_type`` (document, visit, diagnosis, medication_order, provider_note,
claim_version, fill), ``defect``, ``expected_rule`` (the silver reject rule), and where it
applies ``visit_ordinal`` and ``item_number`` (1-based positions in the document's arrays),
``claim_version``, ``patient_id`` (for a document). Rates of every defect: the module
docstrings of ``ehr`` and ``claims``.
"""

from __future__ import annotations

import json
import logging
import random
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from loaders.generator import claims, ehr
from loaders.generator.population import build_population

__all__ = ["ClinicalReport", "generate"]

log = logging.getLogger(__name__)

_EHR_NAME = re.compile(r"ehr_extract_\d{4}-\d{2}-\d{2}\.jsonl")
_CLAIMS_NAME = re.compile(r"claims_\d{4}-\d{2}\.csv")
_FILLS_NAME = re.compile(r"fills_\d{4}-\d{2}\.parquet")
_FOLDERS = (("ehr", _EHR_NAME), ("claims", _CLAIMS_NAME), ("fills", _FILLS_NAME))
_TRUTH_FILES = ("clinical_defects.jsonl", "clinical_generation.json")


@dataclass
class ClinicalReport:
    """Summary of a ``generate`` run (``describe()`` is what the command line prints)."""

    out: Path
    seed: int
    treatments: int
    patients: int = 0
    providers: int = 0
    ehr_patients: int = 0
    chronic_patients: int = 0
    documents: dict[str, int] = field(default_factory=dict)  # extract file -> documents
    visits: int = 0
    visit_types: dict[str, int] = field(default_factory=dict)
    diagnoses: int = 0
    medication_orders: int = 0
    provider_notes: int = 0
    name_changes: int = 0
    contact_changes: int = 0
    claims: int = 0
    claim_lines: int = 0
    claim_versions: dict[int, int] = field(default_factory=dict)
    claim_resends: int = 0
    claim_files: int = 0
    fills: int = 0
    fill_rows: int = 0
    fill_files: int = 0
    readmissions_30: int = 0
    readmissions_31_45: int = 0
    inpatient_stays: int = 0
    defects: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> kind -> n
    bytes: int = 0
    seconds: float = 0.0

    @property
    def landing(self) -> Path:
        return self.out / "landing"

    def describe(self) -> str:
        def kinds(source: str) -> str:
            found = self.defects.get(source, {})
            return ", ".join(f"{kind} {count:,}" for kind, count in sorted(found.items()))

        versions = ", ".join(f"v{v} {n:,}" for v, n in sorted(self.claim_versions.items()))
        return "\n".join([
            f"EHR: {sum(self.documents.values()):,} documents in {len(self.documents)} extracts "
            f"under {self.landing / 'ehr'} ({self.ehr_patients:,} of {self.patients:,} patients, "
            f"{self.chronic_patients:,} chronic; seed {self.seed}, treatments "
            f"{self.treatments:,})",
            f"  {self.visits:,} visits ("
            + ", ".join(f"{k} {v:,}" for k, v in sorted(self.visit_types.items()))
            + f"), {self.diagnoses:,} diagnoses, {self.medication_orders:,} medication orders, "
            f"{self.provider_notes:,} notes; {self.name_changes:,} name and "
            f"{self.contact_changes:,} phone/e-mail changes",
            f"  inpatient stays {self.inpatient_stays:,}: next stay within 1-30 days "
            f"{self.readmissions_30:,}, 31-45 days {self.readmissions_31_45:,}",
            f"claims: {self.claims:,} claims, {self.claim_lines:,} lines ({versions}; "
            f"{self.claim_resends:,} re-sent) in {self.claim_files} files under "
            f"{self.landing / 'claims'}",
            f"fills: {self.fills:,} fills, {self.fill_rows:,} rows in {self.fill_files} Parquet "
            f"files under {self.landing / 'fills'}",
            f"defects: ehr {kinds('ehr')}",
            f"  claims {kinds('claims')}",
            f"  fills {kinds('fills')}",
            f"truth: {self.out / 'truth' / 'clinical_defects.jsonl'} "
            f"({sum(sum(v.values()) for v in self.defects.values()):,} lines), "
            f"{self.out / 'truth' / 'clinical_generation.json'}",
            f"generated {self.bytes / 1e6:,.1f} MB in {self.seconds:.1f} s",
        ])


class _Files:
    """The open output files with their line counters; ledger entries get file and line."""

    def __init__(self, landing: Path) -> None:
        self.landing = landing
        self.ledger: list[dict[str, Any]] = []
        self._ehr: dict[int, tuple[IO[str], list[int]]] = {}
        self._claims: dict[str, tuple[IO[str], list[int]]] = {}
        self._fills: dict[str, _FillsFile] = {}
        self.documents: Counter[str] = Counter()

    def _note(self, entry: dict[str, Any] | None, relative: str, line: int) -> None:
        if entry is not None:
            self.ledger.append({"source": entry["source"], "file": relative, "line": line,
                                **{k: v for k, v in entry.items() if k != "source"}})

    def document(self, doc: ehr.Document) -> None:
        opened = self._ehr.get(doc.extract)
        name = f"ehr_extract_{ehr.EXTRACTS[doc.extract].isoformat()}.jsonl"
        if opened is None:
            folder = self.landing / "ehr"
            folder.mkdir(parents=True, exist_ok=True)
            opened = ((folder / name).open("w", encoding="utf-8", newline="\n"), [0])
            self._ehr[doc.extract] = opened
        handle, counter = opened
        handle.write(doc.text + "\n")
        counter[0] += 1
        self.documents[name] += 1
        for entry in doc.entries:
            self._note(entry, f"ehr/{name}", counter[0])

    def claim(self, line: claims.ClaimLine) -> None:
        opened = self._claims.get(line.month)
        name = f"claims_{line.month}.csv"
        if opened is None:
            folder = self.landing / "claims"
            folder.mkdir(parents=True, exist_ok=True)
            handle = (folder / name).open("w", encoding="utf-8", newline="\n")
            handle.write(",".join(claims.CLAIMS_HEADER) + "\n")
            opened = (handle, [1])
            self._claims[line.month] = opened
        handle, counter = opened
        handle.write(line.text + "\n")
        counter[0] += 1
        self._note(line.entry, f"claims/{name}", counter[0])

    def fill(self, row: claims.FillRow) -> None:
        opened = self._fills.get(row.month)
        if opened is None:
            opened = _FillsFile(self.landing / "fills", row.month)
            self._fills[row.month] = opened
        number = opened.add(row)
        self._note(row.entry, f"fills/fills_{row.month}.parquet", number)

    def close(self) -> tuple[int, int, int]:
        """Close everything; returns (claim files, fill files, bytes written)."""
        size = 0
        for handle, _ in (*self._ehr.values(), *self._claims.values()):
            handle.close()
            size += Path(handle.name).stat().st_size
        for fills in self._fills.values():
            size += fills.close()
        return len(self._claims), len(self._fills), size


class _FillsFile:
    """One month of fills: rows buffered and written as row groups of ROW_GROUP_ROWS rows."""

    def __init__(self, folder: Path, month: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"fills_{month}.parquet"
        self.pharmacy = month >= claims.PHARMACY_ID_FROM
        self.schema = claims.FILLS_SCHEMA_WITH_PHARMACY if self.pharmacy else claims.FILLS_SCHEMA
        self.writer = pq.ParquetWriter(self.path, self.schema, compression="snappy")
        self.rows: list[claims.FillRow] = []
        self.count = 0

    def add(self, row: claims.FillRow) -> int:
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= claims.ROW_GROUP_ROWS:
            self._flush()
        return self.count

    def _flush(self) -> None:
        if not self.rows:
            return
        columns = [list(column) for column in zip(*(row.values for row in self.rows),
                                                   strict=True)]
        if self.pharmacy:
            columns.append([row.pharmacy_id for row in self.rows])
        table = pa.Table.from_arrays(
            [pa.array(values, type=fld.type) for values, fld in zip(columns, self.schema,
                                                                     strict=True)],
            schema=self.schema,
        )
        self.writer.write_table(table, row_group_size=claims.ROW_GROUP_ROWS)
        self.rows = []

    def close(self) -> int:
        self._flush()
        self.writer.close()
        return self.path.stat().st_size


def _prepare(out: Path) -> None:
    """Remove earlier generator output (refused when those folders hold other files)."""
    landing = out / "landing"
    for name, pattern in _FOLDERS:
        folder = landing / name
        if not folder.exists():
            continue
        strangers = [path for path in folder.rglob("*")
                     if not (path.is_file() and pattern.fullmatch(path.name)
                             and path.parent == folder)]
        if strangers:
            raise RuntimeError(f"{folder} holds files the generator did not write "
                               f"(e.g. {strangers[0]}); choose another --out")
        log.info("removing earlier feed folder %s", folder)
        shutil.rmtree(folder)
    for name in _TRUTH_FILES:
        (out / "truth" / name).unlink(missing_ok=True)


def generate(out: Path, *, treatments: int = 20_000, seed: int = 42) -> ClinicalReport:
    """Write the EHR extracts, claim batches, fill files and the truth files under ``out``.

    The same arguments always give byte-identical files. Raises ValueError for out-of-range
    arguments and RuntimeError when ``out``'s ehr/claims/fills folders hold foreign files.
    """
    if treatments < 1:
        raise ValueError("treatments must be at least 1")
    started = time.perf_counter()
    out = Path(out)
    population = build_population(seed, treatments)
    _prepare(out)
    context = ehr.EhrContext(population, seed)
    claim_ids = ehr.IdSequence("C", 9, f"claim-ids:{seed}")
    rx_ids = ehr.IdSequence("RX", 9, f"rx-ids:{seed}")
    report = ClinicalReport(out=out, seed=seed, treatments=treatments,
                            patients=population.patient_count,
                            providers=len(population.providers))
    files = _Files(out / "landing")
    visit_types: Counter[str] = Counter()
    versions: Counter[int] = Counter()
    claim_ids_seen = 0
    log.info("generating clinical data for %d patients (seed %d) into %s",
             population.patient_count, seed, out)
    for index in range(population.patient_count):
        history = ehr.build_history(context, index)
        if history is None or not history.visits:
            continue
        report.ehr_patients += 1
        report.chronic_patients += bool(history.conditions)
        report.name_changes += history.name_change is not None
        report.contact_changes += (history.phone_change is not None
                                   or history.email_change is not None)
        previous_discharge = None
        for visit in history.visits:
            visit_types[visit.visit_type] += 1
            report.diagnoses += len(visit.diagnoses)
            report.medication_orders += len(visit.orders)
            report.provider_notes += len(visit.notes)
            if visit.visit_type == "inpatient":
                report.inpatient_stays += 1
                if previous_discharge is not None:
                    gap = visit.visit_date - previous_discharge
                    if 1 <= gap <= 30:
                        report.readmissions_30 += 1
                    elif 31 <= gap <= 45:
                        report.readmissions_31_45 += 1
                previous_discharge = visit.end_date
        for doc in ehr.render_documents(history, random.Random(f"ehr-documents:{seed}:{index}")):
            files.document(doc)
        before = claim_ids.count
        for line in claims.claim_lines(history, random.Random(f"claims:{seed}:{index}"),
                                       claim_ids):
            files.claim(line)
            report.claim_lines += 1
            if line.resend:
                report.claim_resends += 1
            else:
                versions[line.version] += 1
        claim_ids_seen += claim_ids.count - before
        for row in claims.fill_rows(history, random.Random(f"fills:{seed}:{index}"), rx_ids):
            files.fill(row)
            report.fill_rows += 1
    report.claim_files, report.fill_files, report.bytes = files.close()
    report.documents = dict(sorted(files.documents.items()))
    report.visits = sum(visit_types.values())
    report.visit_types = dict(sorted(visit_types.items()))
    report.claims = claim_ids_seen
    report.fills = rx_ids.count
    report.claim_versions = dict(sorted(versions.items()))
    ledger = files.ledger
    counts: dict[str, Counter[str]] = {"ehr": Counter(), "claims": Counter(), "fills": Counter()}
    for entry in ledger:
        counts[entry["source"]][entry["defect"]] += 1
    report.defects = {source: dict(sorted(found.items())) for source, found in counts.items()}
    _write_truth(out, report, ledger)
    report.seconds = time.perf_counter() - started
    log.info("generated %d documents, %d claim lines, %d fill rows in %.1f s",
             sum(report.documents.values()), report.claim_lines, report.fill_rows,
             report.seconds)
    return report


def _write_truth(out: Path, report: ClinicalReport, ledger: list[dict[str, Any]]) -> None:
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    ledger.sort(key=lambda entry: (entry["source"], entry["file"], entry["line"]))
    with (truth / "clinical_defects.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        for entry in ledger:
            handle.write(json.dumps(entry, separators=(",", ":")) + "\n")
    generation = {
        "seed": report.seed,
        "treatments": report.treatments,
        "patients": report.patients,
        "providers": report.providers,
        "ehr_patients": report.ehr_patients,
        "chronic_patients": report.chronic_patients,
        "extracts": [day.isoformat() for day in ehr.EXTRACTS],
        "documents": report.documents,
        "visits": report.visits,
        "visit_types": report.visit_types,
        "diagnoses": report.diagnoses,
        "medication_orders": report.medication_orders,
        "provider_notes": report.provider_notes,
        "name_changes": report.name_changes,
        "contact_changes": report.contact_changes,
        "inpatient_stays": report.inpatient_stays,
        "next_stay_within_1_30_days": report.readmissions_30,
        "next_stay_within_31_45_days": report.readmissions_31_45,
        "claims": report.claims,
        "claim_lines": report.claim_lines,
        "claim_versions": {str(k): v for k, v in report.claim_versions.items()},
        "claim_resends": report.claim_resends,
        "claim_files": report.claim_files,
        "fills": report.fills,
        "fill_rows": report.fill_rows,
        "fill_files": report.fill_files,
        "pharmacy_id_from": claims.PHARMACY_ID_FROM,
        "row_group_rows": claims.ROW_GROUP_ROWS,
        "defects": report.defects,
        "rates": {"ehr": ehr.EHR_RATES, "claims": claims.CLAIMS_RATES,
                  "fills": claims.FILLS_RATES},
    }
    (truth / "clinical_generation.json").write_text(json.dumps(generation, indent=2) + "\n",
                                                    encoding="utf-8")
