{#- BI indexes: diagnoses of a condition (ICD-10 code or prefix: text_pattern_ops serves LIKE 'E11%'),
    and one patient's diagnoses. -#}
{{
    config(
        indexes=[
            {'columns': ['icd10_code text_pattern_ops']},
            {'columns': ['patient_id']},
        ],
    )
}}

with

diagnoses as (
    select * from {{ ref('stg_ehr__diagnoses') }}
),

visits as (
    select * from {{ ref('stg_ehr__visits') }}
),

accepted_visits as (
    select
        visit_id,
        visit_date
    from visits
    where reject_rule is null
),

diagnoses_joined_to_visits as (
    select
        diagnoses.visit_id,
        diagnoses.diagnosis_number,
        diagnoses.patient_id,
        accepted_visits.visit_date,
        diagnoses.icd10_code,
        diagnoses.description,
        diagnoses.is_primary
    from diagnoses
    inner join accepted_visits
        on diagnoses.visit_id = accepted_visits.visit_id
    where diagnoses.reject_rule is null
)

select * from diagnoses_joined_to_visits
