"""Synthetic S1 source: DynamoDB exports of the treatments table.

``generate(out, treatments=N, seed=S)`` writes two export cycles in the layout of DynamoDB's
"export to S3" (README.md, "Source S1")::

    out/cycle-1/AWSDynamoDB/<ExportId>/manifest-summary.json, manifest-files.json, data/*.json.gz
    out/cycle-2/AWSDynamoDB/<ExportId>/...

Cycle 1 is a FULL_EXPORT at 2025-07-01T00:00:00Z holding N treatments dated from 2024-01-01.
Cycle 2 is an INCREMENTAL_EXPORT at 2026-01-01T00:00:00Z holding
  * about 0.2 N new treatments dated after the first export,
  * new versions of about 10% of the old treatments (see ``FATE_RATES``): ongoing treatments
    that completed or were cancelled, corrected costs, previously rejected items fixed and
    previously valid items broken (the rules judge the latest version),
  * about 2% of the old items repeated unchanged (byte-identical, same metadata_modified_at).
Every item embeds its patient and provider as of its treatment time; about 3% of the providers
change hospital and 5% of the patients move inside cycle 2 (see ``population``), so items after
the change carry the new city and state while re-versioned old items keep the maps they had.

Each treatment is derived from ``(seed, index)`` with its own ``random.Random``, so cycle 2
re-creates an old item without having stored it, and memory does not grow with N (the
population is a few bytes per patient). Items are written as JSON text built from pre-rendered
fragments (several times faster than ``json.dumps`` of the typed dict; the tests check every
line against ``dynamo_json``), gzip level ``COMPRESS_LEVEL``. Each data file (about
``ITEMS_PER_DATA_FILE`` items, a contiguous range of treatment numbers) is written by one task;
from ``PARALLEL_THRESHOLD`` treatments on the tasks run in one worker process per CPU. The
bytes do not depend on the number of processes.

Dirty data (rates per emitted item unless noted; the report counts what was injected)::

    kind                   rate    what the item carries
    outcome_variant        30%     outcome spelled another known way: 'SUCCESS', 'Successful',
                                   ' success ', 'Failed', 'unsuccessful', 'In Progress',
                                   'in_progress', 'pending', 'canceled', ... (trim+lower maps it)
    outcome_unknown        0.4%    outcome 'n/a', 'unknown' or 'TBD'            -> rejected
    gender_variant         20%     of patients: 'F', 'f', 'Female', 'FEMALE', ' female', 'F ',
                                   'M', 'm', 'Male', 'MALE', ' Male ', 'male '
    gender_missing         3%      of patients: gender attribute absent (half) or NULL (half)
    cost_string            5%      cost as S: '$1,234.50', '1,234.50' or ' $1234.50 '
    cost_negative          1%      cost N '-1234.50' (or S '-$1,234.50')       -> cost invalid
    cost_unparseable       0.3%    cost S 'N/A', 'n/a', 'unknown' or 'see invoice' -> invalid
    cost_absent            4%      no cost attribute
    cost_null              0.5%    cost {"NULL": true}
    cost_exponent          0.5%    cost N in exponent form, e.g. '1.2345E+3'
    treatment_ts_future    0.4%    treatment_ts after the item's metadata_modified_at -> rejected
    treatment_ts_invalid   0.3%    treatment_ts absent, NULL, '', 'not-a-date', an impossible
                                   date ('2025-02-30T10:00:00-06:00'), no offset
                                   ('2025-03-04T10:15:00') or a date only      -> rejected
    treatment_id_missing   0.1%    no treatment_id attribute                     -> rejected
    patient_id_missing     0.2%    patient map without patient_id                -> rejected
    provider_id_missing    0.2%    provider map without provider_id              -> rejected
    treatment_type_padded  1%      treatment_type with a leading or trailing space
    medications_empty      ~4%     medications present as an empty list (not a defect; counted)

Besides these random rates, fated items add to the reject kinds: a 'fix' item carries one
reject defect in cycle 1 and none in cycle 2; a 'break' item is clean in cycle 1 and carries one
in cycle 2. Canonical outcomes are 'success', 'failure', 'ongoing', 'cancelled'; canonical
genders 'female', 'male'. Costs are otherwise positive amounts with 2 decimals between 50 and
50,000. treatment_ts carries the local offset of the provider's hospital at that instant
(America/Chicago for six hospitals, America/Indiana/Indianapolis for Indianapolis),
metadata_modified_at is UTC ('...Z'). ``PART_TIME_RATE`` of the providers work part time, so
some stay under the success-rate ranking threshold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import os
import random
import shutil
import time
import zlib
from array import array
from base64 import b64encode
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loaders.dynamo_json import serialize
from loaders.generator.population import (
    CITIES,
    FEMALE_FIRST_NAMES,
    GENDER_SPELLINGS,
    HOSPITALS,
    LAST_NAMES,
    MALE_FIRST_NAMES,
    Population,
    build_population,
    home_hospital_index,
    patient_count_for,
    provider_count_for,
)

__all__ = [
    "COMPRESS_LEVEL",
    "DISEASES",
    "EXPORT_TIMES",
    "FATE_RATES",
    "FIRST_TREATMENT_AT",
    "ITEMS_PER_DATA_FILE",
    "NEW_TREATMENT_SHARE",
    "PARALLEL_THRESHOLD",
    "OUTCOME_VARIANTS",
    "RATES",
    "TREATMENT_TYPES",
    "UNKNOWN_OUTCOMES",
    "ExportReport",
    "GenerationReport",
    "generate",
]

log = logging.getLogger(__name__)

COMPRESS_LEVEL = 3
ITEMS_PER_DATA_FILE = 100_000
PARALLEL_THRESHOLD = 100_000  # treatments from which generate() uses worker processes
_FLUSH_LINES = 2_048

EXPORT_TIMES = {
    1: datetime(2025, 7, 1, tzinfo=UTC),
    2: datetime(2026, 1, 1, tzinfo=UTC),
}
FIRST_TREATMENT_AT = datetime(2024, 1, 1, 6, tzinfo=UTC)  # midnight 2024-01-01, Central time
NEW_TREATMENT_SHARE = 0.20  # cycle-2 new treatments, as a share of N

RATES: dict[str, float] = {
    "outcome_variant": 0.30,
    "outcome_unknown": 0.004,
    "cost_string": 0.05,
    "cost_negative": 0.01,
    "cost_unparseable": 0.003,
    "cost_absent": 0.04,
    "cost_null": 0.005,
    "cost_exponent": 0.005,
    "treatment_ts_future": 0.004,
    "treatment_ts_invalid": 0.003,
    "treatment_id_missing": 0.001,
    "patient_id_missing": 0.002,
    "provider_id_missing": 0.002,
    "treatment_type_padded": 0.01,
}
"""Per emitted item. Patient-level gender rates live in ``population``."""

# Share of providers working part time, and a full-time provider's workload in part-time units.
PART_TIME_RATE = 0.15
FULL_TIME_SHARE = 20

FATE_RATES: dict[str, float] = {
    "complete": 0.055,  # ongoing in cycle 1, success or failure in cycle 2
    "cancel": 0.007,  # ongoing in cycle 1, cancelled in cycle 2
    "cost_fix": 0.025,  # cost corrected in cycle 2
    "fix": 0.008,  # rejected in cycle 1, valid in cycle 2
    "break": 0.005,  # valid in cycle 1, rejected in cycle 2
    "repeat": 0.02,  # repeated unchanged in cycle 2
}
"""What happens in cycle 2 to an old treatment, as a share of the N old treatments."""

OUTCOME_VARIANTS: dict[str, tuple[str, ...]] = {
    "success": ("SUCCESS", "Success", "Successful", "successful", " success ", "success "),
    "failure": ("FAILURE", "Failure", "Failed", "failed", "unsuccessful", " failure"),
    "ongoing": ("In Progress", "in progress", "in_progress", "IN_PROGRESS", "pending",
                "Pending", "Ongoing", "ONGOING"),
    "cancelled": ("canceled", "Canceled", "CANCELLED", "Cancelled", " cancelled"),
}
UNKNOWN_OUTCOMES: tuple[str, ...] = ("n/a", "unknown", "TBD")

TREATMENT_TYPES: tuple[tuple[str, int, int], ...] = (
    # name, min cost, max cost (dollars)
    ("Consultation", 50, 600),
    ("Medication", 50, 3_000),
    ("Surgery", 3_000, 50_000),
    ("Physical Therapy", 80, 2_500),
    ("Chemotherapy", 2_000, 40_000),
    ("Radiation Therapy", 1_000, 25_000),
    ("Dialysis", 300, 6_000),
    ("Diagnostic Imaging", 200, 4_000),
)

DISEASES: tuple[tuple[str, str], ...] = (
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("I10", "Essential (primary) hypertension"),
    ("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction"),
    ("I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris"),
    ("I48.91", "Unspecified atrial fibrillation"),
    ("I50.9", "Heart failure, unspecified"),
    ("I63.9", "Cerebral infarction, unspecified"),
    ("J18.9", "Pneumonia, unspecified organism"),
    ("J44.1", "Chronic obstructive pulmonary disease with (acute) exacerbation"),
    ("J45.909", "Unspecified asthma, uncomplicated"),
    ("J06.9", "Acute upper respiratory infection, unspecified"),
    ("J21.9", "Acute bronchiolitis, unspecified"),
    ("N39.0", "Urinary tract infection, site not specified"),
    ("N18.6", "End stage renal disease"),
    ("K35.80", "Unspecified acute appendicitis"),
    ("K80.20", "Calculus of gallbladder without cholecystitis without obstruction"),
    ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
    ("C50.911", "Malignant neoplasm of unspecified site of right female breast"),
    ("C34.90", "Malignant neoplasm of unspecified part of unspecified bronchus or lung"),
    ("C18.9", "Malignant neoplasm of colon, unspecified"),
    ("C61", "Malignant neoplasm of prostate"),
    ("S72.001A", "Fracture of unspecified part of neck of right femur, initial encounter for "
                 "closed fracture"),
    ("S06.0X0A", "Concussion without loss of consciousness, initial encounter"),
    ("M17.11", "Unilateral primary osteoarthritis, right knee"),
    ("M54.50", "Low back pain, unspecified"),
    ("G43.909", "Migraine, unspecified, not intractable, without status migrainosus"),
    ("F32.9", "Major depressive disorder, single episode, unspecified"),
    ("O80", "Encounter for full-term uncomplicated delivery"),
    ("O24.410", "Gestational diabetes mellitus in pregnancy, diet controlled"),
    ("A41.9", "Sepsis, unspecified organism"),
    ("R07.9", "Chest pain, unspecified"),
    ("E78.5", "Hyperlipidemia, unspecified"),
)

# department code -> (treatment type weights by TREATMENT_TYPES order, preferred disease codes)
_DEPARTMENT_PROFILES: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "ED": ((3, 4, 1, 0, 0, 0, 0, 3), ("R07.9", "S72.001A", "S06.0X0A", "K35.80", "J18.9",
                                      "A41.9", "I21.4", "I63.9", "J06.9", "N39.0")),
    "SURG": ((2, 0, 6, 1, 0, 0, 0, 1), ("K35.80", "K80.20", "S72.001A", "M17.11", "C18.9",
                                        "C50.911")),
    "ICU": ((0, 4, 1, 0, 0, 0, 1, 2), ("A41.9", "J18.9", "I21.4", "I63.9", "J44.1", "I50.9")),
    "CARD": ((3, 4, 1, 0, 0, 0, 0, 3), ("I10", "I21.4", "I25.10", "I48.91", "I50.9", "E78.5",
                                        "R07.9")),
    "ONC": ((1, 0, 1, 0, 5, 3, 0, 1), ("C50.911", "C34.90", "C18.9", "C61")),
    "PED": ((4, 4, 0, 0, 0, 0, 0, 1), ("J21.9", "J06.9", "J45.909", "S06.0X0A", "N39.0")),
    "MAT": ((3, 2, 2, 0, 0, 0, 0, 2), ("O80", "O24.410", "N39.0")),
    "GMED": ((4, 4, 0, 2, 0, 0, 1, 2), ("E11.9", "I10", "E78.5", "J44.1", "J45.909", "K21.9",
                                        "N18.6", "M54.50", "G43.909", "F32.9", "N39.0")),
}

MEDICATIONS: tuple[tuple[str, tuple[Decimal, ...]], ...] = tuple(
    (name, tuple(Decimal(dose) for dose in doses))
    for name, doses in (
        ("Metformin", ("500", "850", "1000")),
        ("Lisinopril", ("5", "10", "20", "40")),
        ("Atorvastatin", ("10", "20", "40", "80")),
        ("Amlodipine", ("2.5", "5", "10")),
        ("Metoprolol", ("25", "50", "100")),
        ("Omeprazole", ("20", "40")),
        ("Amoxicillin", ("250", "500", "875")),
        ("Ceftriaxone", ("1000", "2000")),
        ("Ondansetron", ("4", "8")),
        ("Morphine", ("2", "4", "10")),
        ("Acetaminophen", ("325", "500", "650", "1000")),
        ("Ibuprofen", ("200", "400", "600", "800")),
        ("Prednisone", ("5", "10", "20", "40")),
        ("Sertraline", ("50", "100")),
        ("Warfarin", ("2", "2.5", "5")),
    )
)
CHEMOTHERAPY_DRUGS: tuple[tuple[str, tuple[Decimal, ...]], ...] = tuple(
    (name, tuple(Decimal(dose) for dose in doses))
    for name, doses in (
        ("Cisplatin", ("50", "75", "100")),
        ("Doxorubicin", ("60", "75")),
        ("Paclitaxel", ("175", "225", "300")),
        ("Carboplatin", ("300", "450", "600")),
    )
)
# treatment type -> probability of 0, 1, 2, 3 medications (cumulative)
_MEDICATION_COUNTS: dict[str, tuple[float, float, float]] = {
    "Consultation": (0.70, 0.95, 1.0),
    "Medication": (0.0, 0.55, 0.85),
    "Surgery": (0.40, 0.75, 0.95),
    "Physical Therapy": (0.85, 1.0, 1.0),
    "Chemotherapy": (0.05, 0.60, 1.0),
    "Radiation Therapy": (0.70, 0.95, 1.0),
    "Dialysis": (0.60, 0.95, 1.0),
    "Diagnostic Imaging": (0.85, 1.0, 1.0),
}

NOTES: tuple[str, ...] = (
    "Patient tolerated the procedure well.",
    "Follow-up visit in two weeks.",
    "Referred to physical therapy.",
    "Discharged with home-care instructions.",
    'Patient reports "mild" discomfort.',
    "Medication adjusted after lab results.",
    "Second opinion requested by the family.",
    "Café-au-lait spots noted; no action needed.",
    "Allergy: penicillin.\nMonitor closely.",
)
_NOTE_UPDATE = "Outcome updated after follow-up."
_COST_CORRECTED = "Cost corrected by billing."

_COST_KINDS = ("cost_string", "cost_negative", "cost_unparseable", "cost_absent", "cost_null",
               "cost_exponent")
_COST_STRING_FORMS = 3
_UNPARSEABLE_COSTS = ("N/A", "n/a", "unknown", "see invoice")
_INVALID_TS_FORMS = ("absent", "null", "empty", "garbage", "impossible", "no_offset", "date_only")
# Reject defects a 'fix' item has in cycle 1 and a 'break' item has in cycle 2.
_FATE_DEFECTS = ("outcome_unknown", "treatment_ts_future", "treatment_ts_invalid",
                 "patient_id_missing", "provider_id_missing")

_FATE_BLOCK = 4_096
_EMPTY_MEDICATIONS = '"medications":{"L":[]}'
_M64 = (1 << 64) - 1
_DAY = 86_400


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _epoch(ts: datetime) -> int:
    return int(ts.timestamp())


def _iso_utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _attr(name: str, value: Any) -> str:
    """``"name":<typed attribute>`` as compact JSON text."""
    return f"{_dumps(name)}:{_dumps(serialize(value))}"


def _cumulative(weights: tuple[int, ...] | list[float]) -> list[float]:
    total = float(sum(weights))
    running = 0.0
    out = []
    for weight in weights:
        running += weight
        out.append(running / total)
    return out


def _pick(cumulative: list[float], u: float) -> int:
    for position, bound in enumerate(cumulative):
        if u < bound:
            return position
    return len(cumulative) - 1


class _Clock:
    """Fast ISO-8601 formatting of epoch seconds, local (with offset) or UTC.

    Offsets of the hospital zones are whole hours and change on whole UTC hours, so the text
    up to the hour and the offset are cached per (zone, UTC hour); minutes and seconds are the
    same in UTC and local time.
    """

    def __init__(self) -> None:
        names = sorted({hospital.timezone for hospital in HOSPITALS})
        self._zones = [ZoneInfo(name) for name in names]
        # hospital index -> zone index: the cache is per distinct zone, not per hospital
        self._zone_of = [names.index(hospital.timezone) for hospital in HOSPITALS]
        self._local: dict[int, tuple[str, str]] = {}
        self._utc: dict[int, str] = {}
        self._minutes = [f"{s // 60:02d}:{s % 60:02d}" for s in range(3600)]

    def _fill_local(self, zone: int, hour: int) -> tuple[str, str]:
        moment = datetime.fromtimestamp(hour * 3600, self._zones[zone])
        delta = moment.utcoffset()
        seconds = int(delta.total_seconds()) if delta is not None else 0
        if seconds % 3600:
            raise ValueError(f"zone {self._zones[zone]} has an offset that is not whole hours")
        sign = "-" if seconds < 0 else "+"
        cached = (moment.strftime("%Y-%m-%dT%H:"), f"{sign}{abs(seconds) // 3600:02d}:00")
        self._local[hour * 8 + zone] = cached
        return cached

    def local(self, hospital: int, ts: int) -> str:
        """``ts`` in the local time of hospital number ``hospital``, with its offset."""
        zone = self._zone_of[hospital]
        hour = ts // 3600
        cached = self._local.get(hour * 8 + zone)
        if cached is None:
            cached = self._fill_local(zone, hour)
        return f"{cached[0]}{self._minutes[ts - hour * 3600]}{cached[1]}"

    def utc(self, ts: int) -> str:
        hour = ts // 3600
        prefix = self._utc.get(hour)
        if prefix is None:
            prefix = datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H:")
            self._utc[hour] = prefix
        return f"{prefix}{self._minutes[ts - hour * 3600]}Z"


class _Item:
    """One version of a treatment, before rendering."""

    __slots__ = (
        "index", "tid", "patient", "provider", "zone", "ts", "modified", "disease", "ttype",
        "padded", "outcome", "outcome_text", "cost", "cost_kind", "cost_form", "ts_kind",
        "ts_form", "ts_shown", "meds", "emergency", "notes", "patient_id", "provider_id",
    )

    def copy(self) -> _Item:
        other = _Item()
        for name in self.__slots__:
            setattr(other, name, getattr(self, name))
        return other


class _Factory:
    """Derives treatment items from ``(seed, index)`` and renders them as export lines."""

    def __init__(self, population: Population, seed: int, treatments: int) -> None:
        self.population = population
        self.seed = seed
        self.treatments = treatments
        self.defects: Counter[str] = Counter()
        self.clock = _Clock()
        self._item_base = _splitmix(seed & _M64 ^ 0x5EED_17E3)
        self._item2_base = _splitmix(seed & _M64 ^ 0x5EED_2222)
        self._fate_base = _splitmix(seed & _M64 ^ 0x5EED_FA7E)
        self._rng = random.Random()
        # The C-level seed of this generator, without random.Random.seed's Python wrapper
        # (same state for an int seed; the wrapper only also resets gauss(), unused here).
        self._seed = super(random.Random, self._rng).seed
        running = 0.0
        self._fate_bounds = []
        for rate in FATE_RATES.values():
            running += rate
            self._fate_bounds.append(running)
        self._fate_names = list(FATE_RATES)
        self._thresholds = (
            RATES["outcome_unknown"],
            RATES["outcome_unknown"] + RATES["outcome_variant"],
            RATES["treatment_ts_future"],
            RATES["treatment_ts_future"] + RATES["treatment_ts_invalid"],
            RATES["treatment_id_missing"],
            RATES["patient_id_missing"],
            RATES["provider_id_missing"],
            RATES["treatment_type_padded"],
        )
        running = 0.0
        self._cost_bounds = []
        for kind in _COST_KINDS:
            running += RATES[kind]
            self._cost_bounds.append(running)
        self._fate_block: list[str | None] = []
        self._fate_block_id = -1
        self._build_fragments()
        self._build_windows()

    # ------------------------------------------------------------------ static fragments
    def _build_fragments(self) -> None:
        population = self.population
        self._disease_frags = [
            _attr("disease", {"code": code, "name": name}) for code, name in DISEASES
        ]
        disease_index = {code: n for n, (code, _) in enumerate(DISEASES)}
        self._type_frags = [_attr("treatment_type", name) for name, _, _ in TREATMENT_TYPES]
        self._type_padded = [
            (_attr("treatment_type", f" {name}"), _attr("treatment_type", f"{name} "))
            for name, _, _ in TREATMENT_TYPES
        ]
        self._type_costs = [
            (lo * 100, math.log(hi / lo)) for _, lo, hi in TREATMENT_TYPES
        ]
        self._type_names = [name for name, _, _ in TREATMENT_TYPES]
        self._outcome_frags: dict[str, str] = {}
        for canonical, variants in OUTCOME_VARIANTS.items():
            for text in (canonical, *variants):
                self._outcome_frags[text] = _attr("outcome_status", text)
        for text in UNKNOWN_OUTCOMES:
            self._outcome_frags[text] = _attr("outcome_status", text)
        self._med_frags = [
            [_dumps(serialize({"name": name, "dose_mg": dose})) for dose in doses]
            for name, doses in MEDICATIONS
        ]
        self._chemo_frags = [
            [_dumps(serialize({"name": name, "dose_mg": dose})) for dose in doses]
            for name, doses in CHEMOTHERAPY_DRUGS
        ]
        self._med_counts = [_MEDICATION_COUNTS[name] for name, _, _ in TREATMENT_TYPES]
        self._chemo_type = self._type_names.index("Chemotherapy")
        self._note_frags = [_attr("notes", None), *(_attr("notes", note) for note in NOTES)]
        self._note_update = _attr("notes", _NOTE_UPDATE)
        self._note_cost = _attr("notes", _COST_CORRECTED)
        # Patient pieces (JSON-escaped once).
        self._first_json = (
            [_dumps(name) for name in FEMALE_FIRST_NAMES],
            [_dumps(name) for name in MALE_FIRST_NAMES],
        )
        self._last_json = [_dumps(name) for name in LAST_NAMES]
        self._city_json = [
            (f'"city":{{"S":{_dumps(c.city)}}},"state":{{"S":{_dumps(c.state)}}},'
             f'"zip":{{"S":"{c.zip_prefix}') for c in CITIES
        ]
        # Gender state 0: canonical, 1-6: GENDER_SPELLINGS, 7: NULL, 8: absent; fragments with
        # their leading comma ('' when absent).
        self._gender_frags = [
            [f',"gender":{{"S":{_dumps(name)}}}',
             *(f',"gender":{{"S":{_dumps(spelled)}}}' for spelled in GENDER_SPELLINGS[name]),
             ',"gender":{"NULL":true}', ""]
            for name in ("female", "male")
        ]
        cols = population.patient_columns()
        self._patient_city = cols.city
        self._patient_zip = cols.zip
        self._patient_dob = cols.dob
        self._patient_count = population.patient_count
        self._mrn = (cols.mrn_multiplier, cols.mrn_offset)
        # Patient "name key": gender, names and gender spelling in one small int, whose JSON
        # (first_name .. gender) is cached; a few tens of thousands of keys at most.
        n_first, n_last = len(FEMALE_FIRST_NAMES), len(LAST_NAMES)
        self._name_key = array("H")
        for index in range(population.patient_count):
            form = cols.form[index]
            state = cols.spelling[index] + 1 if form == 0 else 6 + form
            self._name_key.append(
                ((cols.gender[index] * n_first + cols.first[index]) * n_last + cols.last[index])
                * 9 + state
            )
        self._name_cache: dict[int, str] = {}
        self._moves = {
            index: (_epoch(at), city, digits) for index, (at, city, digits) in cols.moves.items()
        }
        self._dob_cache: dict[int, str] = {}
        # Providers: index -> (id, name/specialty JSON, home hospital, change epoch, new hospital)
        hospital_index = {h.hospital_id: n for n, h in enumerate(HOSPITALS)}
        self._providers = []
        for provider in population.providers:
            body = (f'"name":{{"S":{_dumps(provider.name)}}},'
                    f'"specialty":{{"S":{_dumps(provider.specialty)}}},')
            change = _epoch(provider.changes_at) if provider.changes_at else None
            new = hospital_index[provider.new_hospital_id] if provider.new_hospital_id else None
            self._providers.append(
                (provider.provider_id, body, hospital_index[provider.hospital_id], change, new)
            )
        self._hospital_json = [
            (f'"hospital_id":{{"S":"{h.hospital_id}"}},"city":{{"S":{_dumps(h.city)}}},'
             f'"state":{{"S":"{h.state}"}}') for h in HOSPITALS
        ]
        self._provider_frag_cache: dict[tuple[int, int, bool], str] = {}
        # About PART_TIME_RATE of the providers work part time (1/FULL_TIME_SHARE of a full
        # workload), so some fall under the success-rate ranking threshold.
        load_rng = random.Random(f"provider-load:{self.seed}")
        shares = [
            1 if load_rng.random() < PART_TIME_RATE else FULL_TIME_SHARE
            for _ in population.providers
        ]
        self._weighted_providers = [
            p.index for p in population.providers for _ in range(shares[p.index])
        ]
        self._local_providers = [
            [
                p.index
                for p in population.providers
                if p.hospital_id == h.hospital_id
                for _ in range(shares[p.index])
            ]
            for h in HOSPITALS
        ]
        self._city_hospital = [home_hospital_index(city) for city in CITIES]
        self._profiles = []
        for provider in population.providers:
            weights, codes = _DEPARTMENT_PROFILES[provider.department_code]
            self._profiles.append(
                (_cumulative(weights), [disease_index[code] for code in codes])
            )
        skill_rng = random.Random(f"provider-skill:{self.seed}")
        self._skill = [0.62 + 0.28 * skill_rng.random() for _ in population.providers]
        self._emergency_rate = [
            0.85 if p.department_code == "ED" else 0.05 for p in population.providers
        ]

    def _build_windows(self) -> None:
        # Cycle 1 treatments from local midnight 2024-01-01 (06:00Z) to an hour before export 1,
        # cycle 2 from the first export to an hour before export 2. Days start at 06:00Z so that
        # "minute of day" reads as Central time.
        first = _epoch(FIRST_TREATMENT_AT)
        export_1 = _epoch(EXPORT_TIMES[1])
        export_2 = _epoch(EXPORT_TIMES[2])
        second = export_1 + 6 * 3600
        self._windows = {
            1: (first, (export_1 - 3600 - first) // _DAY, export_1),
            2: (second, (export_2 - 3600 - second) // _DAY, export_2),
        }
        self._export_1 = export_1
        self._export_2 = export_2

    # ----------------------------------------------------------------------- fragments
    def _names(self, key: int) -> str:
        rest, state = divmod(key, 9)
        rest, last = divmod(rest, len(LAST_NAMES))
        gender, first = divmod(rest, len(FEMALE_FIRST_NAMES))
        text = (
            f'"first_name":{{"S":{self._first_json[gender][first]}}},'
            f'"last_name":{{"S":{self._last_json[last]}}}{self._gender_frags[gender][state]},'
        )
        self._name_cache[key] = text
        return text

    def _patient_frag(self, index: int, ts: int, with_id: bool) -> str:
        move = self._moves.get(index)
        if move is not None and ts >= move[0]:
            city, zip_digits = move[1], move[2]
        else:
            city, zip_digits = self._patient_city[index], self._patient_zip[index]
        dob_ordinal = self._patient_dob[index]
        dob = self._dob_cache.get(dob_ordinal)
        if dob is None:
            dob = date.fromordinal(dob_ordinal).isoformat()
            self._dob_cache[dob_ordinal] = dob
        key = self._name_key[index]
        names = self._name_cache.get(key) or self._names(key)
        if with_id:
            multiplier, offset = self._mrn
            mrn = (index * multiplier + offset) % 100_000_000
            return (
                f'"patient":{{"M":{{"patient_id":{{"S":"MRN{mrn:08d}"}},{names}'
                f'"date_of_birth":{{"S":"{dob}"}},{self._city_json[city]}{zip_digits:02d}"}}}}}}'
            )
        return (
            f'"patient":{{"M":{{{names}'
            f'"date_of_birth":{{"S":"{dob}"}},{self._city_json[city]}{zip_digits:02d}"}}}}}}'
        )

    def _provider_frag(self, provider: int, hospital: int, with_id: bool) -> str:
        key = (provider, hospital, with_id)
        frag = self._provider_frag_cache.get(key)
        if frag is None:
            provider_id, body, _, _, _ = self._providers[provider]
            pid = f'"provider_id":{{"S":"{provider_id}"}},' if with_id else ""
            frag = f'"provider":{{"M":{{{pid}{body}{self._hospital_json[hospital]}}}}}'
            self._provider_frag_cache[key] = frag
        return frag

    # -------------------------------------------------------------------------- fates
    def fate(self, index: int) -> str | None:
        """The cycle-2 fate of old treatment ``index`` (None: not in cycle 2)."""
        block, offset = divmod(index, _FATE_BLOCK)
        if block != self._fate_block_id:
            # One Random per block of indexes: cheap to scan, still a function of (seed, index).
            rng = self._rng
            rng.seed(_splitmix(self._fate_base ^ block))
            rand = rng.random
            bounds = self._fate_bounds
            names = self._fate_names
            fates: list[str | None] = []
            for _ in range(_FATE_BLOCK):
                u = rand()
                for name, bound in zip(names, bounds, strict=True):
                    if u < bound:
                        fates.append(name)
                        break
                else:
                    fates.append(None)
            self._fate_block = fates
            self._fate_block_id = block
        return self._fate_block[offset]

    # ----------------------------------------------------------------------- derivation
    def derive(self, index: int, fate: str | None) -> _Item:
        """The first version of treatment ``index`` (cycle 1 if index < N, else cycle 2)."""
        self._seed(_splitmix(self._item_base ^ index))
        rand = self._rng.random
        start, span_days, export = self._windows[1 if index < self.treatments else 2]
        item = _Item()
        item.index = index
        recent = fate == "complete" or fate == "cancel"

        # Who: patient, then a provider of the patient's home hospital most of the time.
        patient = int(self._patient_count * rand() ** 1.15)
        item.patient = patient
        if rand() < 0.85:
            local = self._local_providers[self._city_hospital[self._patient_city[patient]]]
            provider = local[int(rand() * len(local))]
        else:
            provider = self._weighted_providers[int(rand() * len(self._weighted_providers))]
        item.provider = provider
        emergency = rand() < self._emergency_rate[provider]
        item.emergency = emergency

        # When: a day in the window (recent for treatments that will complete in cycle 2),
        # weekdays favoured, daytime unless an emergency.
        if recent:
            day = span_days - 1 - int(rand() * min(90, span_days))
        else:
            day = int(rand() * span_days)
        if not emergency and (start // _DAY + day + 3) % 7 >= 5 and rand() < 0.6:
            day = max(0, day - 2)
        minute = int(rand() * 1440) if emergency else 420 + int(rand() * 720)
        ts = start + day * _DAY + minute * 60
        item.ts = ts
        _, _, home, change, new = self._providers[provider]
        item.zone = new if change is not None and ts >= change else home

        # What: disease, type, cost, medications, notes.
        type_weights, preferred = self._profiles[provider]
        if rand() < 0.75:
            item.disease = preferred[int(rand() * len(preferred))]
        else:
            item.disease = int(rand() * len(DISEASES))
        ttype = _pick(type_weights, rand())
        item.ttype = ttype
        lo_cents, log_ratio = self._type_costs[ttype]
        item.cost = int(lo_cents * math.exp(rand() * log_ratio))
        item.meds = self._medications(ttype, rand)
        note = int(rand() * 2 * len(NOTES)) - len(NOTES) + 1
        item.notes = self._note_frags[note if note > 0 else 0]

        # Outcome by age at export time and the provider's skill.
        if recent:
            outcome = "ongoing"
            rand()
        else:
            age_days = (export - ts) / _DAY
            ongoing = 0.7 if age_days < 3 else 0.45 if age_days < 14 else (
                0.15 if age_days < 60 else 0.02)
            u = rand()
            if u < ongoing:
                outcome = "ongoing"
            elif u < ongoing + 0.05:
                outcome = "cancelled"
            else:
                outcome = "success" if rand() < self._skill[provider] else "failure"
        item.outcome = outcome

        # metadata_modified_at: minutes to days after the treatment, before the export.
        u = rand()
        if u < 0.7:
            lag = 60 + int(rand() * 4 * 3600)
        elif u < 0.95:
            lag = 4 * 3600 + int(rand() * 3 * _DAY)
        else:
            lag = 3 * _DAY + int(rand() * 27 * _DAY)
        modified = ts + lag
        if modified >= export:
            modified = ts + 1 + int((export - 2 - ts) * rand())
        item.modified = modified

        # Dirty data, always drawn in the same order.
        self._draw_dirt(item, rand)
        if fate == "fix":
            self._clear_rejects(item)
            self._force_reject(item, rand)
        elif fate == "break":
            self._clear_rejects(item)
        elif recent and item.outcome_text in UNKNOWN_OUTCOMES:
            item.outcome_text = "ongoing"
        return item

    def _medications(self, ttype: int, rand: Any) -> str | None:
        cumulative = self._med_counts[ttype]
        u = rand()
        count = 0 if u < cumulative[0] else 1 if u < cumulative[1] else (
            2 if u < cumulative[2] else 3)
        if count == 0:
            return _EMPTY_MEDICATIONS if rand() < 0.1 else None
        frags = self._chemo_frags if ttype == self._chemo_type else self._med_frags
        chosen = []
        for _ in range(count):
            doses = frags[int(rand() * len(frags))]
            chosen.append(doses[int(rand() * len(doses))])
        return '"medications":{"L":[' + ",".join(chosen) + "]}"

    def _draw_dirt(self, item: _Item, rand: Any) -> None:
        """Draw the item's dirty data (always the same number of draws, in the same order)."""
        t = self._thresholds
        # outcome spelling
        u = rand()
        v = rand()
        if u < t[0]:
            item.outcome_text = UNKNOWN_OUTCOMES[int(v * len(UNKNOWN_OUTCOMES))]
        elif u < t[1]:
            variants = OUTCOME_VARIANTS[item.outcome]
            item.outcome_text = variants[int(v * len(variants))]
        else:
            item.outcome_text = item.outcome
        # cost: one of the cost kinds, or clean
        u = rand()
        item.cost_form = int(rand() * 12)
        item.cost_kind = "clean"
        if u < self._cost_bounds[-1]:
            for kind, bound in zip(_COST_KINDS, self._cost_bounds, strict=True):
                if u < bound:
                    item.cost_kind = kind
                    break
        # treatment_ts
        u = rand()
        v = rand()
        item.ts_form = ""
        item.ts_shown = item.ts
        if u < t[2]:
            item.ts_kind = "future"
            item.ts_shown = item.modified + 3600 + int(v * 45 * _DAY)
        elif u < t[3]:
            item.ts_kind = "invalid"
            item.ts_form = _INVALID_TS_FORMS[int(v * len(_INVALID_TS_FORMS))]
        else:
            item.ts_kind = "ok"
        # identifiers and type
        item.tid = rand() >= t[4]
        item.patient_id = rand() >= t[5]
        item.provider_id = rand() >= t[6]
        u = rand()
        item.padded = 0 if u >= t[7] else 1 if u < t[7] / 2 else 2

    @staticmethod
    def _clear_rejects(item: _Item) -> None:
        item.tid = True
        if item.outcome_text in UNKNOWN_OUTCOMES:
            item.outcome_text = item.outcome
        item.ts_kind = "ok"
        item.patient_id = True
        item.provider_id = True

    def _force_reject(self, item: _Item, rand: Any) -> None:
        kind = _FATE_DEFECTS[int(rand() * len(_FATE_DEFECTS))]
        v = rand()
        if kind == "outcome_unknown":
            item.outcome_text = UNKNOWN_OUTCOMES[int(v * len(UNKNOWN_OUTCOMES))]
        elif kind == "treatment_ts_future":
            item.ts_kind = "future"
            item.ts_shown = item.modified + 3600 + int(v * 45 * _DAY)
        elif kind == "treatment_ts_invalid":
            item.ts_kind = "invalid"
            item.ts_form = _INVALID_TS_FORMS[int(v * len(_INVALID_TS_FORMS))]
        elif kind == "patient_id_missing":
            item.patient_id = False
        else:
            item.provider_id = False

    def revise(self, index: int, fate: str) -> _Item:
        """The cycle-2 version of old treatment ``index`` whose fate is ``fate``."""
        first = self.derive(index, fate)
        item = first.copy()
        self._seed(_splitmix(self._item2_base ^ index))
        rand = self._rng.random
        # A new modification time inside cycle 2.
        low = self._export_1 + 3600
        item.modified = low + int((self._export_2 - 3600 - low) * rand())
        item.tid = True
        if fate == "complete":
            item.outcome = "success" if rand() < self._skill[item.provider] else "failure"
            item.notes = self._note_update
        elif fate == "cancel":
            item.outcome = "cancelled"
            rand()
            item.notes = self._note_update
        else:
            rand()
        # Fresh non-reject dirt for the new version.
        self._draw_dirt(item, rand)
        self._clear_rejects(item)
        item.tid = True
        if fate == "cost_fix":
            item.cost = max(5_000, int(item.cost * (0.8 + 0.4 * rand())))
            item.cost_kind = "clean"
            item.notes = self._note_cost
        elif fate == "break":
            self._force_reject(item, rand)
        return item

    # ------------------------------------------------------------------------ rendering
    def render(self, item: _Item) -> str:
        """The export line (without newline) of ``item``; counts its defects."""
        defects = self.defects
        parts = []
        if item.tid:
            parts.append(f'"treatment_id":{{"S":"TRT-{item.index + 1:09d}"}}')
        else:
            defects["treatment_id_missing"] += 1
        if not item.patient_id:
            defects["patient_id_missing"] += 1
        parts.append(self._patient_frag(item.patient, item.ts, item.patient_id))
        state = self._name_key[item.patient] % 9
        if state:
            defects["gender_variant" if state < 7 else "gender_missing"] += 1
        if not item.provider_id:
            defects["provider_id_missing"] += 1
        parts.append(self._provider_frag(item.provider, item.zone, item.provider_id))
        parts.append(self._disease_frags[item.disease])
        if item.padded:
            defects["treatment_type_padded"] += 1
            parts.append(self._type_padded[item.ttype][item.padded - 1])
        else:
            parts.append(self._type_frags[item.ttype])
        text = item.outcome_text
        if text != item.outcome:
            defects["outcome_unknown" if text in UNKNOWN_OUTCOMES else "outcome_variant"] += 1
        parts.append(self._outcome_frags[text])
        if item.cost_kind == "clean":
            dollars, cents = divmod(item.cost, 100)
            parts.append(f'"cost":{{"N":"{dollars}.{cents:02d}"}}')
        else:
            cost = self._cost_frag(item)
            if cost:
                parts.append(cost)
        if item.ts_kind == "ok":
            parts.append(f'"treatment_ts":{{"S":"{self.clock.local(item.zone, item.ts)}"}}')
        else:
            ts = self._ts_frag(item)
            if ts:
                parts.append(ts)
        if item.meds is not None:
            if item.meds == _EMPTY_MEDICATIONS:
                defects["medications_empty"] += 1
            parts.append(item.meds)
        parts.append('"is_emergency":{"BOOL":true}' if item.emergency
                     else '"is_emergency":{"BOOL":false}')
        parts.append(item.notes)
        parts.append(f'"metadata_modified_at":{{"S":"{self.clock.utc(item.modified)}"}}')
        return '{"Item":{' + ",".join(parts) + "}}"

    def _cost_frag(self, item: _Item) -> str:
        kind = item.cost_kind
        cents = item.cost
        if kind == "clean":
            return f'"cost":{{"N":"{cents // 100}.{cents % 100:02d}"}}'
        self.defects[kind] += 1
        form = item.cost_form
        if kind == "cost_string":
            form %= _COST_STRING_FORMS
            if form == 0:
                text = f"${cents // 100:,}.{cents % 100:02d}"
            elif form == 1:
                text = f"{cents // 100:,}.{cents % 100:02d}"
            else:
                text = f" ${cents // 100}.{cents % 100:02d} "
            return f'"cost":{{"S":"{text}"}}'
        if kind == "cost_negative":
            if form < 10:
                return f'"cost":{{"N":"-{cents // 100}.{cents % 100:02d}"}}'
            return f'"cost":{{"S":"-${cents // 100:,}.{cents % 100:02d}"}}'
        if kind == "cost_unparseable":
            return f'"cost":{{"S":"{_UNPARSEABLE_COSTS[form % len(_UNPARSEABLE_COSTS)]}"}}'
        if kind == "cost_absent":
            return ""
        if kind == "cost_null":
            return '"cost":{"NULL":true}'
        # cost_exponent: e.g. 1234.50 -> '1.2345E+3'
        return f'"cost":{{"N":"{format(Decimal(cents).scaleb(-2).normalize(), "E")}"}}'

    def _ts_frag(self, item: _Item) -> str:
        kind = item.ts_kind
        if kind == "ok":
            return f'"treatment_ts":{{"S":"{self.clock.local(item.zone, item.ts)}"}}'
        if kind == "future":
            self.defects["treatment_ts_future"] += 1
            return f'"treatment_ts":{{"S":"{self.clock.local(item.zone, item.ts_shown)}"}}'
        self.defects["treatment_ts_invalid"] += 1
        form = item.ts_form
        real = self.clock.local(item.zone, item.ts)
        if form == "absent":
            return ""
        if form == "null":
            return '"treatment_ts":{"NULL":true}'
        if form == "empty":
            text = ""
        elif form == "garbage":
            text = "not-a-date"
        elif form == "impossible":
            text = f"{real[:4]}-02-30{real[10:]}"
        elif form == "no_offset":
            text = real[:19]
        else:
            text = real[:10]
        return f'"treatment_ts":{{"S":"{text}"}}'


# --------------------------------------------------------------------------- export writing
class _GzipWriter:
    """One gzip member written in chunks, with the MD5 of the compressed bytes."""

    def __init__(self, path: Path, level: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("wb")
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # gzip header, mtime 0
        self._md5 = hashlib.md5()
        self._lines: list[str] = []
        self.items = 0
        self.raw_bytes = 0
        self.gz_bytes = 0

    def add(self, line: str) -> None:
        lines = self._lines
        lines.append(line)
        if len(lines) >= _FLUSH_LINES:
            self._flush()

    def _write(self, chunk: bytes) -> None:
        if chunk:
            self._fh.write(chunk)
            self._md5.update(chunk)
            self.gz_bytes += len(chunk)

    def _flush(self) -> None:
        if self._lines:
            raw = ("\n".join(self._lines) + "\n").encode("utf-8")
            self.items += len(self._lines)
            self.raw_bytes += len(raw)
            self._lines = []
            self._write(self._compressor.compress(raw))

    def close(self) -> bytes:
        """Finish the file; return the MD5 digest of its bytes."""
        self._flush()
        self._write(self._compressor.flush())
        self._fh.close()
        return self._md5.digest()


@dataclass(frozen=True)
class _FileTask:
    """One data file: which treatment indexes it holds, in which form."""

    cycle: int
    path: Path
    key: str
    level: int
    first: tuple[int, int]  # cycle 1: first versions; cycle 2: old indexes scanned for fates
    new: tuple[int, int] = (0, 0)  # cycle 2: new treatments


@dataclass
class _FileResult:
    entry: dict[str, Any]
    raw_bytes: int
    gz_bytes: int
    new_items: int
    revised_items: int
    repeated_items: int
    defects: dict[str, int]


def _write_file(factory: _Factory, task: _FileTask) -> _FileResult:
    factory.defects = Counter()
    writer = _GzipWriter(task.path, task.level)
    add = writer.add
    render = factory.render
    derive = factory.derive
    fate_of = factory.fate
    new_items = revised = repeated = 0
    start, stop = task.first
    if task.cycle == 1:
        for index in range(start, stop):
            add(render(derive(index, fate_of(index))))
        new_items = stop - start
    else:
        revise = factory.revise
        for index in range(start, stop):
            fate = fate_of(index)
            if fate is None:
                continue
            if fate == "repeat":
                add(render(derive(index, fate)))
                repeated += 1
            else:
                add(render(revise(index, fate)))
                revised += 1
        start, stop = task.new
        for index in range(start, stop):
            add(render(derive(index, None)))
        new_items = stop - start
    digest = writer.close()
    entry = {
        "itemCount": writer.items,
        "md5Checksum": b64encode(digest).decode("ascii"),
        "etag": digest.hex(),
        "dataFileS3Key": task.key,
    }
    return _FileResult(
        entry=entry,
        raw_bytes=writer.raw_bytes,
        gz_bytes=writer.gz_bytes,
        new_items=new_items,
        revised_items=revised,
        repeated_items=repeated,
        defects=dict(factory.defects),
    )


_WORKER_FACTORY: _Factory | None = None


def _init_worker(seed: int, treatments: int) -> None:
    global _WORKER_FACTORY
    _WORKER_FACTORY = _Factory(build_population(seed, treatments), seed, treatments)


def _run_task(task: _FileTask) -> _FileResult:
    assert _WORKER_FACTORY is not None, "worker not initialised"
    return _write_file(_WORKER_FACTORY, task)


@dataclass
class ExportReport:
    """What one export cycle holds."""

    cycle: int
    export_id: str
    export_type: str
    export_time: str
    path: Path
    data_files: int = 0
    empty_files: int = 0
    items: int = 0
    new_items: int = 0
    revised_items: int = 0
    repeated_items: int = 0
    raw_bytes: int = 0
    gz_bytes: int = 0
    defects: dict[str, int] = field(default_factory=dict)


@dataclass
class GenerationReport:
    """Summary of a ``generate`` run (``describe()`` is what the command line prints)."""

    out: Path
    seed: int
    treatments: int
    patients: int
    providers: int
    workers: int = 1
    exports: list[ExportReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def items(self) -> int:
        return sum(export.items for export in self.exports)

    @property
    def defects(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for export in self.exports:
            total.update(export.defects)
        return dict(sorted(total.items()))

    def describe(self) -> str:
        rate = self.items / self.seconds if self.seconds else 0.0
        lines = [
            f"{self.items:,} items in {len(self.exports)} exports under {self.out} "
            f"(seed {self.seed}; {self.patients:,} patients, {self.providers:,} providers; "
            f"{self.seconds:.1f} s with {self.workers} process(es), {rate:,.0f} items/s)"
        ]
        for export in self.exports:
            lines.append(
                f"  cycle-{export.cycle} {export.export_type} {export.export_id} at "
                f"{export.export_time}: {export.data_files} data files "
                f"({export.empty_files} empty), {export.items:,} items "
                f"({export.new_items:,} new, {export.revised_items:,} new versions, "
                f"{export.repeated_items:,} repeated), {export.gz_bytes / 1e6:,.1f} MB gzipped"
            )
        lines.append("  defects injected: " + ", ".join(
            f"{kind} {count:,}" for kind, count in self.defects.items()
        ))
        return "\n".join(lines)


_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def _split(start: int, stop: int, parts: int) -> list[tuple[int, int]]:
    size = stop - start
    return [(start + size * k // parts, start + size * (k + 1) // parts) for k in range(parts)]


class _Export:
    """Plans one export folder (a task per data file) and writes its manifests."""

    def __init__(self, out: Path, cycle: int, seed: int, treatments: int, level: int) -> None:
        rng = random.Random(f"export:{seed}:{cycle}")
        self.cycle = cycle
        self.export_time = EXPORT_TIMES[cycle]
        millis = int(self.export_time.timestamp() * 1000)
        self.export_id = f"{millis:014d}-{rng.getrandbits(32):08x}"
        self.table_id = "-".join(
            f"{rng.getrandbits(bits):0{bits // 4}x}" for bits in (32, 16, 16, 16, 48)
        )
        self.root = out / f"cycle-{cycle}" / "AWSDynamoDB" / self.export_id
        self.prefix = f"AWSDynamoDB/{self.export_id}"
        if cycle == 1:
            expected = treatments
            new_count = 0
        else:
            new_count = round(treatments * NEW_TREATMENT_SHARE)
            expected = new_count + round(treatments * sum(FATE_RATES.values()))
        count = max(3, math.ceil(expected / ITEMS_PER_DATA_FILE))
        names = ["".join(rng.choice(_NAME_ALPHABET) for _ in range(26)) for _ in range(count + 1)]
        empty_position = rng.randrange(count + 1)
        firsts = _split(0, treatments, count)
        news = _split(treatments, treatments + new_count, count)
        self.tasks: list[_FileTask] = []
        for position, name in enumerate(names):
            key = f"{self.prefix}/data/{name}.json.gz"
            path = self.root / "data" / f"{name}.json.gz"
            if position == empty_position:  # an empty data file is legal: keep one
                self.tasks.append(_FileTask(cycle, path, key, level, (0, 0)))
                continue
            part = position if position < empty_position else position - 1
            self.tasks.append(_FileTask(cycle, path, key, level, firsts[part], news[part]))

    def finish(self, results: list[_FileResult]) -> ExportReport:
        report = ExportReport(
            cycle=self.cycle,
            export_id=self.export_id,
            export_type="FULL_EXPORT" if self.cycle == 1 else "INCREMENTAL_EXPORT",
            export_time=_iso_utc(self.export_time),
            path=self.root,
        )
        defects: Counter[str] = Counter()
        with (self.root / "manifest-files.json").open("w", encoding="utf-8") as fh:
            for result in results:
                fh.write(_dumps(result.entry) + "\n")
                report.data_files += 1
                report.empty_files += result.entry["itemCount"] == 0
                report.items += result.entry["itemCount"]
                report.new_items += result.new_items
                report.revised_items += result.revised_items
                report.repeated_items += result.repeated_items
                report.raw_bytes += result.raw_bytes
                report.gz_bytes += result.gz_bytes
                defects.update(result.defects)
        report.defects = dict(sorted(defects.items()))
        account = "123456789012"
        table_arn = f"arn:aws:dynamodb:us-east-2:{account}:table/treatments"
        duration = 60 + report.items // 5_000
        summary: dict[str, Any] = {
            "version": "2020-06-30",
            "exportArn": f"{table_arn}/export/{self.export_id}",
            "startTime": report.export_time,
            "endTime": _iso_utc(
                datetime.fromtimestamp(self.export_time.timestamp() + duration, UTC)
            ),
            "tableArn": table_arn,
            "tableId": self.table_id,
            "exportTime": report.export_time,
            "s3Bucket": "healthcare-network-exports",
            "s3Prefix": None,
            "s3SseAlgorithm": "AES256",
            "s3SseKmsKeyId": None,
            "manifestFilesS3Key": f"{self.prefix}/manifest-files.json",
            "billedSizeBytes": report.raw_bytes,
            "itemCount": report.items,
            "outputFormat": "DYNAMODB_JSON",
            "exportType": report.export_type,
        }
        if self.cycle > 1:
            summary["exportFromTime"] = _iso_utc(EXPORT_TIMES[self.cycle - 1])
            summary["exportToTime"] = report.export_time
            summary["exportViewType"] = "NEW_IMAGE"
        (self.root / "manifest-summary.json").write_text(_dumps(summary) + "\n", encoding="utf-8")
        log.info("export %s written: %d items in %d files", self.export_id, report.items,
                 report.data_files)
        return report


def _prepare(out: Path) -> None:
    """Clear earlier generator output (only cycle folders holding nothing but AWSDynamoDB/)."""
    out.mkdir(parents=True, exist_ok=True)
    for cycle in EXPORT_TIMES:
        folder = out / f"cycle-{cycle}"
        if not folder.exists():
            continue
        if {child.name for child in folder.iterdir()} - {"AWSDynamoDB"}:
            raise RuntimeError(
                f"{folder} holds files the generator did not write; choose another --out"
            )
        log.info("removing earlier export folder %s", folder)
        shutil.rmtree(folder)


def _mp_context() -> multiprocessing.context.BaseContext:
    # fork where there is one: no re-import of the caller's __main__ (an unguarded script
    # would otherwise run again in every worker); workers rebuild their own state anyway.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _default_workers(treatments: int, tasks: int) -> int:
    if treatments < PARALLEL_THRESHOLD:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, tasks))


def generate(
    out: Path,
    treatments: int,
    seed: int,
    *,
    workers: int | None = None,
    compress_level: int = COMPRESS_LEVEL,
) -> GenerationReport:
    """Write the two export cycles of ``treatments`` first-cycle treatments under ``out``.

    The same ``(treatments, seed)`` always gives byte-identical files, whatever ``workers``
    (processes writing data files in parallel; default: one per CPU from
    ``PARALLEL_THRESHOLD`` treatments on, else in this process). Earlier ``cycle-1`` and
    ``cycle-2`` folders under ``out`` are replaced.
    """
    if treatments < 1:
        raise ValueError("treatments must be at least 1")
    if not 0 <= compress_level <= 9:
        raise ValueError("compress_level must be between 0 and 9")
    started = time.perf_counter()
    out = Path(out)
    _prepare(out)
    exports = [_Export(out, cycle, seed, treatments, compress_level) for cycle in EXPORT_TIMES]
    tasks = [task for export in exports for task in export.tasks]
    if workers is None:
        workers = _default_workers(treatments, len(tasks))
    log.info("generating %d treatments (seed %d) into %s with %d process(es)", treatments, seed,
             out, workers)
    if workers <= 1:
        factory = _Factory(build_population(seed, treatments), seed, treatments)
        results = [_write_file(factory, task) for task in tasks]
    else:
        # Largest files first for balance; results are put back in manifest order.
        order = sorted(range(len(tasks)), key=lambda n: -_task_size(tasks[n]))
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_mp_context(),
            initializer=_init_worker,
            initargs=(seed, treatments),
        ) as pool:
            done = dict(zip(order, pool.map(_run_task, [tasks[n] for n in order]), strict=True))
        results = [done[n] for n in range(len(tasks))]
    report = GenerationReport(
        out=out,
        seed=seed,
        treatments=treatments,
        patients=patient_count_for(treatments),
        providers=provider_count_for(treatments),
        workers=workers,
    )
    position = 0
    for export in exports:
        count = len(export.tasks)
        report.exports.append(export.finish(results[position:position + count]))
        position += count
    report.seconds = time.perf_counter() - started
    log.info("generation finished in %.1f s", report.seconds)
    return report


def _task_size(task: _FileTask) -> float:
    first = task.first[1] - task.first[0]
    new = task.new[1] - task.new[0]
    if task.cycle == 1:
        return first
    return new + first * sum(FATE_RATES.values())
