{#- BI indexes: visits by hospital and visit date (hospital_id is also the row-level security
    predicate of every hospital role), and one patient's visits. -#}
{{
    config(
        indexes=[
            {'columns': ['hospital_id', 'visit_date']},
            {'columns': ['patient_id']},
        ],
    )
}}

with

visits as (
    select * from {{ ref('stg_ehr__visits') }}
),

diagnoses as (
    select * from {{ ref('stg_ehr__diagnoses') }}
),

medication_orders as (
    select * from {{ ref('stg_ehr__medication_orders') }}
),

providers as (
    select * from {{ ref('dim_provider') }}
),

diagnoses_counted_per_visit as (
    select
        visit_id,
        count(*) as diagnoses,
        (array_agg(icd10_code order by diagnosis_number) filter (where is_primary))[1] as primary_icd10_code
    from diagnoses
    where reject_rule is null
    group by visit_id
),

medication_orders_counted_per_visit as (
    select
        visit_id,
        count(*) as medication_orders
    from medication_orders
    where reject_rule is null
    group by visit_id
),

visits_joined_to_providers as (
    select
        visits.visit_id,
        visits.patient_id,
        visits.provider_id,
        providers.hospital_id,
        visits.visit_date,
        visits.discharge_date,
        visits.visit_type,
        diagnoses_counted_per_visit.primary_icd10_code,
        coalesce(diagnoses_counted_per_visit.diagnoses, 0) as diagnoses,
        coalesce(medication_orders_counted_per_visit.medication_orders, 0) as medication_orders
    from visits
    left join providers
        on
            visits.provider_id = providers.provider_id
            and {{ reporting_day_start('visits.visit_date') }} >= providers.valid_from
            and {{ reporting_day_start('visits.visit_date') }} < providers.valid_to
    left join diagnoses_counted_per_visit
        on visits.visit_id = diagnoses_counted_per_visit.visit_id
    left join medication_orders_counted_per_visit
        on visits.visit_id = medication_orders_counted_per_visit.visit_id
    where visits.reject_rule is null
),

facts as (
    select
        visit_id,
        patient_id,
        provider_id,
        hospital_id,
        visit_date,
        discharge_date,
        visit_type,
        diagnoses,
        primary_icd10_code,
        medication_orders
    from visits_joined_to_providers
)

select * from facts
