"""Synthetic S5 sources: monthly claim batches (CSV) and prescription fills (Parquet).

``clinical.generate`` drives this module with one patient's EHR history at a time (see
``ehr``); claims and fills refer to the same patient_ids and provider_ids as the EHR.

Claims (``claims_<YYYY-MM>.csv``, header ``CLAIMS_HEADER``). One facility claim per EHR visit
(inpatient -> ``inpatient``, outpatient and telehealth -> ``outpatient``, emergency ->
``emergency``) and a ``professional`` claim for ``PROFESSIONAL_RATE`` of the visits, with the
visit's patient, provider and (true, clean) primary diagnosis. admit/discharge dates only on
inpatient claims (= the visit's dates; service_date = admit_date); other claims carry the visit
date as service_date. Version 1 is submitted 3-20 days after the service (inpatient: after
discharge) and lands in that month's file; ``VERSION_2_RATE`` of the claims get a version 2
(status ``adjusted``, amounts changed) 25-120 days later in a later month's file, and
``VERSION_3_RATE`` (of all claims) a version 3 after that; files run up to ``LAST_CLAIMS_MONTH``
(a later version that would land after it is not sent). ``RESEND_RATE`` of the versions are sent
again byte for byte (same claim_id and claim_version) in the next month's file. Amounts are
``1234.50`` decimals: billed by claim type, allowed 40-85% of billed, paid 70-100% of allowed;
status ``paid`` (90%) or ``denied`` (paid 0.00) for version 1. ``SPELLING_VARIANT_RATE`` of the
versions spell status (``STATUS_SPELLINGS``) and, independently, claim_type
(``CLAIM_TYPE_SPELLINGS``) another way (trim + lower gives the canonical value).

Fills (``fills_<YYYY-MM>.parquet``, ``FILLS_SCHEMA``; from ``PHARMACY_ID_FROM`` on the files add
``pharmacy_id``; row groups of at most ``ROW_GROUP_ROWS`` rows). Every (patient, condition)
diagnosed in the EHR (first diagnosis before 2026) gets the condition's maintenance drug
(``ehr.CONDITIONS``; hypertension adds amlodipine for ``AMLODIPINE_RATE``), 30-day (70%) or
90-day fills through 2025 from the therapy start (the diagnosing visit; 1 January 2025 plus a
phase when it was earlier): ``ADHERENT_SHARE`` refill 0-5 days early or on time (overlap), the
``LATE_SHARE`` refill 5-45 days late (10% of them stop after a refill), the rest stop after 1-4
fills. So PDC spreads from about 0.3 to 1.0 on both sides of 0.8. Acute orders of 2025 visits
(amoxicillin, ...) are filled once (85%) 0-2 days after the visit. The prescriber is the
diagnosing visit's provider (85%, else the patient's primary provider) or the acute visit's.
ndc ``NNNNN-NNNN-NN``, one per drug and strength; drug_name lower case; cost = quantity x unit
price. rx_id ``RX`` + 9 digits (a counter through a bijection, not derived from the MRN).

Dirty data (at most one per claim version / fill; every spoiled record is in the truth ledger)::

    source  defect kind                 rate                     silver rule
    claims  malformed_icd10_code        1% of versions           malformed_icd10_code
    claims  discharge_before_admission  0.5% of inpatient vers.  discharge_before_admission
    claims  negative_amount             0.5% of versions         negative_amount
    claims  missing_service_date        0.2% of versions         missing_service_date
    fills   invalid_days_supply         0.5% of fills (0 days)   invalid_days_supply
    fills   negative_cost               0.3% of fills            negative_cost
    fills   malformed_ndc               0.5% of fills            malformed_ndc
    fills   duplicate_rx_id             1% of fills re-sent      duplicate_rx_id (the copy)
                                        in the next month's file (none for December)

A later claim version draws its own defect, so it may fix an earlier version's or introduce one.
An identical claim re-send is not a defect (silver counts it once) and is not in the ledger.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa

from loaders.generator.ehr import ACUTE_DRUGS, MALFORMED_CODES, IdSequence, PatientHistory, Visit

__all__ = [
    "ADHERENT_SHARE",
    "AMLODIPINE_RATE",
    "CLAIMS_HEADER",
    "CLAIMS_RATES",
    "CLAIM_TYPE_SPELLINGS",
    "DRUGS",
    "FILLS_RATES",
    "FILLS_SCHEMA",
    "FILLS_SCHEMA_WITH_PHARMACY",
    "LAST_CLAIMS_MONTH",
    "LATE_SHARE",
    "PHARMACY_ID_FROM",
    "PROFESSIONAL_RATE",
    "RESEND_RATE",
    "ROW_GROUP_ROWS",
    "SPELLING_VARIANT_RATE",
    "STATUS_SPELLINGS",
    "VERSION_2_RATE",
    "VERSION_3_RATE",
    "ClaimLine",
    "Drug",
    "FillRow",
    "claim_lines",
    "fill_rows",
]

CLAIMS_HEADER = ("claim_id", "claim_version", "patient_id", "provider_id", "claim_type",
                 "admit_date", "discharge_date", "service_date", "primary_dx", "procedure_code",
                 "billed_amount", "allowed_amount", "paid_amount", "status")
LAST_CLAIMS_MONTH = "2026-01"
PROFESSIONAL_RATE = 0.40
VERSION_2_RATE = 0.15
VERSION_3_RATE = 0.03
RESEND_RATE = 0.01
DENIED_RATE = 0.10
SPELLING_VARIANT_RATE = 0.05
CLAIMS_RATES: dict[str, float] = {
    "malformed_icd10_code": 0.01,
    "discharge_before_admission": 0.005,  # of inpatient versions
    "negative_amount": 0.005,
    "missing_service_date": 0.002,
}
STATUS_SPELLINGS: dict[str, tuple[str, ...]] = {
    "paid": ("PAID", "Paid", " paid"),
    "denied": (" Denied", "DENIED", "denied "),
    "adjusted": ("ADJUSTED", "Adjusted", " adjusted "),
}
CLAIM_TYPE_SPELLINGS: dict[str, tuple[str, ...]] = {
    "inpatient": ("Inpatient", "INPATIENT"),
    "outpatient": ("Outpatient", " OUTPATIENT"),
    "emergency": ("EMERGENCY", "Emergency "),
    "professional": ("PROFESSIONAL", "Professional"),
}
_FACILITY_TYPE = {"inpatient": "inpatient", "outpatient": "outpatient",
                  "telehealth": "outpatient", "emergency": "emergency"}
_PROCEDURES = {
    "inpatient": ("99221", "99222", "99223"),
    "outpatient": ("99203", "99213", "99214"),
    "telehealth": ("99212", "99213", "99441"),
    "emergency": ("99283", "99284", "99285"),
    "professional": ("99212", "99215", "99231", "99232"),
}
_BILLED_CENTS = {  # claim type -> (min, max) billed amount in cents
    "inpatient": (4_000_00, 60_000_00),
    "emergency": (600_00, 6_000_00),
    "outpatient": (120_00, 2_500_00),
    "professional": (80_00, 1_200_00),
}

ROW_GROUP_ROWS = 5_000
PHARMACY_ID_FROM = "2025-07"
FILLS_SCHEMA = pa.schema([
    ("rx_id", pa.string()),
    ("patient_id", pa.string()),
    ("prescriber_id", pa.string()),
    ("ndc", pa.string()),
    ("drug_name", pa.string()),
    ("fill_date", pa.date32()),
    ("days_supply", pa.int32()),
    ("quantity", pa.float64()),
    ("cost", pa.decimal128(12, 2)),
])
FILLS_SCHEMA_WITH_PHARMACY = FILLS_SCHEMA.append(pa.field("pharmacy_id", pa.string()))
FILLS_START = date(2025, 1, 1)
FILLS_END = date(2025, 12, 31)
ADHERENT_SHARE = 0.55
LATE_SHARE = 0.30
AMLODIPINE_RATE = 0.30
ACUTE_FILL_RATE = 0.85
PHARMACIES = 40
FILLS_RATES: dict[str, float] = {
    "invalid_days_supply": 0.005,
    "negative_cost": 0.003,
    "malformed_ndc": 0.005,
    "duplicate_rx_id": 0.01,
}
_MALFORMED_NDCS = ("0093-7212-01", "00093721201", "00093-7212-1", "NDC-00093-7212",
                   "00093-72A2-01")


@dataclass(frozen=True, slots=True)
class Drug:
    name: str
    strength: str
    ndc: str
    unit_cents: int  # price per unit (tablet, inhaler-day, ...)
    per_day: float  # units per day


DRUGS: dict[str, Drug] = {drug.name: drug for drug in (
    Drug("metformin", "500 mg", "00093-1048-01", 9, 2.0),
    Drug("lisinopril", "10 mg", "68180-0513-03", 7, 1.0),
    Drug("amlodipine", "5 mg", "00378-5206-77", 8, 1.0),
    Drug("furosemide", "40 mg", "00054-4299-25", 6, 1.0),
    Drug("tiotropium", "18 mcg", "00597-0075-41", 1_350, 1.0),
    Drug("albuterol", "90 mcg", "00173-0682-20", 210, 1.0),
    Drug("losartan", "50 mg", "00781-5701-92", 12, 1.0),
    Drug("atorvastatin", "40 mg", "60505-2579-09", 11, 1.0),
    Drug("sertraline", "50 mg", "16729-0214-10", 10, 1.0),
    Drug("simvastatin", "20 mg", "16714-0682-01", 6, 1.0),
    Drug("amoxicillin", "500 mg", "65862-0015-21", 14, 3.0),
    Drug("azithromycin", "250 mg", "59762-3143-02", 95, 1.2),
    Drug("nitrofurantoin", "100 mg", "47781-0304-01", 85, 2.0),
    Drug("ondansetron", "4 mg", "68462-0105-30", 45, 2.0),
    Drug("ibuprofen", "600 mg", "67877-0320-01", 6, 3.0),
    Drug("cephalexin", "500 mg", "68180-0122-01", 25, 4.0),
)}
_FILLED_ACUTE = frozenset(ACUTE_DRUGS) - {"ceftriaxone"}  # given in hospital, not filled
_EPOCH = date(1970, 1, 1).toordinal()
_FILLS_START = FILLS_START.toordinal()
_FILLS_END = FILLS_END.toordinal()


@dataclass(slots=True)
class ClaimLine:
    month: str  # YYYY-MM of the file
    text: str  # the CSV record, no line end
    entry: dict[str, Any] | None  # ledger entry (without file and line)
    version: int
    resend: bool = False  # an identical copy of the previous line of this claim version


@dataclass(slots=True)
class FillRow:
    month: str
    values: tuple[Any, ...]  # FILLS_SCHEMA order, cost as Decimal, fill_date as date
    pharmacy_id: str
    entry: dict[str, Any] | None
    resend: bool = False


def _month(ordinal: int) -> str:
    day = date.fromordinal(ordinal)
    return f"{day.year:04d}-{day.month:02d}"


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def claim_lines(history: PatientHistory, rng: random.Random,
                ids: IdSequence) -> list[ClaimLine]:
    """Every claim version (and re-send) of the patient's visits."""
    lines: list[ClaimLine] = []
    for visit in history.visits:
        _claim(lines, history, visit, _FACILITY_TYPE[visit.visit_type], rng, ids)
        if rng.random() < PROFESSIONAL_RATE:
            _claim(lines, history, visit, "professional", rng, ids)
    return lines


def _claim(lines: list[ClaimLine], history: PatientHistory, visit: Visit, claim_type: str,
           rng: random.Random, ids: IdSequence) -> None:
    claim_id = ids.next()
    procedure = rng.choice(_PROCEDURES[visit.visit_type if claim_type != "professional"
                                       else "professional"])
    low, high = _BILLED_CENTS[claim_type]
    billed = rng.randint(low, high)
    allowed = billed * rng.randint(40, 85) // 100
    denied = rng.random() < DENIED_RATE
    paid = 0 if denied else allowed * rng.randint(70, 100) // 100
    status = "denied" if denied else "paid"
    submitted = visit.end_date + rng.randint(3, 20)
    month = _month(submitted)
    versions = [(1, month, billed, allowed, paid, status)]
    if month < LAST_CLAIMS_MONTH and rng.random() < VERSION_2_RATE:
        month = max(_month(submitted + rng.randint(25, 120)), _next_month(month))
        if month <= LAST_CLAIMS_MONTH:
            allowed = min(billed, allowed * rng.randint(85, 110) // 100)
            paid = allowed * rng.randint(70, 100) // 100
            versions.append((2, month, billed, allowed, paid, "adjusted"))
            if month < LAST_CLAIMS_MONTH \
                    and rng.random() < VERSION_3_RATE / VERSION_2_RATE:
                month = _next_month(month)
                allowed = min(billed, allowed * rng.randint(90, 105) // 100)
                paid = allowed * rng.randint(70, 100) // 100
                versions.append((3, month, billed, allowed, paid, "adjusted"))
    inpatient = claim_type == "inpatient"
    for version, month, billed, allowed, paid, status in versions:
        admit = _iso(visit.visit_date) if inpatient else ""
        discharge = _iso(visit.end_date) if inpatient else ""
        service = _iso(visit.visit_date)
        dx = visit.primary.true_code
        amounts = [billed, allowed, paid]
        defect = None
        u = rng.random()
        threshold = CLAIMS_RATES["malformed_icd10_code"]
        if u < threshold:
            defect = "malformed_icd10_code"
            dx = rng.choice(MALFORMED_CODES)
        elif u < (threshold := threshold + CLAIMS_RATES["negative_amount"]):
            defect = "negative_amount"
            which = rng.choice([n for n, value in enumerate(amounts) if value > 0] or [0])
            amounts[which] = -amounts[which] if amounts[which] else -rng.randint(1, 5_000)
        elif u < (threshold := threshold + CLAIMS_RATES["missing_service_date"]):
            defect = "missing_service_date"
            service = ""
        elif inpatient and u < threshold + CLAIMS_RATES["discharge_before_admission"]:
            defect = "discharge_before_admission"
            discharge = _iso(visit.visit_date - rng.randint(1, 5))
        spelled_type = claim_type
        if rng.random() < SPELLING_VARIANT_RATE:
            spelled_type = rng.choice(CLAIM_TYPE_SPELLINGS[claim_type])
        spelled_status = status
        if rng.random() < SPELLING_VARIANT_RATE:
            spelled_status = rng.choice(STATUS_SPELLINGS[status])
        text = ",".join((claim_id, str(version), history.patient_id, visit.provider_id,
                         spelled_type, admit, discharge, service, dx, procedure,
                         _money(amounts[0]), _money(amounts[1]), _money(amounts[2]),
                         spelled_status))
        entry = None
        if defect is not None:
            entry = {"source": "claims", "record_id": claim_id, "record_type": "claim_version",
                     "claim_version": version, "defect": defect, "expected_rule": defect}
        lines.append(ClaimLine(month, text, entry, version))
        if month < LAST_CLAIMS_MONTH and rng.random() < RESEND_RATE:
            again = None if entry is None else dict(entry)
            lines.append(ClaimLine(_next_month(month), text, again, version, resend=True))


def _cost(drug: Drug, quantity: float) -> int:
    return round(drug.unit_cents * quantity) + 150  # dispensing fee $1.50


def fill_rows(history: PatientHistory, rng: random.Random, ids: IdSequence) -> list[FillRow]:
    """The patient's 2025 fills (maintenance drugs of diagnosed conditions, acute drugs)."""
    rows: list[FillRow] = []
    pharmacy = f"PH{rng.randrange(PHARMACIES) + 1001:04d}"
    therapies: list[tuple[int, str, str]] = []  # (start, drug, prescriber)
    for condition in history.conditions:
        codes = {code for code, _ in condition.diagnoses}
        diagnosing = next((visit for visit in history.visits
                           if any(d.true_code in codes for d in visit.diagnoses)), None)
        if diagnosing is None:
            continue
        prescriber = diagnosing.provider_id if rng.random() < 0.85 \
            else history.primary_provider
        therapies.append((diagnosing.visit_date, condition.drug, prescriber))
        if condition.code == "hypertension" and rng.random() < AMLODIPINE_RATE:
            therapies.append((diagnosing.visit_date, "amlodipine", prescriber))
    seen: set[str] = set()
    for start, name, prescriber in therapies:
        if name in seen:
            continue
        seen.add(name)
        drug = DRUGS[name]
        supply = 90 if rng.random() < 0.3 else 30
        u = rng.random()
        behaviour = "adherent" if u < ADHERENT_SHARE else (
            "late" if u < ADHERENT_SHARE + LATE_SHARE else "stopper")
        if start < _FILLS_START:
            day = _FILLS_START + rng.randint(0, supply - 1 if behaviour == "adherent"
                                             else supply + 20)
        else:
            day = start + rng.randint(0, 2)
        stop_after = rng.randint(1, 4)
        count = 0
        while day <= _FILLS_END:
            _fill(rows, history, drug, prescriber, day, supply, pharmacy, rng, ids)
            count += 1
            if behaviour == "adherent":
                day += supply - rng.choice((0, 0, 0, 1, 2, 3, 5))
            elif behaviour == "late":
                if rng.random() < 0.10:
                    break
                day += supply + rng.randint(5, 45)
            else:
                if count >= stop_after:
                    break
                day += supply + rng.randint(0, 10)
    for visit in history.visits:
        if not _FILLS_START <= visit.visit_date <= _FILLS_END:
            continue
        for order in visit.orders:
            if order.drug in _FILLED_ACUTE and rng.random() < ACUTE_FILL_RATE:
                day = visit.visit_date + rng.randint(0, 2)
                if day > _FILLS_END:
                    continue
                days = order.end - order.start if not order.end_before_start else 7
                _fill(rows, history, DRUGS[order.drug], visit.provider_id, day, max(1, days),
                      pharmacy, rng, ids)
    return rows


def _fill(rows: list[FillRow], history: PatientHistory, drug: Drug, prescriber: str, day: int,
          supply: int, pharmacy: str, rng: random.Random, ids: IdSequence) -> None:
    rx_id = ids.next()
    quantity = float(round(supply * drug.per_day))
    cost = _cost(drug, quantity)
    ndc = drug.ndc
    days_supply = supply
    defect = None
    u = rng.random()
    threshold = FILLS_RATES["invalid_days_supply"]
    if u < threshold:
        defect, days_supply = "invalid_days_supply", 0
    elif u < (threshold := threshold + FILLS_RATES["negative_cost"]):
        defect, cost = "negative_cost", -cost
    elif u < threshold + FILLS_RATES["malformed_ndc"]:
        defect, ndc = "malformed_ndc", rng.choice(_MALFORMED_NDCS)
    month = _month(day)
    values = (rx_id, history.patient_id, prescriber, ndc, drug.name, date.fromordinal(day),
              days_supply, quantity, Decimal(_money(cost)))
    entry = None
    if defect is not None:
        entry = {"source": "fills", "record_id": rx_id, "record_type": "fill", "defect": defect,
                 "expected_rule": defect}
    rows.append(FillRow(month, values, pharmacy, entry))
    if month < "2025-12" and rng.random() < FILLS_RATES["duplicate_rx_id"]:
        rows.append(FillRow(_next_month(month), values, pharmacy,
                            {"source": "fills", "record_id": rx_id, "record_type": "fill",
                             "defect": "duplicate_rx_id", "expected_rule": "duplicate_rx_id"},
                            resend=True))
