{#-
    Indexes for BI: the primary key (encounter_id, from the contract) serves single look-ups;
    patient_key serves patient-journey queries (all encounters of a patient version joined from
    dim_patient); (admission_department_id, admission_date_key) serves the department
    dashboards that filter admissions by department and date range.
-#}
{{
    config(
        indexes=[
            {'columns': ['patient_key']},
            {'columns': ['admission_department_id', 'admission_date_key']},
        ],
    )
}}

with

encounters as (
    select * from {{ ref('int_encounters_summarised') }}
),

patients as (
    select * from {{ ref('dim_patient') }}
),

departments as (
    select * from {{ ref('dim_department') }}
),

age_bands as (
    select * from {{ ref('age_bands') }}
),

encounters_joined_to_versions as (
    select
        encounters.encounter_id,
        encounters.hospital_id,
        encounters.patient_id,
        patients.patient_key,
        encounters.encounter_start_at,
        encounters.arrived_at,
        encounters.admitted_at,
        encounters.discharged_at,
        encounters.wait_minutes,
        encounters.length_of_stay_hours,
        encounters.admission_department_id,
        admission_departments.department_key as admission_department_key,
        encounters.discharge_department_id,
        discharge_departments.department_key as discharge_department_key,
        encounters.transfer_count,
        encounters.age_at_arrival,
        coalesce(age_bands.age_band, 'unknown') as age_band,
        encounters.gender,
        encounters.is_admitted,
        encounters.is_in_house,
        {{ to_date_key(to_reporting_date('encounters.arrived_at')) }} as arrival_date_key,
        {{ to_date_key(to_reporting_date('encounters.admitted_at')) }} as admission_date_key,
        {{ to_date_key(to_reporting_date('encounters.discharged_at')) }} as discharge_date_key
    from encounters
    left join patients
        on
            encounters.patient_id = patients.patient_id
            and encounters.encounter_start_at >= patients.valid_from
            and encounters.encounter_start_at < patients.valid_to
    left join departments as admission_departments
        on
            encounters.admission_department_id = admission_departments.department_id
            and encounters.admitted_at >= admission_departments.valid_from
            and encounters.admitted_at < admission_departments.valid_to
    left join departments as discharge_departments
        on
            encounters.discharge_department_id = discharge_departments.department_id
            and encounters.discharged_at >= discharge_departments.valid_from
            and encounters.discharged_at < discharge_departments.valid_to
    left join age_bands
        on encounters.age_at_arrival between age_bands.min_age and age_bands.max_age
)

select * from encounters_joined_to_versions
