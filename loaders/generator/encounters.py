"""Encounter simulation behind the synthetic ADT feed (see ``admissions`` for the file format).

``simulate`` runs one discrete-event simulation of the seven hospitals over the window and
returns the ADT events in time order. Times are whole minutes since the window start (UTC).

* Demand. Every ward department (all but ED) has a target occupancy drawn from
  ``TARGET_OCCUPANCY``; its admission rate is ``target * beds / mean length of stay`` per day,
  split into emergency admissions (ARRIVE in ED, ADMIT after an ED wait) and scheduled ones
  (``WARDS[code].scheduled``: ARRIVE at the ward on weekdays 06:00-10:00 Chicago time, ADMIT
  15-90 min later). ED visits that end without admission come at ``ED_VISITS_PER_BED`` visits
  per ED bed and day, and leave after a log-normal stay (median 4 h, 30 min to 24 h).
  Unscheduled arrivals follow ``HOURLY`` (Chicago hour of day) and the flu season::

      season(t) = 1 + FLU_AMPLITUDE * exp(-0.5 * (d / FLU_WIDTH_DAYS) ** 2)

  where d is the distance in days from t to the nearest ``FLU_PEAK`` (January 5, 00:00 UTC).
* Elective booking. Scheduled arrivals are offered at ``ELECTIVE_OVERBOOKING`` times their
  rate and happen with a probability falling linearly from 1 to 0 as the ward's occupancy goes
  from 60% to 90% (``ELECTIVE_BOOKING``), which keeps most wards between 55% and 95%.
* Beds. A ward admits while it has fewer patients than beds (its capacity follows the
  department extracts); otherwise the patient boards in ED and is admitted 10-45 min after a
  bed frees. The ED wait before an ADMIT is log-normal (median 2.5 h, 20 min to 12 h).
* Stays. Length of stay is log-normal per ward (``WARDS``: median days, sigma), 4 h to 45
  days; stays of a day or more end between 09:00 and 18:00 Chicago time. 0-2 transfers to
  another ward of the same hospital happen inside the stay (``WARDS[code].transfers``); a
  transfer into a full ward does not happen. Children move between Pediatrics and ICU or
  Surgery, maternity patients between Maternity and Surgery, ICU or General Medicine.
  Events after the window end are not emitted, so those encounters stay in house.
* Patients. Pediatrics admits only patients under 18 for the whole window, Maternity only
  women aged 15-50 for the whole window; the other wards admit adults (the older of two draws
  for cardiology, oncology, ICU and general medicine), ED visits anyone. A patient already in
  house is avoided (up to ``PATIENT_TRIES`` draws), so small populations may overlap.
* The wards start empty: occupancy builds up over the first days of the window.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from loaders.generator.population import HOSPITALS, Population

__all__ = [
    "ADMIT",
    "ARRIVE",
    "CHICAGO",
    "DISCHARGE",
    "ELECTIVE_BOOKING",
    "ELECTIVE_OVERBOOKING",
    "ED_VISITS_PER_BED",
    "FLU_AMPLITUDE",
    "FLU_PEAK",
    "FLU_WIDTH_DAYS",
    "HOURLY",
    "PATIENT_TRIES",
    "TARGET_OCCUPANCY",
    "TRANSFER",
    "WARDS",
    "CapacityChange",
    "Clock",
    "Encounter",
    "Event",
    "Simulation",
    "Ward",
    "age_on",
    "simulate",
]

CHICAGO = ZoneInfo("America/Chicago")


@dataclass(frozen=True, slots=True)
class Ward:
    """How a ward department's stays look: log-normal LOS in days, scheduled share, transfers."""

    median_days: float
    sigma: float
    scheduled: float  # share of admissions that arrive scheduled at the ward
    transfers: tuple[float, float]  # probability of exactly 1 and exactly 2 transfers
    to: tuple[tuple[str, float], ...]  # transfer destinations for adults, with weights


WARDS: dict[str, Ward] = {
    "SURG": Ward(3.0, 0.7, 0.50, (0.20, 0.05), (("ICU", 0.4), ("GMED", 0.6))),
    "ICU": Ward(2.5, 0.6, 0.00, (0.55, 0.10), (("GMED", 0.4), ("CARD", 0.3), ("SURG", 0.3))),
    "CARD": Ward(3.0, 0.6, 0.20, (0.15, 0.03), (("ICU", 0.5), ("GMED", 0.3), ("SURG", 0.2))),
    "ONC": Ward(4.5, 0.7, 0.50, (0.08, 0.02), (("ICU", 0.4), ("GMED", 0.6))),
    "PED": Ward(2.0, 0.7, 0.10, (0.08, 0.00), (("ICU", 0.6), ("SURG", 0.4))),
    "MAT": Ward(2.0, 0.35, 0.40, (0.05, 0.00), (("SURG", 0.5), ("ICU", 0.5))),
    "GMED": Ward(3.5, 0.7, 0.05, (0.10, 0.02), (("ICU", 0.4), ("CARD", 0.3), ("ONC", 0.3))),
}
TARGET_OCCUPANCY = (0.55, 0.68)
"""Range of the per-ward occupancy targets outside the flu season (which adds up to 25%)."""
ED_VISITS_PER_BED = 2.0
FLU_AMPLITUDE = 0.25
FLU_WIDTH_DAYS = 18.0
FLU_PEAK = (1, 5)  # month, day
PATIENT_TRIES = 8
ELECTIVE_OVERBOOKING = 2.0
ELECTIVE_BOOKING = (0.60, 0.90)
"""Scheduled arrivals are offered at ELECTIVE_OVERBOOKING times their share of the rate and
happen with probability 1 below the first occupancy, 0 above the second, linear between."""
_HOURLY_RAW = (0.55, 0.45, 0.40, 0.35, 0.35, 0.40, 0.55, 0.75, 0.95, 1.10, 1.20, 1.30,
               1.35, 1.35, 1.30, 1.30, 1.30, 1.35, 1.35, 1.30, 1.20, 1.05, 0.90, 0.70)
HOURLY: tuple[float, ...] = tuple(24 * h / sum(_HOURLY_RAW) for h in _HOURLY_RAW)
"""Relative arrival rate by Chicago hour of day (mean 1)."""

_ED_STAY = (240.0, 0.5, 30, 1_440)  # median minutes, sigma, min, max
_ED_WAIT = (150.0, 0.6, 20, 720)
_MIN_STAY, _MAX_STAY = 240, 45 * 1_440
_DAY = 1_440
# cumulative shares of triage levels 1-5 of emergency admissions and of ED-only visits
_TRIAGE_ADMITTED = (0.08, 0.40, 0.85, 0.97, 1.0)
_TRIAGE_ED = (0.01, 0.10, 0.50, 0.85, 1.0)

# heap actions, in the order they run at the same minute
_CAPACITY, _DISCHARGE, _TRANSFER, _ADMIT, _ARRIVE, _CENSUS = range(6)

ARRIVE, ADMIT, TRANSFER, DISCHARGE = "ARRIVE", "ADMIT", "TRANSFER", "DISCHARGE"


def age_on(dob: date, day: date) -> int:
    """Whole years from ``dob`` to ``day``."""
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


class Clock:
    """Calendar facts of a minute since the window start, cached per UTC hour."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._epoch = int(start.timestamp())
        self._chicago: dict[int, tuple[date, int, int]] = {}
        self._season: dict[int, float] = {}

    def instant(self, minute: int) -> datetime:
        return self.start + timedelta(minutes=minute)

    def chicago(self, minute: int) -> tuple[date, int, int]:
        """(Chicago date, Chicago hour, weekday) of ``minute``."""
        hour = minute // 60
        facts = self._chicago.get(hour)
        if facts is None:
            local = datetime.fromtimestamp(self._epoch + hour * 3_600, CHICAGO)
            facts = (local.date(), local.hour, local.weekday())
            self._chicago[hour] = facts
        return facts

    def chicago_midnight_before(self, minute: int) -> int:
        """The minute of the Chicago midnight that starts the local day of ``minute``."""
        local = datetime.fromtimestamp(self._epoch + minute * 60, CHICAGO)
        midnight = datetime.combine(local.date(), datetime.min.time(), CHICAGO)
        return (int(midnight.timestamp()) - self._epoch) // 60

    def season(self, minute: int) -> float:
        """The flu-season factor at ``minute`` (see the module docstring)."""
        hour = minute // 60
        factor = self._season.get(hour)
        if factor is None:
            at = self.instant(hour * 60)
            month, day = FLU_PEAK
            distance = min(
                abs((at - datetime(year, month, day, tzinfo=UTC)).total_seconds()) / 86_400
                for year in (at.year - 1, at.year, at.year + 1)
            )
            factor = 1 + FLU_AMPLITUDE * math.exp(-0.5 * (distance / FLU_WIDTH_DAYS) ** 2)
            self._season[hour] = factor
        return factor


@dataclass(frozen=True, slots=True)
class CapacityChange:
    minute: int
    department: int  # index in Population.departments
    bed_capacity: int


@dataclass(slots=True, eq=False)
class Encounter:
    number: int
    hospital: int  # index in HOSPITALS
    patient: int  # patient index in the population
    kind: str  # 'ed' (ED visit only), 'emergency' (ED, then a ward), 'scheduled'
    ward: int  # department index of the first ward (the ED for kind 'ed')
    group: str  # 'any', 'adult', 'child' or 'maternity'
    insurance_type: str
    arrival_mode: str
    triage_level: int
    department: int = -1  # where the patient is now
    bed: int = 0
    admitted_at: int | None = None  # minute of the ADMIT
    discharge_at: int = 0  # planned
    transfers: list[int] = field(default_factory=list)  # planned minutes, next first


@dataclass(frozen=True, slots=True)
class Event:
    minute: int
    event_type: str
    encounter: Encounter
    department: int  # index in Population.departments
    bed: int


@dataclass(slots=True)
class _WardState:
    capacity: int
    occupied: set[int] = field(default_factory=set)  # bed numbers taken (incl. reserved)
    pending: int = 0  # beds reserved for a patient whose ADMIT comes a few minutes later
    queue: deque[Encounter] = field(default_factory=deque)


@dataclass
class Simulation:
    """What ``simulate`` returns: the events in time order, and the midnight census."""

    events: list[Event]
    encounters: int
    targets: dict[str, float]  # department_id -> target occupancy
    census: list[tuple[date, str, int, int]]  # (Chicago date, department_id, patients, beds)


def _lognormal(rng: random.Random, median: float, sigma: float, low: float, high: float) -> int:
    return int(min(max(rng.lognormvariate(math.log(median), sigma), low), high))


class _Simulator:
    def __init__(self, population: Population, seed: int, start: datetime, days: int,
                 changes: list[CapacityChange]) -> None:
        self.population = population
        self.end = days * _DAY
        self.clock = Clock(start)
        self.rng = random.Random(f"adt-encounters:{seed}:{start.date().isoformat()}:{days}")
        departments = population.departments
        self.codes = [department.code for department in departments]
        self.index = {(d.hospital_id, d.code): n for n, d in enumerate(departments)}
        hospitals = {hospital.hospital_id: n for n, hospital in enumerate(HOSPITALS)}
        self.hospital_of = [hospitals[department.hospital_id] for department in departments]
        self.state = [_WardState(d.bed_capacity) for d in departments]
        self.heap: list[tuple[int, int, int, object]] = []
        self.sequence = 0
        self.events: list[Event] = []
        self.census: list[tuple[date, str, int, int]] = []
        self.encounters = 0
        self.busy: set[int] = set()
        self._build_pools(start, days)
        for change in changes:
            self._push(change.minute, _CAPACITY, change)
        self.targets = {
            department.department_id: round(self.rng.uniform(*TARGET_OCCUPANCY), 3)
            for department in departments
            if department.code != "ED"
        }

    # ---------------------------------------------------------------------------- set-up
    def _build_pools(self, start: datetime, days: int) -> None:
        columns = self.population.patient_columns()
        first = (start.astimezone(CHICAGO)).date()
        last = (start + timedelta(days=days, minutes=-1)).astimezone(CHICAGO).date()
        self.dob = [date.fromordinal(ordinal) for ordinal in columns.dob]
        pools: dict[str, list[int]] = {"any": [], "adult": [], "child": [], "maternity": []}
        for index, dob in enumerate(self.dob):
            pools["any"].append(index)
            if age_on(dob, last) < 18:
                pools["child"].append(index)
            if age_on(dob, first) >= 18:
                pools["adult"].append(index)
            if columns.gender[index] == 0 and age_on(dob, first) >= 15 and age_on(dob, last) <= 50:
                pools["maternity"].append(index)
        self.pools = pools

    def _push(self, minute: int, action: int, payload: object) -> None:
        self.sequence += 1
        heapq.heappush(self.heap, (minute, action, self.sequence, payload))

    def _arrivals(self, per_day: float, scheduled: bool) -> list[int]:
        """Minutes of a non-homogeneous Poisson stream (thinning) with ``per_day`` mean rate."""
        rng, clock, out = self.rng, self.clock, []
        if per_day <= 0:
            return out
        top = per_day / _DAY * (7 / 5 * 6 if scheduled else (1 + FLU_AMPLITUDE) * max(HOURLY))
        t = 0.0
        while True:
            t += rng.expovariate(top)
            if t >= self.end:
                return out
            minute = int(t)
            _, hour, weekday = clock.chicago(minute)
            if scheduled:
                rate = per_day / _DAY * 7 / 5 * 6 if weekday < 5 and 6 <= hour < 10 else 0.0
            else:
                rate = per_day / _DAY * HOURLY[hour] * clock.season(minute)
            if rng.random() * top < rate:
                out.append(minute)

    def _plan_arrivals(self) -> None:
        for n, department in enumerate(self.population.departments):
            beds = department.bed_capacity
            if department.code == "ED":
                for minute in self._arrivals(ED_VISITS_PER_BED * beds, scheduled=False):
                    self._push(minute, _ARRIVE, ("ed", n))
                continue
            ward = WARDS[department.code]
            mean_stay = ward.median_days * math.exp(ward.sigma**2 / 2)
            per_day = self.targets[department.department_id] * beds / mean_stay
            for minute in self._arrivals(per_day * (1 - ward.scheduled), scheduled=False):
                self._push(minute, _ARRIVE, ("emergency", n))
            booked = per_day * ward.scheduled * ELECTIVE_OVERBOOKING
            for minute in self._arrivals(booked, scheduled=True):
                self._push(minute, _ARRIVE, ("scheduled", n))

    def _plan_census(self) -> None:
        clock = self.clock
        midnight = clock.chicago_midnight_before(clock.chicago_midnight_before(0) + _DAY + 120)
        while midnight <= self.end:
            self._push(midnight, _CENSUS, None)
            # the next local midnight (a DST change makes a day 23 or 25 hours long)
            midnight = clock.chicago_midnight_before(midnight + _DAY + 120)

    def _booking_chance(self, department: int) -> float:
        state = self.state[department]
        low, high = ELECTIVE_BOOKING
        occupancy = len(state.occupied) / state.capacity if state.capacity else 1.0
        return min(1.0, max(0.0, (high - occupancy) / (high - low)))

    # -------------------------------------------------------------------------- patients
    def _patient(self, group: str, older: bool) -> int | None:
        pool = self.pools[group]
        if not pool:
            return None
        rng, busy, dob = self.rng, self.busy, self.dob
        choice = pool[0]
        for _ in range(PATIENT_TRIES):
            choice = pool[int(rng.random() * len(pool))]
            if older:
                other = pool[int(rng.random() * len(pool))]
                if dob[other] < dob[choice] and other not in busy:
                    choice = other
            if choice not in busy:
                break
        return choice

    def _attributes(self, kind: str, patient: int) -> tuple[str, str, int]:
        rng = self.rng
        age = age_on(self.dob[patient], self.clock.start.date())
        u = rng.random()
        if age >= 65:
            insurance = "medicare" if u < 0.85 else "commercial" if u < 0.97 else "self_pay"
        elif age < 18:
            insurance = "medicaid" if u < 0.45 else "commercial" if u < 0.95 else "self_pay"
        else:
            insurance = ("commercial" if u < 0.60 else "medicaid" if u < 0.85
                         else "self_pay" if u < 0.95 else "medicare")
        if kind == "scheduled":
            return insurance, "scheduled", 5
        u = rng.random()
        ambulance = 0.40 if kind == "emergency" else 0.20
        mode = "ambulance" if u < ambulance else "transfer" if u < ambulance + 0.05 else "walk_in"
        bounds = _TRIAGE_ADMITTED if kind == "emergency" else _TRIAGE_ED
        u = rng.random()
        triage = next((level for level, bound in enumerate(bounds, start=1) if u < bound), 5)
        return insurance, mode, triage

    # ------------------------------------------------------------------------------ beds
    def _take_bed(self, department: int) -> int:
        """A free bed number of ``department``, or 0 when it is full."""
        state = self.state[department]
        if len(state.occupied) >= state.capacity:
            return 0
        for _ in range(20):
            bed = 1 + int(self.rng.random() * state.capacity)
            if bed not in state.occupied:
                break
        else:
            bed = next(n for n in range(1, state.capacity + 1) if n not in state.occupied)
        state.occupied.add(bed)
        return bed

    def _free_bed(self, department: int, bed: int, minute: int) -> None:
        state = self.state[department]
        state.occupied.discard(bed)
        self._admit_waiting(department, minute)

    def _admit_waiting(self, department: int, minute: int) -> None:
        state = self.state[department]
        while state.queue:
            bed = self._take_bed(department)
            if not bed:
                return
            encounter = state.queue.popleft()
            encounter.bed = bed
            state.pending += 1
            self._push(minute + self.rng.randint(10, 45), _ADMIT, (encounter, True))

    def _emit(self, minute: int, event_type: str, encounter: Encounter) -> None:
        self.events.append(Event(minute, event_type, encounter, encounter.department,
                                 encounter.bed))

    # --------------------------------------------------------------------------- actions
    def _arrive(self, minute: int, kind: str, department: int) -> None:
        code = self.codes[department]
        if kind == "scheduled" and self.rng.random() >= self._booking_chance(department):
            return
        group = ("any" if kind == "ed" else "child" if code == "PED"
                 else "maternity" if code == "MAT" else "adult")
        patient = self._patient(group, older=code in {"CARD", "ONC", "ICU", "GMED"})
        if patient is None:
            return
        hospital = self.hospital_of[department]
        insurance, mode, triage = self._attributes(kind, patient)
        self.encounters += 1
        encounter = Encounter(self.encounters, hospital, patient, kind, department, group,
                              insurance, mode, triage)
        self.busy.add(patient)
        rng = self.rng
        if kind == "scheduled":
            encounter.department = department
            encounter.bed = 0
            self._emit(minute, ARRIVE, encounter)
            self._push(minute + rng.randint(15, 90), _ADMIT, (encounter, False))
            return
        ed = self.index[(HOSPITALS[hospital].hospital_id, "ED")]
        encounter.department = ed
        encounter.bed = 1 + int(rng.random() * self.state[ed].capacity)
        self._emit(minute, ARRIVE, encounter)
        if kind == "ed":
            self._push(minute + _lognormal(rng, *_ED_STAY), _DISCHARGE, encounter)
        else:
            self._push(minute + _lognormal(rng, *_ED_WAIT), _ADMIT, (encounter, False))

    def _admit(self, minute: int, encounter: Encounter, reserved: bool) -> None:
        ward = encounter.ward
        state = self.state[ward]
        if reserved:
            state.pending -= 1
        else:
            bed = self._take_bed(ward) if not state.queue else 0
            if not bed:
                state.queue.append(encounter)
                return
            encounter.bed = bed
        encounter.department = ward
        encounter.admitted_at = minute
        self._emit(minute, ADMIT, encounter)
        self._plan_stay(minute, encounter)

    def _plan_stay(self, minute: int, encounter: Encounter) -> None:
        rng = self.rng
        ward = WARDS[self.codes[encounter.ward]]
        stay = _lognormal(rng, ward.median_days * _DAY, ward.sigma, _MIN_STAY, _MAX_STAY)
        discharge = minute + stay
        if stay >= _DAY:
            discharge = self.clock.chicago_midnight_before(discharge) + rng.randint(540, 1_080)
            discharge = max(discharge, minute + _MIN_STAY)
        u = rng.random()
        count = 1 if u < ward.transfers[0] else 2 if u < sum(ward.transfers) else 0
        times = sorted(rng.randint(minute + 60, discharge - 60) for _ in range(count))
        planned: list[int] = []
        for at in times:
            if at - (planned[-1] if planned else minute) >= 30 and discharge - at >= 30:
                planned.append(at)
        encounter.discharge_at = discharge
        encounter.transfers = planned
        self._next_step(encounter)

    def _next_step(self, encounter: Encounter) -> None:
        if encounter.transfers:
            self._push(encounter.transfers.pop(0), _TRANSFER, encounter)
        else:
            self._push(encounter.discharge_at, _DISCHARGE, encounter)

    def _destination(self, encounter: Encounter) -> str:
        code = self.codes[encounter.department]
        rng = self.rng
        if encounter.group == "child":
            return "PED" if code != "PED" else ("ICU" if rng.random() < 0.6 else "SURG")
        if encounter.group == "maternity" and code != "MAT":
            return "MAT" if code == "GMED" or rng.random() < 0.7 else "GMED"
        options = WARDS[code].to
        return rng.choices([name for name, _ in options], [weight for _, weight in options])[0]

    def _transfer(self, minute: int, encounter: Encounter) -> None:
        code = self._destination(encounter)
        target = self.index[(HOSPITALS[encounter.hospital].hospital_id, code)]
        bed = self._take_bed(target)
        if bed:
            source, old_bed = encounter.department, encounter.bed
            encounter.department, encounter.bed = target, bed
            self._emit(minute, TRANSFER, encounter)
            self._free_bed(source, old_bed, minute)
        self._next_step(encounter)

    def _discharge(self, minute: int, encounter: Encounter) -> None:
        self._emit(minute, DISCHARGE, encounter)
        self.busy.discard(encounter.patient)
        if encounter.admitted_at is not None:
            self._free_bed(encounter.department, encounter.bed, minute)

    def _capacity(self, minute: int, change: CapacityChange) -> None:
        self.state[change.department].capacity = change.bed_capacity
        if self.codes[change.department] != "ED":
            self._admit_waiting(change.department, minute)

    def _record_census(self, minute: int) -> None:
        day = self.clock.chicago(minute - 1)[0]
        for n, department in enumerate(self.population.departments):
            if department.code == "ED":
                continue
            state = self.state[n]
            self.census.append((day, department.department_id,
                                len(state.occupied) - state.pending, state.capacity))

    # ------------------------------------------------------------------------------- run
    def run(self) -> Simulation:
        self._plan_arrivals()
        self._plan_census()
        heap = self.heap
        while heap:
            minute, action, _, payload = heapq.heappop(heap)
            if action == _CENSUS:
                self._record_census(minute)
                continue
            if minute >= self.end:
                continue
            if action == _ARRIVE:
                kind, department = payload  # type: ignore[misc]
                self._arrive(minute, kind, department)
            elif action == _ADMIT:
                encounter, reserved = payload  # type: ignore[misc]
                self._admit(minute, encounter, reserved)
            elif action == _TRANSFER:
                self._transfer(minute, payload)  # type: ignore[arg-type]
            elif action == _DISCHARGE:
                self._discharge(minute, payload)  # type: ignore[arg-type]
            else:
                self._capacity(minute, payload)  # type: ignore[arg-type]
        return Simulation(self.events, self.encounters, self.targets, self.census)


def simulate(population: Population, *, seed: int, start: datetime, days: int,
             changes: list[CapacityChange]) -> Simulation:
    """The encounters of ``days`` days from ``start`` (UTC midnight), events in time order.

    ``changes`` are the bed-capacity changes of the department extracts, in effect from their
    minute on.
    """
    return _Simulator(population, seed, start, days, changes).run()
