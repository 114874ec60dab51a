"""Deterministic synthetic population shared by every source system.

Seven hospitals in Midwest states with their departments, the providers who work there and the
patients they treat. Every source generator (treatments now; ADT, EHR and claims later) builds
the same population from the same ``(seed, treatments)`` and so refers to the same people.
Nothing here describes a real person: names come from short lists of common given and family
names, identifiers are made up.

The population is time dependent. Inside the change window (the second export cycle,
``CHANGE_WINDOW_START`` to ``CHANGE_WINDOW_END``) about ``PROVIDER_CHANGE_RATE`` of the providers
move to another hospital (and so another city and state) and about ``PATIENT_MOVE_RATE`` of the
patients move to another city. ``provider_as_of`` and ``patient_as_of`` give the attributes valid
at an instant; a provider's name and specialty never change, nor do a patient's name, gender and
date of birth.

Patients are stored column-wise in ``array`` objects (a few bytes each) and materialised on
demand, so a population for millions of treatments stays small.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "CHANGE_WINDOW_END",
    "CHANGE_WINDOW_START",
    "CITIES",
    "DEPARTMENTS",
    "FEMALE_FIRST_NAMES",
    "GENDER_MISSING_RATE",
    "GENDER_SPELLINGS",
    "GENDER_VARIANT_RATE",
    "HOSPITALS",
    "LAST_NAMES",
    "MALE_FIRST_NAMES",
    "PATIENT_MOVE_RATE",
    "PROVIDER_CHANGE_RATE",
    "SPECIALTIES",
    "City",
    "Department",
    "Hospital",
    "Patient",
    "PatientColumns",
    "PatientVersion",
    "Population",
    "Provider",
    "ProviderVersion",
    "build_population",
    "patient_as_of",
    "patient_count_for",
    "provider_as_of",
    "provider_count_for",
]

CHANGE_WINDOW_START = datetime(2025, 7, 1, tzinfo=UTC)
CHANGE_WINDOW_END = datetime(2026, 1, 1, tzinfo=UTC)
PROVIDER_CHANGE_RATE = 0.03
PATIENT_MOVE_RATE = 0.05
GENDER_VARIANT_RATE = 0.20
"""Share of patients whose gender is spelled other than 'female'/'male' (e.g. 'F', ' Male ')."""
GENDER_MISSING_RATE = 0.03
"""Share of patients without a gender: half have no attribute, half a NULL."""


@dataclass(frozen=True, slots=True)
class Hospital:
    hospital_id: str
    name: str
    city: str
    state: str
    zip: str
    timezone: str


@dataclass(frozen=True, slots=True)
class Department:
    department_id: str
    hospital_id: str
    code: str
    name: str
    bed_capacity: int
    staff_count: int


@dataclass(frozen=True, slots=True)
class City:
    city: str
    state: str
    zip_prefix: str


@dataclass(frozen=True, slots=True)
class ProviderVersion:
    """A provider's attributes valid at one instant."""

    provider_id: str
    name: str
    specialty: str
    hospital_id: str
    city: str
    state: str


@dataclass(frozen=True, slots=True)
class Provider:
    index: int
    provider_id: str
    name: str
    specialty: str
    department_code: str
    hospital_id: str
    city: str
    state: str
    changes_at: datetime | None = None
    new_hospital_id: str | None = None
    new_city: str | None = None
    new_state: str | None = None


@dataclass(frozen=True, slots=True)
class PatientVersion:
    """A patient's attributes valid at one instant.

    ``gender`` is canonical ('female' or 'male'); ``gender_raw`` is how the registration
    systems spell it (``None`` when missing) and ``gender_form`` says how a missing gender is
    sent: 'value', 'null' (a NULL attribute) or 'absent' (no attribute).
    """

    patient_id: str
    first_name: str
    last_name: str
    gender: str
    gender_raw: str | None
    gender_form: str
    date_of_birth: date
    city: str
    state: str
    zip: str


@dataclass(frozen=True, slots=True)
class PatientColumns:
    """Column-wise patients (read-only by convention), indexed by patient index.

    first/last: index into the first-name list of the gender / LAST_NAMES; gender: 0 female,
    1 male; form: 0 value, 1 NULL, 2 absent; spelling: -1 canonical else index into
    GENDER_SPELLINGS[gender]; dob: date ordinal; city: index into CITIES; zip: the two digits
    after the city's zip prefix; moves: index -> (moves_at, new city index, new zip digits).
    """

    first: array
    last: array
    gender: array
    form: array
    spelling: array
    dob: array
    city: array
    zip: array
    moves: dict[int, tuple[datetime, int, int]]
    mrn_multiplier: int  # patient_id = f"MRN{(index * mrn_multiplier + mrn_offset) % 10**8:08d}"
    mrn_offset: int


@dataclass(frozen=True, slots=True)
class Patient:
    index: int
    patient_id: str
    first_name: str
    last_name: str
    gender: str
    gender_raw: str | None
    gender_form: str
    date_of_birth: date
    city: str
    state: str
    zip: str
    moves_at: datetime | None = None
    new_city: str | None = None
    new_state: str | None = None
    new_zip: str | None = None


# Two states hold two hospitals each, so cities rank within a state; patients of a state with
# no hospital (IA, OH) are treated in a neighbouring state's.
HOSPITALS: tuple[Hospital, ...] = (
    Hospital("H001", "Lakeshore General Hospital", "Chicago", "IL", "60611", "America/Chicago"),
    Hospital("H002", "Cream City Medical Center", "Milwaukee", "WI", "53226", "America/Chicago"),
    Hospital("H003", "North Star Regional Hospital", "Minneapolis", "MN", "55415",
             "America/Chicago"),
    Hospital("H004", "Zumbro Valley Clinic Hospital", "Rochester", "MN", "55902",
             "America/Chicago"),
    Hospital("H005", "Gateway Memorial Hospital", "St. Louis", "MO", "63110", "America/Chicago"),
    Hospital("H006", "Crossroads University Hospital", "Indianapolis", "IN", "46202",
             "America/Indiana/Indianapolis"),
    Hospital("H007", "Ohio River Medical Center", "Evansville", "IN", "47713",
             "America/Chicago"),
)
# Where patients of a state without a hospital are treated.
NEIGHBOUR_STATE: dict[str, str] = {"IA": "MN", "OH": "IN"}


def home_hospital_index(city: City) -> int:
    """Index in HOSPITALS of the hospital people living in ``city`` usually go to: the one in
    their city, else the first one of their state (or of the neighbouring state)."""
    for index, hospital in enumerate(HOSPITALS):
        if (hospital.city, hospital.state) == (city.city, city.state):
            return index
    state = NEIGHBOUR_STATE.get(city.state, city.state)
    return next(index for index, hospital in enumerate(HOSPITALS) if hospital.state == state)

# code, name, (min, max) beds, (min, max) staff
DEPARTMENTS: tuple[tuple[str, str, tuple[int, int], tuple[int, int]], ...] = (
    ("ED", "Emergency", (20, 60), (60, 180)),
    ("SURG", "Surgery", (20, 80), (80, 240)),
    ("ICU", "ICU", (10, 40), (50, 150)),
    ("CARD", "Cardiology", (15, 50), (30, 110)),
    ("ONC", "Oncology", (15, 50), (30, 120)),
    ("PED", "Pediatrics", (10, 40), (25, 90)),
    ("MAT", "Maternity", (10, 40), (25, 90)),
    ("GMED", "General Medicine", (40, 150), (60, 200)),
)

# specialty, department code, weight
SPECIALTIES: tuple[tuple[str, str, int], ...] = (
    ("Emergency Medicine", "ED", 14),
    ("General Surgery", "SURG", 9),
    ("Orthopedic Surgery", "SURG", 6),
    ("Critical Care Medicine", "ICU", 6),
    ("Cardiology", "CARD", 10),
    ("Oncology", "ONC", 8),
    ("Pediatrics", "PED", 9),
    ("Obstetrics and Gynecology", "MAT", 7),
    ("Internal Medicine", "GMED", 14),
    ("Family Medicine", "GMED", 10),
    ("Neurology", "GMED", 4),
    ("Pulmonology", "GMED", 4),
    ("Nephrology", "GMED", 3),
)

CITIES: tuple[City, ...] = (
    City("Chicago", "IL", "606"), City("Evanston", "IL", "602"), City("Naperville", "IL", "605"),
    City("Joliet", "IL", "604"), City("Rockford", "IL", "611"), City("Peoria", "IL", "616"),
    City("Springfield", "IL", "627"), City("Champaign", "IL", "618"),
    City("Milwaukee", "WI", "532"), City("Madison", "WI", "537"), City("Green Bay", "WI", "543"),
    City("Kenosha", "WI", "531"), City("Racine", "WI", "534"), City("Appleton", "WI", "549"),
    City("Minneapolis", "MN", "554"), City("Saint Paul", "MN", "551"),
    City("Rochester", "MN", "559"), City("Duluth", "MN", "558"),
    City("Bloomington", "MN", "554"),
    City("Des Moines", "IA", "503"), City("Cedar Rapids", "IA", "524"),
    City("Davenport", "IA", "528"), City("Sioux City", "IA", "511"),
    City("Iowa City", "IA", "522"),
    City("St. Louis", "MO", "631"), City("Kansas City", "MO", "641"),
    City("Springfield", "MO", "658"), City("Columbia", "MO", "652"),
    City("Independence", "MO", "640"),
    City("Indianapolis", "IN", "462"), City("Fort Wayne", "IN", "468"),
    City("Evansville", "IN", "477"), City("South Bend", "IN", "466"),
    City("Bloomington", "IN", "474"),
    City("Columbus", "OH", "432"), City("Cleveland", "OH", "441"),
    City("Cincinnati", "OH", "452"), City("Toledo", "OH", "436"), City("Dayton", "OH", "454"),
    City("Akron", "OH", "443"),
)

FEMALE_FIRST_NAMES: tuple[str, ...] = (
    "Olivia", "Emma", "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn",
    "Abigail", "Emily", "Ella", "Grace", "Chloe", "Nora", "Hannah", "Lily", "Zoe", "Aaliyah",
    "Maria", "Linda", "Patricia", "Susan", "Karen", "Nancy", "Margaret",
)
MALE_FIRST_NAMES: tuple[str, ...] = (
    "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry",
    "Theodore", "Jack", "Levi", "Alexander", "Mateo", "Daniel", "Michael", "Samuel", "David",
    "Joseph", "Carlos", "Robert", "John", "Thomas", "Charles", "Anthony", "Kevin",
)
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Kowalski", "Schmidt",
    "Olson", "Larson", "O'Brien", "Novak",
)

# gender code -> spellings used for the non-canonical share (all map to the canonical value
# after trim + lower, see the gender_map seed).
GENDER_SPELLINGS: dict[str, tuple[str, ...]] = {
    "female": ("F", "f", "Female", "FEMALE", " female", "F "),
    "male": ("M", "m", "Male", "MALE", " Male ", "male "),
}
_GENDERS = ("female", "male")
assert len(FEMALE_FIRST_NAMES) == len(MALE_FIRST_NAMES)
assert all(len(spellings) == 6 for spellings in GENDER_SPELLINGS.values())
# gender_form codes stored per patient
_FORM_VALUE, _FORM_NULL, _FORM_ABSENT = 0, 1, 2
_FORMS = ("value", "null", "absent")

_DOB_REFERENCE = date(2023, 12, 31).toordinal()  # everyone is born before any treatment
_MRN_MULTIPLIER = 48_271  # coprime with 10**8: the MRN is a bijection of the patient index
_NPI_MULTIPLIER = 7_919  # coprime with 10**8: same for providers


def patient_count_for(treatments: int) -> int:
    """Number of patients in the population generated for ``treatments`` treatments."""
    return max(50, treatments // 4)


def provider_count_for(treatments: int) -> int:
    """Number of providers in the population generated for ``treatments`` treatments."""
    return max(40, treatments // 400)


def _npi(body: str) -> str:
    """Append the NPI check digit (Luhn over '80840' + the 9 leading digits)."""
    digits = [int(c) for c in "80840" + body]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return body + str((10 - total % 10) % 10)


def _instant_in_window(rng: random.Random) -> datetime:
    """A midnight (UTC) on a day strictly inside the change window."""
    days = (CHANGE_WINDOW_END - CHANGE_WINDOW_START).days
    return CHANGE_WINDOW_START + timedelta(days=rng.randint(7, days - 7))


class Population:
    """Hospitals, departments, providers and patients derived from ``(seed, treatments)``."""

    def __init__(self, seed: int, treatments: int) -> None:
        self.seed = seed
        self.treatments = treatments
        self.hospitals: tuple[Hospital, ...] = HOSPITALS
        self._hospital_by_id = {hospital.hospital_id: hospital for hospital in HOSPITALS}
        self.departments: tuple[Department, ...] = self._build_departments()
        self.providers: tuple[Provider, ...] = self._build_providers()
        self._build_patients()

    # ----------------------------------------------------------------------------- hospitals
    def hospital(self, hospital_id: str) -> Hospital:
        return self._hospital_by_id[hospital_id]

    def _build_departments(self) -> tuple[Department, ...]:
        rng = random.Random(f"departments:{self.seed}")
        departments = []
        for hospital in HOSPITALS:
            for code, name, (beds_lo, beds_hi), (staff_lo, staff_hi) in DEPARTMENTS:
                departments.append(
                    Department(
                        department_id=f"{hospital.hospital_id}-{code}",
                        hospital_id=hospital.hospital_id,
                        code=code,
                        name=name,
                        bed_capacity=rng.randint(beds_lo, beds_hi),
                        staff_count=rng.randint(staff_lo, staff_hi),
                    )
                )
        return tuple(departments)

    # ----------------------------------------------------------------------------- providers
    def _build_providers(self) -> tuple[Provider, ...]:
        rng = random.Random(f"providers:{self.seed}")
        count = provider_count_for(self.treatments)
        offset = rng.randrange(10**8)
        weights = [weight for _, _, weight in SPECIALTIES]
        changing = set(rng.sample(range(count), max(1, round(count * PROVIDER_CHANGE_RATE))))
        providers = []
        for index in range(count):
            # Round robin over the hospitals so every hospital has providers.
            hospital = HOSPITALS[index % len(HOSPITALS)]
            specialty, department_code, _ = rng.choices(SPECIALTIES, weights)[0]
            first = rng.choice(FEMALE_FIRST_NAMES if rng.random() < 0.5 else MALE_FIRST_NAMES)
            name = f"Dr. {first} {rng.choice(LAST_NAMES)}"
            body = f"{rng.choice('12')}{(index * _NPI_MULTIPLIER + offset) % 10**8:08d}"
            changes_at = new = None
            if index in changing:
                changes_at = _instant_in_window(rng)
                new = rng.choice([h for h in HOSPITALS if h is not hospital])
            providers.append(
                Provider(
                    index=index,
                    provider_id=_npi(body),
                    name=name,
                    specialty=specialty,
                    department_code=department_code,
                    hospital_id=hospital.hospital_id,
                    city=hospital.city,
                    state=hospital.state,
                    changes_at=changes_at,
                    new_hospital_id=new.hospital_id if new else None,
                    new_city=new.city if new else None,
                    new_state=new.state if new else None,
                )
            )
        return tuple(providers)

    def providers_of(self, hospital_id: str) -> tuple[Provider, ...]:
        """Providers whose home hospital (before any change) is ``hospital_id``."""
        return tuple(p for p in self.providers if p.hospital_id == hospital_id)

    # ------------------------------------------------------------------------------ patients
    @property
    def patient_count(self) -> int:
        return len(self._first)

    def _build_patients(self) -> None:
        rng = random.Random(f"patients:{self.seed}")
        count = patient_count_for(self.treatments)
        self._mrn_offset = rng.randrange(10**8)
        n_first = len(FEMALE_FIRST_NAMES)
        n_last = len(LAST_NAMES)
        n_cities = len(CITIES)
        gender_variant = GENDER_VARIANT_RATE
        gender_missing = GENDER_MISSING_RATE
        first = array("B")
        last = array("B")
        gender = array("B")  # 0 female, 1 male
        form = array("B")  # _FORM_*
        spelling = array("b")  # -1 canonical, else index into GENDER_SPELLINGS[gender]
        dob = array("i")  # ordinal
        city = array("B")
        zip_suffix = array("B")
        rand = rng.random
        for _ in range(count):
            g = 0 if rand() < 0.52 else 1
            gender.append(g)
            first.append(int(rand() * n_first))
            last.append(int(rand() * n_last))
            u = rand()
            if u < gender_missing:
                form.append(_FORM_NULL if u < gender_missing / 2 else _FORM_ABSENT)
                spelling.append(-1)
            else:
                form.append(_FORM_VALUE)
                spelling.append(int(rand() * 6) if rand() < gender_variant else -1)
            # Ages 0-99, most of them adults.
            age_days = int(36_500 * rand() ** 0.85)
            dob.append(_DOB_REFERENCE - age_days)
            city.append(int(rand() * n_cities))
            zip_suffix.append(int(rand() * 100))
        self._first, self._last, self._gender, self._form = first, last, gender, form
        self._spelling, self._dob, self._city, self._zip = spelling, dob, city, zip_suffix
        # index -> (moves_at, new city index, new zip suffix); a few percent of the patients.
        self._moves: dict[int, tuple[datetime, int, int]] = {}
        for index in sorted(rng.sample(range(count), max(1, round(count * PATIENT_MOVE_RATE)))):
            old = CITIES[city[index]]
            same_state = [n for n, c in enumerate(CITIES) if c.state == old.state and c is not old]
            other = [n for n, c in enumerate(CITIES) if c.state != old.state]
            new_city = rng.choice(same_state if rng.random() < 0.6 else other)
            self._moves[index] = (_instant_in_window(rng), new_city, rng.randrange(100))

    def patient_id(self, index: int) -> str:
        return f"MRN{(index * _MRN_MULTIPLIER + self._mrn_offset) % 10**8:08d}"

    def patient(self, index: int) -> Patient:
        """The patient at ``index`` (0 <= index < patient_count)."""
        if not 0 <= index < self.patient_count:
            raise IndexError(f"patient index {index} out of range")
        g = _GENDERS[self._gender[index]]
        form = _FORMS[self._form[index]]
        spelled = self._spelling[index]
        raw = None if form != "value" else (g if spelled < 0 else GENDER_SPELLINGS[g][spelled])
        names = FEMALE_FIRST_NAMES if g == "female" else MALE_FIRST_NAMES
        home = CITIES[self._city[index]]
        move = self._moves.get(index)
        moved = CITIES[move[1]] if move else None
        return Patient(
            index=index,
            patient_id=self.patient_id(index),
            first_name=names[self._first[index]],
            last_name=LAST_NAMES[self._last[index]],
            gender=g,
            gender_raw=raw,
            gender_form=form,
            date_of_birth=date.fromordinal(self._dob[index]),
            city=home.city,
            state=home.state,
            zip=f"{home.zip_prefix}{self._zip[index]:02d}",
            moves_at=move[0] if move else None,
            new_city=moved.city if moved else None,
            new_state=moved.state if moved else None,
            new_zip=f"{moved.zip_prefix}{move[2]:02d}" if move and moved else None,
        )

    def patients(self) -> Iterator[Patient]:
        """Every patient, in index order (materialised one at a time)."""
        for index in range(self.patient_count):
            yield self.patient(index)

    def moved_patients(self) -> tuple[int, ...]:
        """Indexes of the patients who move inside the change window."""
        return tuple(self._moves)

    def patient_columns(self) -> PatientColumns:
        """The column arrays behind ``patient()``, for generators that need speed."""
        return PatientColumns(
            first=self._first,
            last=self._last,
            gender=self._gender,
            form=self._form,
            spelling=self._spelling,
            dob=self._dob,
            city=self._city,
            zip=self._zip,
            moves=self._moves,
            mrn_multiplier=_MRN_MULTIPLIER,
            mrn_offset=self._mrn_offset,
        )


def build_population(seed: int, treatments: int) -> Population:
    """The population for a data set of ``treatments`` first-cycle treatments."""
    return Population(seed, treatments)


def _aware(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("as-of instants must be timezone aware")
    return ts


def provider_as_of(provider: Provider, ts: datetime) -> ProviderVersion:
    """The provider's attributes valid at ``ts`` (timezone aware)."""
    moved = provider.changes_at is not None and _aware(ts) >= provider.changes_at
    return ProviderVersion(
        provider_id=provider.provider_id,
        name=provider.name,
        specialty=provider.specialty,
        hospital_id=(provider.new_hospital_id if moved else provider.hospital_id) or "",
        city=(provider.new_city if moved else provider.city) or "",
        state=(provider.new_state if moved else provider.state) or "",
    )


def patient_as_of(patient: Patient, ts: datetime) -> PatientVersion:
    """The patient's attributes valid at ``ts`` (timezone aware)."""
    moved = patient.moves_at is not None and _aware(ts) >= patient.moves_at
    return PatientVersion(
        patient_id=patient.patient_id,
        first_name=patient.first_name,
        last_name=patient.last_name,
        gender=patient.gender,
        gender_raw=patient.gender_raw,
        gender_form=patient.gender_form,
        date_of_birth=patient.date_of_birth,
        city=(patient.new_city if moved else patient.city) or "",
        state=(patient.new_state if moved else patient.state) or "",
        zip=(patient.new_zip if moved else patient.zip) or "",
    )
