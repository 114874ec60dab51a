"""Synthetic S4 source: the EHR's patient documents (nested JSON, one patient per line).

``clinical.generate`` drives this module; it holds the clinical history of each patient and
renders the documents. Everything of a patient is derived from ``(seed, patient index)`` with
its own ``random.Random``, so the generator handles one patient at a time and memory does not
grow with the population. Identifiers (``V`` + 8 digits for visits, ``N`` + 8 digits for notes)
come from global counters mapped through a bijection (multiplier coprime with 10**8 and a
seeded offset): they are unique and have nothing to do with the MRN.

Who and when. About ``EHR_PATIENT_SHARE`` of the population's patients have visits between
``VISITS_START`` and ``VISITS_END``; ``CHRONIC_SHARE`` of them have one or two chronic
conditions (``CONDITIONS``: diabetes, hypertension, heart failure, COPD, asthma, CKD, coronary
artery disease, depression, hyperlipidemia) and more visits. Visit types: outpatient 55%,
emergency 18%, inpatient 15%, telehealth 12%. Inpatient visits carry ``discharge_date``
(0-9 days later, never after ``VISITS_END``); a patient's stays never overlap (a later visit
moves past the discharge). After an inpatient stay, ``READMIT_30_RATE`` of the stays are
followed by another stay 1-30 days after discharge (30 days exactly in a tenth of them) and
``READMIT_45_RATE`` by one 31-45 days after (31 days exactly in a sixth of them).

Demographics agree with the population: name, date of birth and gender (spelled as the
population spells it, ``null`` or absent per its ``gender_form``) and, at ``updated_at``,
``patient_as_of`` for city, state and zip (moves come from the population). EHR-only
attributes: SSN in the never-issued area 900-999, phone ``NNN-555-01NN`` (fictional range),
e-mail at example.com / example.org, a street line that changes with a move. About
``NAME_CHANGE_RATE`` of the EHR patients take a new last name and ``CONTACT_CHANGE_RATE``
change phone or e-mail (or both) at some instant after the first extract holding them (so the
change shows in a later document; patients first seen in the last extract do not change).

Extracts (``EXTRACTS``, 00:00 UTC): each holds one document per patient whose record changed
since the previous extract (the first: every patient with a visit so far). A document is
cumulative (every visit recorded before the extract, in date order). A visit is recorded at
the end of its stay (``recorded_at``: discharge day for inpatient visits, a few hours after the
visit otherwise). ``updated_at`` is the latest change at or before the extract: a visit's
recorded_at, a move, a name change, a phone/e-mail change.

Spellings: ``VISIT_TYPE_VARIANT_RATE`` of the visits spell their type another way
(``VISIT_TYPE_SPELLINGS``). Diagnosis codes come from ``CONDITIONS`` and ``ACUTE_DIAGNOSES``
(all match ``^[A-Z][0-9][0-9A-Z](\\.?[0-9A-Z]{1,4})?$``), exactly one ``is_primary`` per visit.
Notes mention the patient's own first name, phone or SSN now and then (``NOTE_PII_RATE``),
never anyone else.

Dirty data (a visit defect is a property of the visit and so shows in every document holding
it; at most one defect per visit, children included)::

    defect kind            rate                 what the line carries           silver rule
    not_json               0.05% of lines       the document cut in the middle  invalid_json
    missing_patient_id     0.2% of documents    no patient_id key               missing_patient_id
    malformed_icd10_code   1% of diagnoses      'E11-9', '123', 'e119x!' ...    malformed_icd10_code
    invalid_visit_date     0.3% of visits       '2025-02-30', 'unknown' ...     invalid_visit_date
    end_before_start       0.5% of med. orders  end_date 1-30 days before start end_before_start
    duplicate_visit_id     0.2% of visits       the visit object twice in a row duplicate_visit_id
                                                (the second one is rejected)

The truth ledger lists the document-level defects on every line that has one, and the visit
level ones (with the ``rejected_visit`` children of a rejected visit) in the document silver
flattens: the patient's latest document without a document-level defect.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from loaders.generator.population import (
    CITIES,
    HOSPITALS,
    LAST_NAMES,
    Population,
    home_hospital_index,
)

__all__ = [
    "ACUTE_DIAGNOSES",
    "ACUTE_DRUGS",
    "CHRONIC_SHARE",
    "CONDITIONS",
    "CONTACT_CHANGE_RATE",
    "EHR_PATIENT_SHARE",
    "EHR_RATES",
    "EXTRACTS",
    "MALFORMED_CODES",
    "NAME_CHANGE_RATE",
    "NOTE_PII_RATE",
    "READMIT_30_RATE",
    "READMIT_45_RATE",
    "VISITS_END",
    "VISITS_START",
    "VISIT_TYPES",
    "VISIT_TYPE_SPELLINGS",
    "VISIT_TYPE_VARIANT_RATE",
    "Condition",
    "Diagnosis",
    "Document",
    "EhrContext",
    "IdSequence",
    "Note",
    "Order",
    "PatientHistory",
    "Visit",
    "build_history",
    "render_documents",
]

EXTRACTS: tuple[date, ...] = (date(2024, 7, 1), date(2025, 1, 1), date(2025, 7, 1),
                              date(2026, 1, 1))
VISITS_START = date(2024, 1, 1)
VISITS_END = date(2025, 12, 31)

EHR_PATIENT_SHARE = 0.70
CHRONIC_SHARE = 0.40
SECOND_CONDITION_RATE = 0.30
NAME_CHANGE_RATE = 0.01
CONTACT_CHANGE_RATE = 0.03
NOTE_PII_RATE = 0.15
VISIT_TYPE_VARIANT_RATE = 0.05
READMIT_30_RATE = 0.12
READMIT_45_RATE = 0.04

EHR_RATES: dict[str, float] = {
    "not_json": 0.0005,
    "missing_patient_id": 0.002,
    "malformed_icd10_code": 0.01,
    "invalid_visit_date": 0.003,
    "end_before_start": 0.005,
    "duplicate_visit_id": 0.002,
}
"""Defect rates: per line, per document, per diagnosis, per visit, per order, per visit."""

VISIT_TYPES: tuple[tuple[str, float], ...] = (
    ("outpatient", 0.55), ("emergency", 0.18), ("inpatient", 0.15), ("telehealth", 0.12),
)
VISIT_TYPE_SPELLINGS: dict[str, tuple[str, ...]] = {
    "inpatient": ("Inpatient", "INPATIENT"),
    "outpatient": (" OUTPATIENT", "Outpatient"),
    "emergency": ("ER", "Emergency"),
    "telehealth": ("Tele-health", "TELEHEALTH"),
}
"""Non-canonical visit_type spellings (seed visit_type_map lists each, trimmed lower)."""


@dataclass(frozen=True, slots=True)
class Condition:
    code: str  # condition_code of the chronic_condition_codes seed
    diagnoses: tuple[tuple[str, str], ...]  # (ICD-10-CM code, description)
    drug: str  # maintenance drug (a key of claims.DRUGS)


CONDITIONS: tuple[Condition, ...] = (
    Condition("diabetes", (("E11.9", "Type 2 diabetes mellitus without complications"),
                           ("E11.65", "Type 2 diabetes mellitus with hyperglycemia"),
                           ("E11.22", "Type 2 diabetes mellitus with diabetic chronic kidney "
                                      "disease")), "metformin"),
    Condition("hypertension", (("I10", "Essential (primary) hypertension"),), "lisinopril"),
    Condition("heart_failure", (("I50.9", "Heart failure, unspecified"),
                                ("I50.22", "Chronic systolic (congestive) heart failure")),
              "furosemide"),
    Condition("copd", (("J44.9", "Chronic obstructive pulmonary disease, unspecified"),
                       ("J44.1", "Chronic obstructive pulmonary disease with (acute) "
                                 "exacerbation")), "tiotropium"),
    Condition("asthma", (("J45.909", "Unspecified asthma, uncomplicated"),
                         ("J45.40", "Moderate persistent asthma, uncomplicated")), "albuterol"),
    Condition("ckd", (("N18.3", "Chronic kidney disease, stage 3 (moderate)"),
                      ("N18.4", "Chronic kidney disease, stage 4 (severe)")), "losartan"),
    Condition("coronary_artery_disease",
              (("I25.10", "Atherosclerotic heart disease of native coronary artery without "
                          "angina pectoris"),), "atorvastatin"),
    Condition("depression", (("F32.9", "Major depressive disorder, single episode, "
                                       "unspecified"),
                             ("F32.1", "Major depressive disorder, single episode, moderate")),
              "sertraline"),
    Condition("hyperlipidemia", (("E78.5", "Hyperlipidemia, unspecified"),
                                 ("E78.00", "Pure hypercholesterolemia, unspecified")),
              "simvastatin"),
)
_CONDITION_WEIGHTS = (16, 24, 5, 7, 8, 6, 8, 10, 16)

# code, description, acute drug (or None)
ACUTE_DIAGNOSES: tuple[tuple[str, str, str | None], ...] = (
    ("J06.9", "Acute upper respiratory infection, unspecified", None),
    ("J02.9", "Acute pharyngitis, unspecified", "amoxicillin"),
    ("J18.9", "Pneumonia, unspecified organism", "azithromycin"),
    ("N39.0", "Urinary tract infection, site not specified", "nitrofurantoin"),
    ("A09", "Infectious gastroenteritis and colitis, unspecified", "ondansetron"),
    ("R07.9", "Chest pain, unspecified", None),
    ("R10.9", "Unspecified abdominal pain", None),
    ("S52.501A", "Unspecified fracture of the lower end of right radius, initial encounter",
     "ibuprofen"),
    ("S93.401A", "Sprain of unspecified ligament of right ankle, initial encounter",
     "ibuprofen"),
    ("M54.5", "Low back pain", "ibuprofen"),
    ("H66.90", "Otitis media, unspecified, unspecified ear", "amoxicillin"),
    ("L03.90", "Cellulitis, unspecified", "cephalexin"),
    ("K35.80", "Unspecified acute appendicitis", "ceftriaxone"),
    ("Z00.00", "Encounter for general adult medical examination without abnormal findings",
     None),
)
_SECONDARY: tuple[tuple[str, str], ...] = (
    ("R53.83", "Other fatigue"), ("Z79.899", "Other long term (current) drug therapy"),
    ("R51.9", "Headache, unspecified"), ("E66.9", "Obesity, unspecified"),
    ("Z87.891", "Personal history of nicotine dependence"),
)
ACUTE_DRUGS: tuple[str, ...] = ("amoxicillin", "azithromycin", "nitrofurantoin", "ondansetron",
                                "ibuprofen", "cephalexin", "ceftriaxone")
# drug -> (dose, route, days of the order (min, max))
_ORDER_FORMS: dict[str, tuple[str, str, tuple[int, int]]] = {
    "metformin": ("500 mg", "oral", (90, 365)),
    "lisinopril": ("10 mg", "oral", (90, 365)),
    "furosemide": ("40 mg", "oral", (90, 365)),
    "tiotropium": ("18 mcg", "inhaled", (90, 365)),
    "albuterol": ("90 mcg", "inhaled", (90, 365)),
    "losartan": ("50 mg", "oral", (90, 365)),
    "atorvastatin": ("40 mg", "oral", (90, 365)),
    "sertraline": ("50 mg", "oral", (90, 365)),
    "simvastatin": ("20 mg", "oral", (90, 365)),
    "amoxicillin": ("500 mg", "oral", (7, 10)),
    "azithromycin": ("250 mg", "oral", (5, 5)),
    "nitrofurantoin": ("100 mg", "oral", (5, 7)),
    "ondansetron": ("4 mg", "oral", (3, 5)),
    "ibuprofen": ("600 mg", "oral", (5, 10)),
    "cephalexin": ("500 mg", "oral", (7, 10)),
    "ceftriaxone": ("1 g", "intravenous", (1, 3)),
}
MALFORMED_CODES: tuple[str, ...] = ("E11-9", "123", "e119x!", "250.00", "J4", "E11..9", "I10-")
_INVALID_DATES: tuple[str, ...] = ("2025-02-30", "2024-13-05", "unknown", "N/A", "2025-00-10")
_AREA_CODES: dict[str, tuple[str, ...]] = {
    "IL": ("312", "773", "847", "630", "815", "309", "217"),
    "WI": ("414", "608", "920", "262"),
    "MN": ("612", "651", "507", "218", "952"),
    "IA": ("515", "319", "563", "712"),
    "MO": ("314", "816", "417", "573"),
    "IN": ("317", "260", "812", "574"),
    "OH": ("614", "216", "513", "419", "937", "330"),
}
_STREETS = ("Lake Shore Dr", "Main St", "Oak Ave", "Maple St", "Washington Blvd", "Elm St",
            "Park Ave", "Cedar Ln", "Lincoln Way", "Prairie Rd", "River Rd", "Hillcrest Dr",
            "Walnut St", "Grand Ave", "Summit St", "Jefferson Ave")
_EMAIL_DOMAINS = ("example.com", "example.org")
_NOTE_TEXTS = (
    "Patient seen for {desc}. Plan reviewed; follow up in {weeks} weeks.",
    "Assessment: {desc}. Vitals stable, no acute distress.",
    "Discussed {desc} and treatment options; questions answered.",
    "Reviewed medication list and allergies. Continue current plan for {desc}.",
)
_NOTE_PII_TEXTS = (
    "{first} reports feeling better since the last visit. Seen for {desc}.",
    "Called {first} at {phone} to confirm the follow-up appointment.",
    "Identity verified, SSN {ssn}. Insurance on file; seen for {desc}.",
)

_DAY = 86_400
_EPOCH = date(1970, 1, 1).toordinal()
_START_ORD = VISITS_START.toordinal()
_END_ORD = VISITS_END.toordinal()
_EXTRACT_EPOCHS = tuple((d.toordinal() - _EPOCH) * _DAY for d in EXTRACTS)


def _utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


class IdSequence:
    """``prefix`` + ``digits`` digits: a counter through a bijection of 10**digits."""

    def __init__(self, prefix: str, digits: int, key: str) -> None:
        rng = random.Random(key)
        self.prefix = prefix
        self.modulus = 10**digits
        self.digits = digits
        self.offset = rng.randrange(self.modulus)
        self.multiplier = 7_654_321  # odd and not a multiple of 5: coprime with 10**digits
        self.count = 0

    def next(self) -> str:
        value = (self.count * self.multiplier + self.offset) % self.modulus
        self.count += 1
        return f"{self.prefix}{value:0{self.digits}d}"


@dataclass(slots=True)
class Diagnosis:
    code: str  # as written in the EHR (malformed when ``malformed``)
    true_code: str  # the clean code (claims carry this one)
    description: str
    is_primary: bool
    malformed: bool = False


@dataclass(slots=True)
class Order:
    drug: str
    dose: str
    route: str
    start: int  # ordinal
    end: int  # ordinal (before start when ``end_before_start``)
    end_before_start: bool = False


@dataclass(slots=True)
class Note:
    note_id: str
    author: str
    written_at: int  # epoch seconds
    text: str


@dataclass(slots=True)
class Visit:
    visit_id: str
    visit_date: int  # ordinal
    visit_type: str  # canonical
    spelled_type: str
    provider_id: str
    start: int  # epoch seconds
    recorded_at: int  # epoch seconds
    discharge_date: int | None = None  # ordinal, inpatient only
    diagnoses: list[Diagnosis] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    defect: str | None = None  # 'invalid_visit_date' or 'duplicate_visit_id'
    bad_date: str | None = None
    text: str = ""  # the rendered JSON object

    @property
    def primary(self) -> Diagnosis:
        return next(d for d in self.diagnoses if d.is_primary)

    @property
    def end_date(self) -> int:
        return self.discharge_date if self.discharge_date is not None else self.visit_date


@dataclass(slots=True)
class PatientHistory:
    index: int
    patient_id: str
    first_name: str
    last_name: str
    gender_raw: str | None
    gender_form: str
    date_of_birth: date
    ssn: str
    phone: str
    email: str
    street: str
    moved_street: str
    moves_at: int | None  # epoch seconds
    home: tuple[str, str, str]  # city, state, zip before a move
    moved: tuple[str, str, str] | None
    primary_provider: str
    hospital: int  # index in HOSPITALS
    conditions: list[Condition]
    visits: list[Visit]
    name_change: tuple[int, str] | None = None  # (epoch, new last name)
    phone_change: tuple[int, str] | None = None
    email_change: tuple[int, str] | None = None


@dataclass(slots=True)
class Document:
    extract: int  # index in EXTRACTS
    text: str
    defect: str | None  # 'not_json', 'missing_patient_id' or None
    entries: list[dict[str, Any]]  # ledger entries of this line (without file and line)


class EhrContext:
    """What every patient's history needs: the population, providers by hospital, id counters."""

    def __init__(self, population: Population, seed: int) -> None:
        self.population = population
        self.seed = seed
        self.columns = population.patient_columns()
        by_hospital: list[list[str]] = [[] for _ in HOSPITALS]
        emergency: list[list[str]] = [[] for _ in HOSPITALS]
        index_of = {hospital.hospital_id: n for n, hospital in enumerate(HOSPITALS)}
        for provider in population.providers:
            n = index_of[provider.hospital_id]
            by_hospital[n].append(provider.provider_id)
            if provider.department_code == "ED":
                emergency[n].append(provider.provider_id)
        self.providers = by_hospital
        self.emergency = [found or by_hospital[n] for n, found in enumerate(emergency)]
        self.all_providers = [provider.provider_id for provider in population.providers]
        self.home = [home_hospital_index(city) for city in CITIES]
        self.visit_ids = IdSequence("V", 8, f"ehr-visit-ids:{seed}")
        self.note_ids = IdSequence("N", 8, f"ehr-note-ids:{seed}")
        self._condition_cumulative = _cumulative(_CONDITION_WEIGHTS)
        self._type_cumulative = _cumulative([weight for _, weight in VISIT_TYPES])

    def condition(self, u: float) -> Condition:
        return CONDITIONS[_pick(self._condition_cumulative, u)]

    def visit_type(self, u: float) -> str:
        return VISIT_TYPES[_pick(self._type_cumulative, u)][0]


def _cumulative(weights: tuple[int, ...] | list[float]) -> list[float]:
    total = sum(weights)
    running, out = 0.0, []
    for weight in weights:
        running += weight / total
        out.append(running)
    out[-1] = 1.0
    return out


def _pick(cumulative: list[float], u: float) -> int:
    for n, bound in enumerate(cumulative):
        if u < bound:
            return n
    return len(cumulative) - 1


def _ssn(rng: random.Random) -> str:
    return f"{rng.randint(900, 999)}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _phone(rng: random.Random, state: str) -> str:
    return f"{rng.choice(_AREA_CODES[state])}-555-01{rng.randint(0, 99):02d}"


def _email(rng: random.Random, first: str, last: str) -> str:
    local = "".join(c for c in f"{first}.{last}".lower() if c.isalnum() or c == ".")
    return f"{local}{rng.randint(1, 99)}@{rng.choice(_EMAIL_DOMAINS)}"


def _street(rng: random.Random) -> str:
    return f"{rng.randint(100, 9899)} {rng.choice(_STREETS)}"


def build_history(ctx: EhrContext, index: int) -> PatientHistory | None:
    """The EHR history of patient ``index`` (None when the patient never visits)."""
    rng = random.Random(f"ehr:{ctx.seed}:{index}")
    if rng.random() >= EHR_PATIENT_SHARE:
        return None
    patient = ctx.population.patient(index)
    hospital = ctx.home[ctx.columns.city[index]]
    providers = ctx.providers[hospital]
    primary_provider = rng.choice(providers)
    conditions: list[Condition] = []
    if rng.random() < CHRONIC_SHARE:
        conditions.append(ctx.condition(rng.random()))
        if rng.random() < SECOND_CONDITION_RATE:
            other = ctx.condition(rng.random())
            if other is not conditions[0]:
                conditions.append(other)
    chosen = {condition.code: rng.choice(condition.diagnoses) for condition in conditions}
    moved = None
    moves_at = None
    if patient.moves_at is not None:
        moves_at = int(patient.moves_at.timestamp())
        moved = (patient.new_city or "", patient.new_state or "", patient.new_zip or "")
    history = PatientHistory(
        index=index, patient_id=patient.patient_id, first_name=patient.first_name,
        last_name=patient.last_name, gender_raw=patient.gender_raw,
        gender_form=patient.gender_form, date_of_birth=patient.date_of_birth,
        ssn=_ssn(rng), phone=_phone(rng, patient.state),
        email=_email(rng, patient.first_name, patient.last_name), street=_street(rng),
        moved_street=_street(rng), moves_at=moves_at,
        home=(patient.city, patient.state, patient.zip), moved=moved,
        primary_provider=primary_provider, hospital=hospital, conditions=conditions, visits=[],
    )
    count = rng.randint(2, 8) if conditions else rng.choice((1, 1, 1, 2, 2, 3, 4))
    days = sorted(rng.randint(_START_ORD, _END_ORD) for _ in range(count))
    last_day = 0
    for day in days:
        day = max(day, last_day + 1)
        if day > _END_ORD:
            break
        visit_type = ctx.visit_type(rng.random())
        visit = _visit(ctx, rng, history, chosen, day, visit_type)
        last_day = visit.end_date
        # readmissions after an inpatient stay (chains allowed)
        while visit.visit_type == "inpatient":
            u = rng.random()
            if u < READMIT_30_RATE:
                gap = 30 if rng.random() < 0.10 else rng.randint(1, 30)
            elif u < READMIT_30_RATE + READMIT_45_RATE:
                gap = 31 if rng.random() < 1 / 6 else rng.randint(31, 45)
            else:
                break
            admit = visit.end_date + gap
            if admit >= _END_ORD:
                break
            visit = _visit(ctx, rng, history, chosen, admit, "inpatient")
            last_day = visit.end_date
    _demographic_changes(rng, history)
    return history


def _visit(ctx: EhrContext, rng: random.Random, history: PatientHistory,
           chosen: dict[str, tuple[str, str]], day: int, visit_type: str) -> Visit:
    hospital = history.hospital
    if visit_type == "emergency":
        provider = rng.choice(ctx.emergency[hospital])
    elif rng.random() < 0.8:
        provider = history.primary_provider
    else:
        provider = rng.choice(ctx.providers[hospital])
    start = (day - _EPOCH) * _DAY + rng.randint(13 * 60, 21 * 60) * 60
    discharge = None
    if visit_type == "inpatient":
        los = min(rng.choice((0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 9)), _END_ORD - day)
        discharge = day + los
        recorded = (discharge - _EPOCH) * _DAY + rng.randint(22 * 60, 23 * 60 + 59) * 60
    else:
        recorded = start + rng.randint(60, 180) * 60
    spelled = visit_type
    if rng.random() < VISIT_TYPE_VARIANT_RATE:
        spelled = rng.choice(VISIT_TYPE_SPELLINGS[visit_type])
    visit = Visit(visit_id=ctx.visit_ids.next(), visit_date=day, visit_type=visit_type,
                  spelled_type=spelled, provider_id=provider, start=start, recorded_at=recorded,
                  discharge_date=discharge)
    # diagnoses: primary first
    chronic = history.conditions
    if chronic and (visit_type in ("outpatient", "telehealth") or rng.random() < 0.3) \
            and rng.random() < 0.75:
        condition = rng.choice(chronic)
        code, description = chosen[condition.code]
        visit.diagnoses.append(Diagnosis(code, code, description, True))
        drug: str | None = condition.drug if rng.random() < 0.7 else None
    else:
        code, description, drug = rng.choice(ACUTE_DIAGNOSES)
        visit.diagnoses.append(Diagnosis(code, code, description, True))
        if drug is not None and rng.random() >= 0.7:
            drug = None
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        others = [chosen[c.code] for c in chronic if chosen[c.code][0] != visit.diagnoses[0].code]
        code, description = rng.choice(others) if others and rng.random() < 0.6 \
            else rng.choice(_SECONDARY)
        if all(d.code != code for d in visit.diagnoses):
            visit.diagnoses.append(Diagnosis(code, code, description, False))
    if drug is not None:
        dose, route, (low, high) = _ORDER_FORMS[drug]
        visit.orders.append(Order(drug, dose, route, day, day + rng.randint(low, high)))
    if visit_type == "inpatient" and rng.random() < 0.3:
        dose, route, (low, high) = _ORDER_FORMS["ceftriaxone"]
        visit.orders.append(Order("ceftriaxone", dose, route, day, day + rng.randint(low, high)))
    for _ in range(1 if rng.random() < 0.7 else 2):
        author = provider if rng.random() < 0.9 else rng.choice(ctx.providers[hospital])
        written = rng.randint(start + 600, max(start + 600, recorded - 60))
        written -= written % 60
        visit.notes.append(Note(ctx.note_ids.next(), author, written,
                                _note_text(rng, history, visit)))
    # defects: one per visit at most
    u = rng.random()
    if u < EHR_RATES["invalid_visit_date"]:
        visit.defect = "invalid_visit_date"
        visit.bad_date = rng.choice(_INVALID_DATES)
    elif u < EHR_RATES["invalid_visit_date"] + EHR_RATES["duplicate_visit_id"]:
        visit.defect = "duplicate_visit_id"
    else:
        for diagnosis in visit.diagnoses:
            if rng.random() < EHR_RATES["malformed_icd10_code"]:
                diagnosis.malformed = True
                diagnosis.code = rng.choice(MALFORMED_CODES)
        for order in visit.orders:
            if rng.random() < EHR_RATES["end_before_start"]:
                order.end_before_start = True
                order.end = order.start - rng.randint(1, 30)
    visit.text = _visit_text(visit)
    history.visits.append(visit)
    return visit


def _note_text(rng: random.Random, history: PatientHistory, visit: Visit) -> str:
    description = visit.diagnoses[0].description.lower()
    if rng.random() < NOTE_PII_RATE:
        template = rng.choice(_NOTE_PII_TEXTS)
    else:
        template = rng.choice(_NOTE_TEXTS)
    return template.format(desc=description, weeks=rng.randint(1, 12),
                           first=history.first_name, phone=history.phone, ssn=history.ssn)


def _visit_text(visit: Visit) -> str:
    body: dict[str, Any] = {
        "visit_id": visit.visit_id,
        "visit_date": visit.bad_date if visit.bad_date is not None else _iso(visit.visit_date),
        "visit_type": visit.spelled_type,
        "provider_id": visit.provider_id,
    }
    if visit.discharge_date is not None:
        body["discharge_date"] = _iso(visit.discharge_date)
    body["diagnoses"] = [
        {"code": d.code, "description": d.description, "is_primary": d.is_primary}
        for d in visit.diagnoses
    ]
    body["treatments"] = [
        {"drug": o.drug, "dose": o.dose, "route": o.route, "start_date": _iso(o.start),
         "end_date": _iso(o.end)}
        for o in visit.orders
    ]
    body["provider_notes"] = [
        {"note_id": n.note_id, "author_provider_id": n.author, "written_at": _utc(n.written_at),
         "text": n.text}
        for n in visit.notes
    ]
    return json.dumps(body, ensure_ascii=False)


def _instant_after(rng: random.Random, first: int) -> int | None:
    """A whole minute after the first extract holding a visit recorded at ``first`` (so the
    earlier value shows in a document), before the last extract; None when there is none."""
    lower = next(cut for cut in _EXTRACT_EPOCHS if cut > first)
    last = _EXTRACT_EPOCHS[-1] - _DAY
    if lower >= last:
        return None
    at = rng.randint(lower + 3_600, last)
    return at - at % 60


def _demographic_changes(rng: random.Random, history: PatientHistory) -> None:
    first = history.visits[0].recorded_at
    if rng.random() < NAME_CHANGE_RATE:
        at = _instant_after(rng, first)
        names = [name for name in LAST_NAMES if name != history.last_name]
        if at is not None:
            history.name_change = (at, rng.choice(names))
    if rng.random() < CONTACT_CHANGE_RATE:
        at = _instant_after(rng, first)
        if at is not None:
            which = rng.random()
            state = history.moved[1] if history.moved and history.moves_at is not None \
                and at >= history.moves_at else history.home[1]
            if which < 0.6:
                history.phone_change = (at, _phone(rng, state))
            if which >= 0.4:
                last = history.name_change[1] if history.name_change \
                    and at >= history.name_change[0] else history.last_name
                history.email_change = (at, _email(rng, history.first_name, last))
    if history.phone_change is not None:
        # notes written after the change mention the new phone
        at, phone = history.phone_change
        for visit in history.visits:
            changed = False
            for note in visit.notes:
                if note.written_at >= at and history.phone in note.text:
                    note.text = note.text.replace(history.phone, phone)
                    changed = True
            if changed:
                visit.text = _visit_text(visit)


def _visit_entries(visit: Visit, ordinal: int, duplicate: bool) -> list[dict[str, Any]]:
    """Ledger entries of one visit object in the flattened (latest accepted) document."""
    base = {"source": "ehr", "record_id": visit.visit_id, "visit_ordinal": ordinal}
    entries: list[dict[str, Any]] = []
    rejected = duplicate or visit.defect == "invalid_visit_date"
    if rejected:
        kind = "duplicate_visit_id" if duplicate else "invalid_visit_date"
        entries.append({**base, "record_type": "visit", "item_number": None, "defect": kind,
                        "expected_rule": kind})
        for record_type, items in (("diagnosis", visit.diagnoses),
                                   ("medication_order", visit.orders),
                                   ("provider_note", visit.notes)):
            for number in range(1, len(items) + 1):
                entries.append({**base, "record_type": record_type, "item_number": number,
                                "defect": "rejected_visit", "expected_rule": "rejected_visit"})
        return entries
    for number, diagnosis in enumerate(visit.diagnoses, start=1):
        if diagnosis.malformed:
            entries.append({**base, "record_type": "diagnosis", "item_number": number,
                            "defect": "malformed_icd10_code",
                            "expected_rule": "malformed_icd10_code"})
    for number, order in enumerate(visit.orders, start=1):
        if order.end_before_start:
            entries.append({**base, "record_type": "medication_order", "item_number": number,
                            "defect": "end_before_start", "expected_rule": "end_before_start"})
    return entries


def _address(history: PatientHistory, at: int) -> tuple[str, str, str, str]:
    if history.moved is not None and history.moves_at is not None and at >= history.moves_at:
        return (history.moved_street, *history.moved)
    return (history.street, *history.home)


def _latest(change: tuple[int, str] | None, at: int, default: str) -> str:
    return change[1] if change is not None and at >= change[0] else default


def render_documents(history: PatientHistory, rng: random.Random) -> list[Document]:
    """The patient's documents, one per extract in which the record changed."""
    changes = [visit.recorded_at for visit in history.visits]
    for change in (history.name_change, history.phone_change, history.email_change):
        if change is not None:
            changes.append(change[0])
    if history.moves_at is not None:
        changes.append(history.moves_at)
    first_recorded = history.visits[0].recorded_at
    documents: list[Document] = []
    contents: list[list[Visit]] = []
    previous = 0
    for extract, cut in enumerate(_EXTRACT_EPOCHS):
        lower = previous if documents else 0
        previous = cut
        if first_recorded >= cut or not any(lower <= at < cut for at in changes):
            continue
        updated = max(at for at in changes if at < cut)
        visits = [visit for visit in history.visits if visit.recorded_at < cut]
        line, u = rng.random(), rng.random()
        defect = "not_json" if line < EHR_RATES["not_json"] else (
            "missing_patient_id" if u < EHR_RATES["missing_patient_id"] else None)
        text = _document_text(history, updated, visits, defect)
        if defect == "not_json":
            text = text[: max(10, len(text) * 3 // 5)]
        documents.append(Document(extract, text, defect, []))
        contents.append(visits)
    latest = next((n for n in range(len(documents) - 1, -1, -1)
                   if documents[n].defect is None), None)
    for n, doc in enumerate(documents):
        if doc.defect is not None:
            doc.entries.append({"source": "ehr", "record_id": None, "record_type": "document",
                                "patient_id": history.patient_id, "defect": doc.defect,
                                "expected_rule": "invalid_json" if doc.defect == "not_json"
                                else "missing_patient_id"})
        elif n == latest:
            ordinal = 0
            for visit in contents[n]:
                ordinal += 1
                doc.entries.extend(_visit_entries(visit, ordinal, False))
                if visit.defect == "duplicate_visit_id":
                    ordinal += 1
                    doc.entries.extend(_visit_entries(visit, ordinal, True))
    return documents


def _document_text(history: PatientHistory, updated: int, visits: list[Visit],
                   defect: str | None) -> str:
    line, city, state, zip_code = _address(history, updated)
    head: dict[str, Any] = {}
    if defect != "missing_patient_id":
        head["patient_id"] = history.patient_id
    head["name"] = {"first": history.first_name,
                    "last": _latest(history.name_change, updated, history.last_name)}
    head["date_of_birth"] = history.date_of_birth.isoformat()
    if history.gender_form != "absent":
        head["gender"] = history.gender_raw
    head["ssn"] = history.ssn
    head["phone"] = _latest(history.phone_change, updated, history.phone)
    head["email"] = _latest(history.email_change, updated, history.email)
    head["address"] = {"line": line, "city": city, "state": state, "zip": zip_code}
    head["updated_at"] = _utc(updated)
    texts = []
    for visit in visits:
        texts.append(visit.text)
        if visit.defect == "duplicate_visit_id":
            texts.append(visit.text)
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "visits": [' + ", ".join(texts) + "]}"

