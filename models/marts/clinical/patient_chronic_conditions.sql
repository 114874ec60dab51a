{#- Every patient with an accepted diagnosis (fct_diagnoses, dated by the visit) or an accepted
    claim (its primary_dx, dated by the service date) times every chronic condition of the seed
    chronic_condition_codes. A diagnosis matches a condition when its code without the dot
    starts with one of the condition's ICD-10 prefixes. -#}
with

diagnoses as (
    select * from {{ ref('fct_diagnoses') }}
),

claims as (
    select * from {{ ref('fct_claims') }}
),

chronic_condition_codes as (
    select * from {{ ref('chronic_condition_codes') }}
),

diagnoses_from_visits_and_claims as (
    select
        'visit:' || visit_id || ':' || diagnosis_number as diagnosis_id,
        patient_id,
        icd10_code,
        visit_date as diagnosed_on
    from diagnoses
    union all
    select
        'claim:' || claim_id as diagnosis_id,
        patient_id,
        primary_dx as icd10_code,
        service_date as diagnosed_on
    from claims
),

patients as (
    select distinct patient_id
    from diagnoses_from_visits_and_claims
),

conditions as (
    select distinct
        condition_code,
        condition_name
    from chronic_condition_codes
),

diagnoses_matched_to_conditions as (
    select
        diagnoses_from_visits_and_claims.patient_id,
        chronic_condition_codes.condition_code,
        count(distinct diagnoses_from_visits_and_claims.diagnosis_id) as diagnoses,
        min(diagnoses_from_visits_and_claims.diagnosed_on) as first_diagnosed_on
    from diagnoses_from_visits_and_claims
    inner join chronic_condition_codes
        on starts_with(
            replace(diagnoses_from_visits_and_claims.icd10_code, '.', ''),
            chronic_condition_codes.icd10_prefix
        )
    group by diagnoses_from_visits_and_claims.patient_id, chronic_condition_codes.condition_code
),

patient_conditions as (
    select
        patients.patient_id,
        conditions.condition_code,
        conditions.condition_name,
        diagnoses_matched_to_conditions.first_diagnosed_on,
        diagnoses_matched_to_conditions.patient_id is not null as has_condition,
        coalesce(diagnoses_matched_to_conditions.diagnoses, 0) as diagnoses
    from patients
    cross join conditions
    left join diagnoses_matched_to_conditions
        on
            patients.patient_id = diagnoses_matched_to_conditions.patient_id
            and conditions.condition_code = diagnoses_matched_to_conditions.condition_code
),

patient_conditions_ordered as (
    select
        patient_id,
        condition_code,
        condition_name,
        has_condition,
        first_diagnosed_on,
        diagnoses
    from patient_conditions
)

select * from patient_conditions_ordered
